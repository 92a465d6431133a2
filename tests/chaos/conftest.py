"""Chaos fixtures: two simulated providers, a gateway in front of them, a client, and the report.

Everything runs over real loopback sockets: two :class:`SimServer` instances (providers
``alpha`` and ``beta``), the gateway app served by uvicorn, and an aiohttp client reading the
gateway's own headers (``x-pointsman-attempts``, ``x-pointsman-deployment``). Faults are injected
through the simulator's control endpoint, as an operator's chaos tool would. Timeouts, cooldowns
and probe intervals are scaled down so the whole suite runs in well under a minute.

Each scenario adds a row to the chaos report, written to ``test-output/chaos-report.md`` at the
end of the session and printed in the terminal summary.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from pointsman.app import create_app
from pointsman.config import parse_config
from pointsman.local import serve_app
from pointsman.simulator.profiles import Profile
from pointsman.simulator.server import SimServer

ROOT = Path(__file__).resolve().parents[2]
MASTER_KEY = "chaos-master-key"
SIM_KEY = "chaos-sim-key"
ENV = {"POINTSMAN_MASTER_KEY": MASTER_KEY, "SIM_KEY": SIM_KEY}

THRESHOLD = 5  # consecutive failures that open a breaker
COOLDOWN = 0.5
PROBE_INTERVAL = 0.2
TTFT_TIMEOUT = 0.3
RELIABILITY: dict[str, Any] = {
    "retry": {"same_deployment": 1, "backoff_base": 0.02, "backoff_max": 0.1, "max_wait": 0.5},
    "budget": {"ratio": 0.2, "min_per_window": 20, "window": 5},
    "breaker": {
        "consecutive_failures": THRESHOLD,
        "error_rate": 0.5,
        "min_requests": 20,
        "window": 5,
        "cooldown": COOLDOWN,
        "max_cooldown": 4,
        "stable_after": 3,
    },
    "health_check": {"probe": "chat", "interval": PROBE_INTERVAL, "timeout": 0.5},
}
TIMEOUTS = {"ttft": TTFT_TIMEOUT, "idle": 1.0, "total": 5.0}
MODELS: dict[str, Any] = {
    # smart falls back to the backup alias; pair lists both (primary first: weight 0 for beta).
    "smart": {
        "deployments": [{"provider": "alpha", "model": "primary", "region": "eu-west"}],
        "fallbacks": ["backup"],
    },
    "backup": [{"provider": "beta", "model": "secondary", "region": "us-east"}],
    "pair": [
        {"provider": "alpha", "model": "primary", "weight": 1},
        {"provider": "beta", "model": "secondary", "weight": 0},
    ],
}
PRIMARY, SECONDARY = "alpha/primary", "beta/secondary"


def profile(name: str) -> Profile:
    return Profile(name=name, ttft_ms=5, tokens_per_s=2000, output_tokens=12)


@dataclass
class Sims:
    alpha: SimServer
    beta: SimServer


@pytest.fixture
async def sims() -> AsyncIterator[Sims]:
    alpha = SimServer({"primary": profile("primary")}, api_key=SIM_KEY)
    beta = SimServer({"secondary": profile("secondary")}, api_key=SIM_KEY)
    await alpha.start()
    await beta.start()
    try:
        yield Sims(alpha, beta)
    finally:
        await alpha.stop()
        await beta.stop()


GatewayFactory = Callable[..., AbstractAsyncContextManager[str]]


@pytest.fixture
def gateway(sims: Sims) -> GatewayFactory:
    """``async with gateway(reliability=..., models=..., timeouts=..., **sections) as url:``
    (``sections``: more top-level config sections, e.g. ``governance``, ``state``)."""

    def factory(
        reliability: dict[str, Any] | None = None,
        models: dict[str, Any] | None = None,
        timeouts: dict[str, float] | None = None,
        **sections: Any,
    ) -> AbstractAsyncContextManager[str]:
        provider = {
            "protocol": "openai",
            "api_key": "env:SIM_KEY",
            "timeouts": timeouts or TIMEOUTS,
        }
        config = {
            "server": {"master_key": "env:POINTSMAN_MASTER_KEY"},
            "providers": {
                "alpha": {**provider, "base_url": sims.alpha.base_url},
                "beta": {**provider, "base_url": sims.beta.base_url},
            },
            "models": models or MODELS,
            "reliability": reliability or RELIABILITY,
            "governance": {"enabled": False},
            **sections,
        }
        return serve_app(create_app(parse_config(config, env=ENV)))

    return factory


async def set_profile(sim: SimServer, model: str, **fields: Any) -> None:
    """Change a simulated model through its control endpoint."""
    url = f"{sim.url}/_sim/profiles/{model}"
    async with aiohttp.ClientSession() as session, session.put(url, json=fields) as response:
        assert response.status == 200, await response.text()


async def deployments(url: str) -> dict[str, Any]:
    """``GET /health/deployments``: ``{"deployments": {name: row}, "counters": ...}``."""
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/health/deployments", headers=headers) as response,
    ):
        assert response.status == 200
        data = await response.json()
    data["deployments"] = {row["name"]: row for row in data["deployments"]}
    return data


# --- the client ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One request as the client saw it."""

    stream: bool
    status: int = 0
    latency: float = 0.0
    started: float = 0.0
    attempts: int = 0
    deployment: str | None = None
    done: bool = False  # a stream ended with [DONE]
    error_event: bool = False  # a stream carried an error event
    chunks: int = 0
    message: str = ""
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and (not self.stream or (self.done and not self.error_event))

    @property
    def silently_short(self) -> bool:
        """A stream that stopped with neither [DONE] nor an error event: the one sin."""
        return self.stream and self.status == 200 and not self.done and not self.error_event


def _read_sse(raw: bytes, outcome: Outcome) -> None:
    for event in raw.split(b"\n\n"):
        if not event.startswith(b"data: "):
            continue
        data = event[6:]
        if data == b"[DONE]":
            outcome.done = True
        elif data.startswith(b'{"error"'):
            outcome.error_event = True
            outcome.message = msgspec.json.decode(data)["error"]["message"]
        else:
            outcome.chunks += 1


async def call(
    session: aiohttp.ClientSession, url: str, model: str, stream: bool, n: int = 0
) -> Outcome:
    body = {"model": model, "messages": [{"role": "user", "content": f"chaos {n}"}]}
    if stream:
        body["stream"] = True
    outcome = Outcome(stream, started=time.perf_counter())
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    async with session.post(f"{url}/v1/chat/completions", json=body, headers=headers) as r:
        outcome.status = r.status
        outcome.attempts = int(r.headers.get("x-pointsman-attempts", "0"))
        outcome.deployment = r.headers.get("x-pointsman-deployment")
        outcome.retry_after = r.headers.get("Retry-After")
        try:
            raw = await r.read()
        except aiohttp.ClientPayloadError:  # the gateway cut the stream: counts as short
            raw = b""
        if r.status == 200 and stream:
            _read_sse(raw, outcome)
        elif r.status != 200:
            outcome.message = msgspec.json.decode(raw)["error"]["message"]
    outcome.latency = time.perf_counter() - outcome.started
    return outcome


async def drive(
    url: str,
    model: str,
    requests: int,
    concurrency: int,
    stream: bool | Callable[[int], bool] = False,
) -> list[Outcome]:
    """``requests`` requests, ``concurrency`` at a time; outcomes in completion order."""
    outcomes: list[Outcome] = []
    queue = iter(range(requests))

    async def worker(session: aiohttp.ClientSession) -> None:
        for n in queue:
            streaming = stream(n) if callable(stream) else stream
            outcomes.append(await call(session, url, model, streaming, n))

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return outcomes


def alternate(n: int) -> bool:
    return n % 2 == 1


async def wait_for(check: Callable[[], Any], within: float, step: float = 0.02) -> float:
    """Seconds until ``await check()`` is truthy; fails the test after ``within`` seconds."""
    started = time.perf_counter()
    while not await check():
        if time.perf_counter() - started > within:
            pytest.fail(f"condition not reached within {within}s")
        await asyncio.sleep(step)
    return time.perf_counter() - started


# --- the report ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@dataclass
class Row:
    scenario: str
    requests: int
    success: float
    attempts: float
    p50_ms: float
    p99_ms: float
    figures: str


@dataclass
class ChaosReport:
    rows: list[Row] = field(default_factory=list)

    def add(
        self,
        scenario: str,
        outcomes: Sequence[Outcome],
        figures: str,
        success: Callable[[Outcome], bool] = lambda o: o.ok,
    ) -> None:
        latencies = [o.latency for o in outcomes]
        self.rows.append(
            Row(
                scenario,
                len(outcomes),
                100 * sum(map(success, outcomes)) / max(1, len(outcomes)),
                statistics.fmean(o.attempts for o in outcomes) if outcomes else 0.0,
                percentile(latencies, 0.5) * 1000,
                percentile(latencies, 0.99) * 1000,
                figures,
            )
        )

    def markdown(self) -> str:
        lines = [
            "| scenario | requests | success | attempts/request | p50 ms | p99 ms "
            "| asserted figures |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for r in sorted(self.rows, key=lambda r: r.scenario):
            lines.append(
                f"| {r.scenario} | {r.requests} | {r.success:.1f} % | {r.attempts:.2f} | "
                f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.figures} |"
            )
        return "\n".join(lines) + "\n"


REPORT = ChaosReport()


@pytest.fixture
def report() -> ChaosReport:
    return REPORT


def pytest_sessionfinish(session: pytest.Session) -> None:
    if REPORT.rows:
        out = ROOT / "test-output"
        out.mkdir(exist_ok=True)
        (out / "chaos-report.md").write_text(
            "# Chaos report\n\nSimulated providers, real sockets; "
            "`pytest tests/chaos`.\n\n" + REPORT.markdown()
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORT.rows:
        terminalreporter.section("chaos report (also in test-output/chaos-report.md)")
        terminalreporter.write(REPORT.markdown())
