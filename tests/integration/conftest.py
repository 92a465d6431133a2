"""Integration fixtures: a real simulated provider and a real gateway on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import openai
import pytest

from pointsman.app import create_app
from pointsman.config import parse_config
from pointsman.local import serve_app
from pointsman.simulator.server import SimServer

MASTER_KEY = "test-master-key"
SIM_KEY = "sim-upstream-secret-key"
ENV = {"POINTSMAN_MASTER_KEY": MASTER_KEY, "SIM_KEY": SIM_KEY}


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    server = SimServer(api_key=SIM_KEY)
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.stop()


def gateway_config(
    sim_port: int, store_dir: Path | None = None, **overrides: Any
) -> dict[str, Any]:
    """The test gateway's config; with ``store_dir`` its SQLite ledger lives there."""
    config: dict[str, Any] = {
        "server": {"master_key": "env:POINTSMAN_MASTER_KEY"},
        "providers": {
            "sim": {
                "protocol": "openai",
                "base_url": f"http://127.0.0.1:{sim_port}/v1",
                "api_key": "env:SIM_KEY",
            },
            "sim-anthropic": {
                "protocol": "anthropic",
                "base_url": f"http://127.0.0.1:{sim_port}/v1",
                "api_key": "env:SIM_KEY",
            },
            "sim-gemini": {
                "protocol": "gemini",
                "base_url": f"http://127.0.0.1:{sim_port}/v1beta",
                "api_key": "env:SIM_KEY",
            },
        },
        "models": {
            "fast": [{"provider": "sim", "model": "sim-small"}],
            "smart": [{"provider": "sim", "model": "sim-large"}],
            "instant": [{"provider": "sim", "model": "sim-instant"}],
            "embed": [{"provider": "sim", "model": "sim-embed"}],
        },
    }
    if store_dir is not None:
        config["store"] = {"url": f"sqlite+aiosqlite:///{store_dir}/pointsman.db"}
    for key, value in overrides.items():
        config[key] = value
    return config


GatewayFactory = Callable[..., AbstractAsyncContextManager[str]]


@pytest.fixture
def start_gateway(sim: SimServer, tmp_path: Path) -> GatewayFactory:
    """``async with start_gateway(**overrides) as url:`` serves a gateway in front of ``sim``."""

    def factory(**overrides: Any) -> AbstractAsyncContextManager[str]:
        config = parse_config(gateway_config(sim.port, tmp_path, **overrides), env=ENV)
        return serve_app(create_app(config))

    return factory


@pytest.fixture
async def gateway(start_gateway: GatewayFactory) -> AsyncIterator[str]:
    async with start_gateway() as url:
        yield url


@pytest.fixture
async def client(gateway: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{gateway}/v1", api_key=MASTER_KEY, max_retries=0
    ) as client:
        yield client
