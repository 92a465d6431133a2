"""Routing integration fixtures: quick simulated models and a gateway config builder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from pointsman.simulator.profiles import Profile
from pointsman.simulator.server import SimServer

from ..conftest import MASTER_KEY

# The built-in profiles answer in up to a second; these keep each request a few milliseconds.
QUICK = {
    "sim-small": Profile(name="sim-small", ttft_ms=2),
    "sim-large": Profile(name="sim-large", ttft_ms=4, context_window=128000),
    "sim-instant": Profile(name="sim-instant"),
    "onprem-llama": Profile(name="onprem-llama", ttft_ms=2),  # unknown to the catalog
}


@pytest.fixture
def quick_sim(sim: SimServer) -> SimServer:
    sim.profiles.update(QUICK)
    return sim


def providers(port: int, **headers: dict[str, str]) -> dict[str, Any]:
    """The simulator as provider ``sim``, plus one provider per keyword sending those headers
    (``slow={"x-sim-ttft-ms": "80"}``)."""
    base = {
        "protocol": "openai",
        "base_url": f"http://127.0.0.1:{port}/v1",
        "api_key": "env:SIM_KEY",
    }
    named = {"sim": dict(base)}
    for name, extra in headers.items():
        named[name] = {**base, "headers": extra}
    return named


def client(url: str, key: str = MASTER_KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


async def ask(
    api: openai.AsyncOpenAI, model: str, text: str = "hello", **extra: Any
) -> tuple[dict[str, str], Any]:
    """One chat completion: (response headers, parsed completion)."""
    raw = await api.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], max_tokens=8, **extra
    )
    return dict(raw.headers), raw.parse()


@pytest.fixture
async def api_factory() -> AsyncIterator[Any]:
    made: list[openai.AsyncOpenAI] = []

    def make(url: str, key: str = MASTER_KEY) -> openai.AsyncOpenAI:
        made.append(client(url, key))
        return made[-1]

    yield make
    for api in made:
        await api.close()
