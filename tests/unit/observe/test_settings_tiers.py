"""The ``observe:`` and ``logging:`` config sections, and tiers from catalog prices."""

from __future__ import annotations

from typing import Any

import pytest

from pointsman.config import ConfigError, ServerConfig, parse_config
from pointsman.errors import AuthenticationError, PermissionDeniedError
from pointsman.governance.accounting import Pricing
from pointsman.governance.auth import Authenticate
from pointsman.governance.catalog import Catalog
from pointsman.observe.routes import check_scraper
from pointsman.observe.settings import MetricsSettings
from pointsman.observe.tiers import assign_tiers
from pointsman.routing.table import Deployment

from .recorded import LARGE, PROVIDER, SMALL

BASE: dict[str, Any] = {
    "server": {"auth": "none"},
    "providers": {"sim": {"protocol": "openai", "base_url": "http://127.0.0.1:9/v1"}},
    "models": {"fast": [{"provider": "sim", "model": "sim-small"}]},
}


def parse(**sections: Any):  # type: ignore[no-untyped-def]
    return parse_config({**BASE, **sections}, env={"METRICS_TOKEN": "scrape-me", "OTLP": "t"})


def problems(**sections: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(**sections)
    return caught.value.problems


def test_defaults() -> None:
    config = parse()
    assert config.observe.slo.targets()["interactive"].ttft_ms == 500
    assert config.observe.slo.targets()["interactive"].tpot_ms == 50
    assert config.observe.slo.class_of("fast") == "interactive"
    assert config.observe.tracing.enabled is False
    assert (config.logging.format, config.logging.log_bodies) == ("text", False)


def test_classes_aliases_and_secrets() -> None:
    config = parse(
        observe={
            "metrics": {"token": "env:METRICS_TOKEN", "allow": ["10.0.0.0/8"]},
            "slo": {
                "classes": {"batch": {"ttft_ms": 10000, "tpot_ms": 250}},
                "aliases": {"fast": "batch"},
            },
            "tracing": {"enabled": True, "headers": {"authorization": "env:OTLP"}},
        },
        logging={"format": "json", "level": "info", "log_bodies": True},
    )
    assert config.observe.metrics.token == "scrape-me"
    assert config.observe.tracing.headers == {"authorization": "t"}
    assert config.observe.slo.class_of("fast") == "batch"
    assert set(config.observe.slo.targets()) == {"interactive", "batch"}
    assert config.logging.format == "json"


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        (
            {"observe": {"slo": {"aliases": {"fast": "bulk"}}}},
            "observe.slo.aliases.fast: unknown class 'bulk'",
        ),
        (
            {"observe": {"slo": {"aliases": {"nope": "interactive"}}}},
            "observe.slo.aliases.nope: unknown alias",
        ),
        (
            {"observe": {"slo": {"default_class": "x"}}},
            "observe.slo.default_class: unknown class 'x'",
        ),
        (
            {"observe": {"slo": {"classes": {"a": {"ttft_ms": 0}}}}},
            "observe.slo.classes[...].ttft_ms: expected `float` > 0.0",
        ),
        (
            {"observe": {"metrics": {"allow": ["not-an-ip"]}}},
            "observe.metrics.allow[0]: 'not-an-ip'",
        ),
        (
            {"observe": {"metrics": {"token": "plain"}}},
            "observe.metrics.token: secrets are given by reference",
        ),
        (
            {"observe": {"metrics": {"token": "env:MISSING"}}},
            "observe.metrics.token: environment variable MISSING",
        ),
        ({"observe": {"tracing": {"otlp_endpoint": "grpc://x"}}}, "observe.tracing.otlp_endpoint"),
        ({"observe": {"dashbord": True}}, "observe.dashbord: unknown setting"),
        ({"logging": {"format": "xml"}}, "logging.format"),
    ],
)
def test_problems_name_the_path(sections: dict[str, Any], expected: str) -> None:
    found = problems(**sections)
    assert any(expected in p for p in found), found


def test_tiers_from_catalog_prices() -> None:
    pricing = Pricing(Catalog.load())
    instant = Deployment(PROVIDER, "sim-instant")
    unknown = Deployment(PROVIDER, "not-in-catalog")
    tiers, top = assign_tiers([SMALL, LARGE, instant, unknown], pricing.info, {})
    assert tiers == {
        SMALL.name: "economy",
        LARGE.name: "premium",
        instant.name: "economy",
        unknown.name: "unpriced",
    }
    assert top == "premium"
    tiers, top = assign_tiers(
        [SMALL, LARGE], pricing.info, {"sim-large": "frontier", SMALL.name: "edge"}
    )
    assert tiers == {SMALL.name: "edge", LARGE.name: "frontier"}
    assert top == "frontier"


def test_who_may_scrape() -> None:
    auth = Authenticate(ServerConfig(master_key="master"))
    settings = MetricsSettings(token="scrape-me", allow=["10.1.0.0/16", "::1"])
    check_scraper("10.1.2.3", None, settings, auth)  # listed address, no token needed
    check_scraper("::1", None, settings, auth)
    check_scraper("192.0.2.1", "scrape-me", settings, auth)  # the metrics token
    check_scraper("192.0.2.1", "master", settings, auth)  # the master key
    with pytest.raises(AuthenticationError):
        check_scraper("192.0.2.1", None, settings, auth)
    with pytest.raises(AuthenticationError):
        check_scraper("192.0.2.1", "wrong", settings, auth)
    with pytest.raises(AuthenticationError):
        check_scraper("192.0.2.1", "scrape-me", MetricsSettings(), auth)  # no token configured
    open_server = Authenticate(ServerConfig(auth="none"))
    check_scraper(None, None, MetricsSettings(), open_server)


def test_a_virtual_key_may_not_scrape() -> None:
    from pointsman.core.pipeline import Caller

    class Keys:
        def lookup(self, token: str) -> Caller | None:
            return Caller(key_id="key_1", name="app") if token == "pm-app" else None

    auth = Authenticate(ServerConfig(master_key="master"), Keys())
    with pytest.raises(PermissionDeniedError):
        check_scraper("192.0.2.1", "pm-app", MetricsSettings(), auth)
