"""``pointsman serve`` as a real process: SIGHUP reloads atomically; a bad file is refused."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest
import yaml

from pointsman.simulator.server import SimServer

from .conftest import ENV, MASTER_KEY, gateway_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(path: Path, port: int, workers: int = 1) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pointsman", "serve", "--config", str(path)]
    command += ["--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(command, env={**os.environ, **ENV}, stderr=subprocess.PIPE, text=True)


async def stop(process: subprocess.Popen[str]) -> str:
    """Terminate and collect stderr without blocking the loop (the simulator runs on it)."""
    process.terminate()
    _, stderr = await asyncio.to_thread(process.communicate, timeout=15)
    return stderr


@pytest.fixture
async def served(
    tmp_path: Path, sim: SimServer
) -> AsyncIterator[tuple[str, Path, subprocess.Popen[str]]]:
    path = tmp_path / "pointsman.yaml"
    path.write_text(yaml.safe_dump(gateway_config(sim.port, tmp_path), sort_keys=False))
    port = free_port()
    process = start_serve(path, port)
    try:
        yield f"http://127.0.0.1:{port}", path, process
    finally:
        if process.poll() is None:
            await stop(process)


async def models(url: str) -> list[str]:
    async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=MASTER_KEY) as client:
        return [m.id async for m in client.models.list()]


async def wait_ready(url: str) -> None:
    for _ in range(200):
        try:
            await models(url)
            return
        except openai.APIConnectionError:
            await asyncio.sleep(0.025)
    raise AssertionError("gateway did not start")


async def wait_for(url: str, expected: list[str]) -> list[str]:
    seen: list[str] = []
    for _ in range(200):
        seen = await models(url)
        if seen == expected:
            break
        await asyncio.sleep(0.025)
    return seen


async def test_sighup_good_then_bad_config(
    served: tuple[str, Path, subprocess.Popen[str]], sim: SimServer
) -> None:
    url, path, process = served
    await wait_ready(url)
    assert await models(url) == ["fast", "smart", "instant", "embed"]

    # An in-flight stream started on the old config finishes on it, even though the reload
    # removes its alias.
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=MASTER_KEY, max_retries=0)
    stream = await client.chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "a long answer"}], stream=True
    )
    fresh = gateway_config(sim.port, path.parent)
    fresh["models"] = {"fast": fresh["models"]["fast"], "extra": fresh["models"]["instant"]}
    path.write_text(yaml.safe_dump(fresh, sort_keys=False))
    process.send_signal(signal.SIGHUP)
    assert await wait_for(url, ["fast", "extra"]) == ["fast", "extra"]
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices[0].finish_reason == "stop"
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(
            model="smart", messages=[{"role": "user", "content": "x"}]
        )
    await client.close()

    # A bad file is refused; the previous config keeps serving.
    broken = dict(fresh)
    broken["models"] = {"fast": [{"provider": "nope", "model": "m"}]}
    path.write_text(yaml.safe_dump(broken, sort_keys=False))
    process.send_signal(signal.SIGHUP)
    await asyncio.sleep(0.5)
    assert await models(url) == ["fast", "extra"]
    stderr = await stop(process)
    assert "config reload refused" in stderr
    assert "models.fast[0].provider: unknown provider 'nope'" in stderr


async def test_workers_share_a_port_and_all_reload(tmp_path: Path, sim: SimServer) -> None:
    """With --workers 2 the supervisor validates the file, then every worker swaps its config."""
    path = tmp_path / "pointsman.yaml"
    # Several workers need shared state for governance (tests/integration/state covers that):
    # this test is about reload, so it runs without.
    settings = {"governance": {"enabled": False}}
    path.write_text(yaml.safe_dump(gateway_config(sim.port, **settings), sort_keys=False))
    port = free_port()
    process = start_serve(path, port, workers=2)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url)
        fresh = gateway_config(sim.port, **settings)
        fresh["models"] = {"only": fresh["models"]["instant"]}
        path.write_text(yaml.safe_dump(fresh, sort_keys=False))
        await asyncio.sleep(0.5)  # both workers up before the signal
        process.send_signal(signal.SIGHUP)
        assert await wait_for(url, ["only"]) == ["only"]
        # New connections land on either worker: every one must answer with the new config.
        for _ in range(20):
            assert await models(url) == ["only"]
    finally:
        await stop(process)
