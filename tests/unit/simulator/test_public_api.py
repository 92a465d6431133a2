"""The simulator's public names, which other parts of Pointsman build on."""

from __future__ import annotations

import inspect

import pointsman.simulator
from pointsman.simulator import profiles, server


def test_package_exports() -> None:
    assert sorted(pointsman.simulator.__all__) == [
        "BUILTIN_PROFILES",
        "Outage",
        "Profile",
        "ProfileError",
        "SimServer",
        "load_profiles",
        "run",
    ]


def test_profile_fields() -> None:
    assert profiles.Profile.__struct_fields__ == (
        "name",
        "ttft_ms",
        "ttft_sigma",
        "tokens_per_s",
        "output_tokens",
        "error_rates",
        "retry_after_s",
        "down",
        "outages",
        "disconnect_rate",
        "disconnect_after_tokens",
        "context_window",
        "embedding_dim",
        "seed",
    )
    assert profiles.Outage.__struct_fields__ == ("start_s", "end_s")


def test_server_signatures() -> None:
    start = inspect.signature(server.SimServer.start)
    assert list(start.parameters) == ["self", "host", "port"]
    assert start.parameters["host"].default == "127.0.0.1"
    assert start.parameters["port"].default == 0
    assert list(inspect.signature(server.run).parameters) == [
        "host",
        "port",
        "profiles_file",
        "api_key",
    ]
