"""Fixtures for the simulator's own integration tests: a SimServer on a free port, an SDK client.

Import the fixtures into a test module (``from .simulator_fixtures import sim_client, ...``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import openai
import pytest

from pointsman.simulator import BUILTIN_PROFILES, Outage, Profile, SimServer

# Fast, fault-free test profiles next to the built-ins: streaming still goes through the
# paced (task) path, but a 48-token answer takes about 30 ms.
TEST_PROFILES = {
    **BUILTIN_PROFILES,
    "sim-quick": Profile(name="sim-quick", ttft_ms=5, tokens_per_s=2000),
    "sim-paced": Profile(name="sim-paced", ttft_ms=60, tokens_per_s=200),
    "sim-short-context": Profile(name="sim-short-context", context_window=40),
    "sim-outage": Profile(name="sim-outage", outages=[Outage(start_s=0, end_s=0.3)]),
}


@pytest.fixture
async def sim_server() -> AsyncIterator[SimServer]:
    """A simulator with :data:`TEST_PROFILES` and no API key."""
    server = SimServer(TEST_PROFILES)
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def sim_client(sim_server: SimServer) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official SDK pointed at :func:`sim_server`, without retries."""
    client = openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{sim_server.port}/v1", api_key="x", max_retries=0, timeout=10
    )
    async with client:
        yield client


async def read_response(
    reader: asyncio.StreamReader,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response from ``reader``: (status, lower-cased headers, decoded body)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed before a response")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while size := int((await reader.readline()).strip(), 16):
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        await reader.readexactly(2)
        return status, headers, body
    return status, headers, await reader.readexactly(int(headers.get("content-length", "0")))
