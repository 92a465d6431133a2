"""Config validation: every error names its path, the bad value and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pointsman.config import ConfigError, Secret, load_config, parse_config

ENV = {"POINTSMAN_MASTER_KEY": "master-secret", "SIM_KEY": "sim-secret"}


def base() -> dict:
    return {
        "server": {"master_key": "env:POINTSMAN_MASTER_KEY"},
        "providers": {
            "sim": {
                "protocol": "openai",
                "base_url": "http://127.0.0.1:9100/v1",
                "api_key": "env:SIM_KEY",
            }
        },
        "models": {
            "fast": [{"provider": "sim", "model": "sim-small"}],
            "smart": {"deployments": [{"provider": "sim", "model": "sim-large", "weight": 1}]},
        },
    }


def problems(data: dict, env: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env=ENV if env is None else env)
    return caught.value.problems


def test_valid_config_resolves_secrets_and_hides_them() -> None:
    config = parse_config(base(), env=ENV)
    assert config.server.master_key == "master-secret"
    key = config.providers["sim"].api_key
    assert isinstance(key, Secret) and key == "sim-secret"
    assert "sim-secret" not in repr(key)
    assert set(config.aliases()) == {"fast", "smart"}
    assert config.aliases()["smart"].deployments[0].model == "sim-large"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["models"]["fast"][0].update(provider="sm"),
            "models.fast[0].provider: unknown provider 'sm'; known: sim",
        ),
        (
            lambda d: d["models"]["smart"]["deployments"][0].update(provider="x"),
            "models.smart.deployments[0].provider: unknown provider 'x'; known: sim",
        ),
        (
            lambda d: d["providers"]["sim"].update(protocol="grpc"),
            "providers.sim.protocol: unknown protocol 'grpc'; known: openai",
        ),
        (
            lambda d: d["providers"]["sim"].update(base_url="localhost:9100"),
            "providers.sim.base_url: 'localhost:9100' is not an http(s) URL",
        ),
        (
            lambda d: d["providers"]["sim"].update(api_key="sk-literal"),
            "providers.sim.api_key: secrets are given by reference only",
        ),
        (
            lambda d: d["providers"]["sim"].update(api_key="env:NOPE"),
            "providers.sim.api_key: environment variable NOPE is not set",
        ),
        (
            lambda d: d["server"].pop("master_key"),
            "server.master_key: required when server.auth is 'key'",
        ),
        (
            lambda d: d["providers"]["sim"].update(timeout=5),
            "providers.sim.timeout: unknown setting 'timeout'",
        ),
        (
            lambda d: d["providers"]["sim"].update(max_connections="many"),
            "providers.sim.max_connections: expected `int`, got `str`",
        ),
        (lambda d: d["server"].update(port=70000), "server.port: expected `int` <= 65535"),
        (
            lambda d: d["models"]["fast"][0].pop("model"),
            "models.fast[0].model: required setting is missing",
        ),
    ],
)
def test_errors_name_path_value_and_fix(mutate, expected: str) -> None:
    data = base()
    mutate(data)
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found


def test_every_semantic_problem_is_reported_at_once() -> None:
    data = base()
    data["models"]["fast"][0]["provider"] = "a"
    data["models"]["smart"]["deployments"][0]["provider"] = "b"
    data["providers"]["sim"]["protocol"] = "c"
    assert len(problems(data)) == 3


def test_auth_none_needs_no_master_key() -> None:
    data = base()
    data["server"] = {"auth": "none"}
    assert parse_config(data, env={"SIM_KEY": "x"}).server.auth == "none"


def test_load_config_reports_yaml_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("providers:\n  sim: {protocol: openai\nmodels: {}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems[0].startswith("(yaml) line ")


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml")
    assert "cannot read" in caught.value.problems[0]


def test_provider_options_are_checked_for_their_protocol() -> None:
    data = base()
    data["providers"]["a"] = {
        "protocol": "anthropic",
        "base_url": "https://api.anthropic.com/v1",
        "options": {"json_mod": "tool"},
    }
    found = problems(data)
    assert any(p.startswith("providers.a.options: unknown setting 'json_mod'") for p in found)
