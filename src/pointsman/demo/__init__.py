"""``pointsman demo``: a simulated upstream and the gateway, in-process, under a scripted workload.

Everything runs on free loopback ports: the simulated provider (labelled simulated in every
answer), the gateway built from an embedded config, and a client that is the official ``openai``
SDK, exactly as an application would use it. A third of the way in, the simulated provider's
chat models go down until two thirds through: a second simulated provider takes over, and a
table shows the fallbacks and breakers.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pointsman.app import create_app
from pointsman.cache.showcase import repeated_questions
from pointsman.config import parse_config
from pointsman.demo.common import MASTER_KEY, Outcome, Tally
from pointsman.demo.outage import Outage, reliability_summary, with_backup
from pointsman.demo.routing import ROUTED_QUESTIONS, routing_summary
from pointsman.local import serve_app

# Two teams: "search" has room to spare, "experiments" a hard budget that runs out mid-demo.
TEAMS = {"search": 1.00, "experiments": 0.002}
# Budgets reserve each request's worst case; an output cap keeps that close to the real cost.
MAX_TOKENS = 64

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    }
]
QUESTIONS = [
    "Summarise the benefits of unit tests in two sentences.",
    "What is the capital of Australia?",
    "Explain how a circuit breaker protects a service.",
    "Write a haiku about railway points.",
    "Compare TCP and UDP for a chat application.",
    "List three ways to reduce LLM inference cost.",
]


def demo_config(sim_url: str, store_dir: str) -> dict[str, Any]:
    return {
        "server": {"auth": "key", "master_key": "env:POINTSMAN_DEMO_KEY"},
        "store": {
            "url": f"sqlite+aiosqlite:///{store_dir}/demo.db",
            "usage": {"flush_interval": 0.2},
        },
        "providers": {
            "sim": {"protocol": "openai", "base_url": f"{sim_url}/v1"},
            # The same simulator speaks the Anthropic and Gemini wire formats too: the aliases
            # below spread over all three protocols, behind one OpenAI-compatible endpoint.
            "sim-anthropic": {"protocol": "anthropic", "base_url": f"{sim_url}/v1"},
            "sim-gemini": {"protocol": "gemini", "base_url": f"{sim_url}/v1beta"},
        },
        "models": {
            "fast": [
                {"provider": "sim", "model": "sim-small"},
                {"provider": "sim-gemini", "model": "sim-small"},
            ],
            "smart": [
                {"provider": "sim", "model": "sim-large"},
                {"provider": "sim-anthropic", "model": "sim-large"},
            ],
            "embed": [{"provider": "sim", "model": "sim-embed"}],
            # Tiered complexity routing: the shipped classifier sends each request to fast or
            # smart; its threshold sends 30 % of its calibration traffic (MMLU, GSM8K) to the
            # strong tier; on this demo's questions the share is whatever the scores say.
            "auto": {
                "policy": {
                    "kind": "tiered",
                    "cheap": "fast",
                    "strong": "smart",
                    "strong_share": 0.3,
                }
            },
        },
    }


async def _one(client: Any, n: int) -> Outcome:
    rng = random.Random(n)
    alias = "smart" if rng.random() < 0.3 else "fast"
    question = QUESTIONS[n % len(QUESTIONS)]
    kind = ("chat", "stream", "stream", "tools", "json", "embed")[n % 6]
    if kind in ("chat", "stream") and rng.random() < 0.6:  # let the router choose the tier
        alias, question = "auto", ROUTED_QUESTIONS[n % len(ROUTED_QUESTIONS)]
    messages = [{"role": "user", "content": f"{question} (request {n})"}]
    start = time.perf_counter()
    outcome = Outcome(kind, alias=alias)
    try:
        if kind == "embed":
            response = await client.embeddings.create(model="embed", input=question)
            outcome.model, outcome.tokens_in = response.model, response.usage.prompt_tokens
        elif kind == "stream":
            stream = await client.chat.completions.create(
                model=alias,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=MAX_TOKENS,
            )
            async for chunk in stream:
                if outcome.ttft is None and chunk.choices and chunk.choices[0].delta.content:
                    outcome.ttft = time.perf_counter() - start
                if chunk.usage:
                    outcome.tokens_in = chunk.usage.prompt_tokens
                    outcome.tokens_out = chunk.usage.completion_tokens
                outcome.model = chunk.model or outcome.model
        else:
            extra: dict[str, Any] = {}
            if kind == "tools":
                messages[0]["content"] = f"What is the weather in Paris? (request {n})"
                extra = {"tools": TOOLS, "tool_choice": "auto"}
            elif kind == "json":
                extra = {"response_format": {"type": "json_object"}}
            response = await client.chat.completions.create(
                model=alias, messages=messages, max_tokens=MAX_TOKENS, **extra
            )
            outcome.model = response.model
            outcome.tokens_in = response.usage.prompt_tokens
            outcome.tokens_out = response.usage.completion_tokens
            outcome.ttft = time.perf_counter() - start
    except Exception as error:  # the demo reports failures; it must not stop on one
        outcome.ok, outcome.error = False, f"{type(error).__name__}: {error}"
        if getattr(error, "code", None) == "budget_exceeded":
            outcome.error = "refused: budget exceeded"
    outcome.total = time.perf_counter() - start
    return outcome


async def _admin(base_url: str, method: str, path: str, body: Any = None) -> Any:
    import aiohttp

    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{base_url}/admin/v1{path}", json=body, headers=headers) as r,
    ):
        r.raise_for_status()
        return await r.json()


async def provision(base_url: str) -> dict[str, tuple[str, str]]:
    """One org, a team per entry of TEAMS with a hard monthly budget, a key each.

    Returns team name -> (team id, key secret). Everything goes through the admin API.
    """
    org = await _admin(base_url, "POST", "/orgs", {"name": "acme"})
    teams = {}
    for name, usd in TEAMS.items():
        team = await _admin(base_url, "POST", "/teams", {"org_id": org["id"], "name": name})
        key = await _admin(
            base_url, "POST", "/keys", {"name": f"{name}-app", "team_id": team["id"]}
        )
        budget = {"scope_kind": "team", "scope_id": team["id"], "limit_usd": usd}
        await _admin(base_url, "PUT", "/budgets", budget)
        teams[name] = (team["id"], key["secret"])
    return teams


async def ledger_spend(base_url: str, teams: dict[str, tuple[str, str]]) -> dict[str, float]:
    await asyncio.sleep(0.5)  # let the usage writer flush its last batch (every 0.2 s here)
    rows = await _admin(base_url, "GET", "/spend?by=team&since=2000-01-01")
    by_id = {row["group"]: row["cost_usd"] for row in rows}
    return {name: by_id.get(team_id, 0.0) for name, (team_id, _) in teams.items()}


async def _workload(
    base_url: str,
    requests: int,
    concurrency: int,
    console: Console,
    on_progress: Callable[[int], Awaitable[None]] | None = None,
) -> Tally:
    from openai import AsyncOpenAI

    teams = await provision(base_url)
    clients = {
        name: AsyncOpenAI(base_url=f"{base_url}/v1", api_key=secret, max_retries=0)
        for name, (_, secret) in teams.items()
    }
    tally = Tally()
    gate = asyncio.Semaphore(concurrency)
    columns = (
        TextColumn("[bold]driving workload"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    )  # fmt: skip
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("requests", total=requests)

        async def run(n: int) -> None:
            team = "experiments" if n % 3 == 0 else "search"
            async with gate:
                outcome = await _one(clients[team], n)
                outcome.team = team
                tally.outcomes.append(outcome)
                progress.advance(task)
                if on_progress is not None:
                    await on_progress(len(tally.outcomes))

        await asyncio.gather(*(run(n) for n in range(requests)))
    for client in clients.values():
        await client.close()
    tally.spend = await ledger_spend(base_url, teams)
    return tally


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.1f}"


def summary(tally: Tally, elapsed: float) -> Table:
    outcomes = tally.outcomes
    ok = [o for o in outcomes if o.ok]
    table = Table(title="Pointsman demo: summary (upstream is SIMULATED)", show_header=False)
    table.add_column("metric", style="cyan")
    table.add_column("value", justify="right")
    table.add_row("requests", str(len(outcomes)))
    table.add_row("successes", f"{len(ok)} ({100 * len(ok) / max(1, len(outcomes)):.1f} %)")
    table.add_row("throughput", f"{len(outcomes) / elapsed:.1f} req/s")
    for model, count in sorted(Counter(o.model for o in ok).items()):
        table.add_row(f"  served by {model}", str(count))
    for kind, count in sorted(Counter(o.kind for o in outcomes).items()):
        table.add_row(f"  {kind} requests", str(count))
    ttfts = [o.ttft for o in ok if o.ttft is not None]
    totals = [o.total for o in ok]
    table.add_row("TTFT p50 / p95 (ms)", f"{_ms(ttfts, 0.5)} / {_ms(ttfts, 0.95)}")
    table.add_row("latency p50 / p95 (ms)", f"{_ms(totals, 0.5)} / {_ms(totals, 0.95)}")
    table.add_row(
        "tokens in / out", f"{sum(o.tokens_in for o in ok)} / {sum(o.tokens_out for o in ok)}"
    )
    if totals:
        table.add_row("mean latency (ms)", f"{statistics.fmean(totals) * 1000:.1f}")
    table.add_row("cost from the ledger (USD)", f"{sum(tally.spend.values()):.6f}")
    for team, usd in tally.spend.items():
        mine = [o for o in outcomes if o.team == team]
        refused = sum(1 for o in mine if o.error.startswith("refused"))
        table.add_row(
            f"  team {team} (budget ${TEAMS[team]:g})",
            f"{len(mine) - refused} served, {refused} refused, ${usd:.6f}",
        )
    failures = Counter(o.error.split(":")[0] for o in outcomes if not o.ok and not refused_(o))
    for name, count in failures.items():
        table.add_row(f"  failed: {name}", str(count))
    return table


def refused_(outcome: Outcome) -> bool:
    """A budget refusal is governance working, not a failure."""
    return outcome.error.startswith("refused")


async def _main(requests: int, concurrency: int, console: Console) -> int:
    import os
    import tempfile

    from pointsman.simulator.server import SimServer

    os.environ["POINTSMAN_DEMO_KEY"] = MASTER_KEY
    sim = SimServer()
    await sim.start("127.0.0.1", 0)
    sim_url = f"http://127.0.0.1:{sim.port}"
    console.print(f"simulated provider (SIMULATED answers) on {sim_url}")
    store = tempfile.TemporaryDirectory(prefix="pointsman-demo-")
    backup = SimServer()  # a second simulated provider, for the outage of the first
    await backup.start("127.0.0.1", 0)
    outage = Outage(sim_url, requests)
    config = parse_config(with_backup(demo_config(sim_url, store.name), backup.url))
    try:
        async with serve_app(create_app(config)) as url:
            console.print(f"gateway on {url}/v1, driving it with the official openai SDK")
            start = time.perf_counter()
            tally = await _workload(url, requests, concurrency, console, outage.step)
            console.print(summary(tally, time.perf_counter() - start))
            console.print(routing_summary(tally))
            console.print(await reliability_summary(url, outage))
            console.print(await repeated_questions(url, MASTER_KEY))
    finally:
        await sim.stop()
        await backup.stop()
        store.cleanup()
    return 0 if all(o.ok or refused_(o) for o in tally.outcomes) else 1


def run_demo(requests: int = 200, concurrency: int = 16) -> int:
    """Run the demo; returns the process exit code (0 when every request succeeded)."""
    import uvloop

    console = Console()
    return uvloop.run(_main(requests, concurrency, console))
