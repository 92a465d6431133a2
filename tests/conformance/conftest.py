"""Fixtures of the conformance suite: one simulator and one gateway for the whole session.

The gateway serves, for each upstream protocol ``p``, the alias ``p`` and faulty twins
``p-<variant>`` whose provider sends the simulator a fault-injection header (``x-sim-fault``,
``x-sim-filter``, ``x-sim-malformed``), a wrong API key, a short read timeout, or a model with a
tiny context window. Tests share the event loop of the session (the servers live there).

Setting ``POINTSMAN_COMPAT_TABLE=<path>`` writes the compatibility table (see
:mod:`.compat`) to ``<path>`` when a full run of the suite ends; ``scripts/compat_table.py``
does that for ``docs/compatibility.md``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from pointsman.app import create_app
from pointsman.config import parse_config
from pointsman.local import serve_app
from pointsman.simulator import BUILTIN_PROFILES, Profile, SimServer
from tests.conformance.cases import CASES, UPSTREAMS, Case
from tests.conformance.clients import AnthropicClient, Client, OpenAIClient
from tests.conformance.compat import Outcomes
from tests.integration.conftest import ENV, MASTER_KEY, SIM_KEY, gateway_config

NARROW_CONTEXT = 8  # tokens; the "-narrow" twins serve a model this small
VARIANTS: dict[str, dict[str, Any]] = {
    "fault-400": {"headers": {"x-sim-fault": "400"}},
    "fault-429": {"headers": {"x-sim-fault": "429"}},
    "fault-500": {"headers": {"x-sim-fault": "500"}},
    "fault-503": {"headers": {"x-sim-fault": "503"}},
    "fault-529": {"headers": {"x-sim-fault": "529"}},
    "disconnect": {"headers": {"x-sim-fault": "disconnect"}},
    "hang": {"headers": {"x-sim-fault": "timeout"}, "timeouts": {"connect": 2, "read": 0.3}},
    "badkey": {"api_key": "env:WRONG_KEY"},
    "filter-prompt": {"headers": {"x-sim-filter": "prompt"}},
    "filter-output": {"headers": {"x-sim-filter": "output"}},
    "malformed": {"headers": {"x-sim-malformed": "yes"}},
    "narrow": {},
}
_OUTCOMES = Outcomes()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "feature(name): the compatibility-table row a test checks")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", CASES, ids=[c.id for c in CASES])


def conformance_config(sim_port: int) -> dict[str, Any]:
    providers: dict[str, Any] = {}
    models: dict[str, Any] = {}
    for upstream in UPSTREAMS:
        base = {
            "protocol": upstream.name,
            "base_url": f"http://127.0.0.1:{sim_port}{upstream.base_path}",
            "api_key": "env:SIM_KEY",
        }
        for variant, settings in ("", {}), *VARIANTS.items():
            name = f"{upstream.name}-{variant}" if variant else upstream.name
            providers[name] = {**base, **settings}
            model = "sim-narrow" if variant == "narrow" else "sim-instant"
            models[name] = [{"provider": name, "model": model}]
    # One upstream answer per request: retries, breakers and probes are the reliability
    # suite's subject, and would turn the deliberately failing twins into other errors here.
    reliability = {
        "retry": {"same_deployment": 0, "attempts_per_alias": 1},
        "breaker": {"consecutive_failures": 1_000_000, "min_requests": 1_000_000},
        "health_check": {"enabled": False},
    }
    return gateway_config(sim_port, providers=providers, models=models, reliability=reliability)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def gateway_url() -> AsyncIterator[str]:
    narrow = Profile(name="sim-narrow", context_window=NARROW_CONTEXT)
    sim = SimServer({**BUILTIN_PROFILES, "sim-narrow": narrow}, api_key=SIM_KEY)
    await sim.start("127.0.0.1", 0)
    config = parse_config(conformance_config(sim.port), env={**ENV, "WRONG_KEY": "wrong"})
    try:
        async with serve_app(create_app(config)) as url:
            yield url
    finally:
        await sim.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def clients(gateway_url: str) -> AsyncIterator[dict[str, Client]]:
    made: dict[str, Client] = {
        "openai": OpenAIClient(gateway_url, MASTER_KEY),
        "anthropic": AnthropicClient(gateway_url, MASTER_KEY),
    }
    yield made
    for client in made.values():
        await client.close()


@pytest.fixture
def client(clients: dict[str, Client], case: Case) -> Client:
    return clients[case.inbound]


# -- the compatibility table --------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    marker = item.get_closest_marker("feature")
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("case") if callspec is not None else None
    counted = report.when == "call" or (report.when == "setup" and not report.passed)
    if marker is not None and isinstance(case, Case) and counted:
        _OUTCOMES.add(marker.args[0], case.inbound, case.upstream.name, report.outcome)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("POINTSMAN_COMPAT_TABLE")
    if target and _OUTCOMES.complete():
        Path(target).write_text(_OUTCOMES.render(), encoding="utf-8")
