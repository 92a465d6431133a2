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
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pointsman.app import create_app
from pointsman.cache.showcase import repeated_questions
from pointsman.config import parse_config
from pointsman.local import serve_app

MASTER_KEY = "demo-master-key"
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


@dataclass
class Outcome:
    kind: str
    team: str = "-"
    model: str = "-"
    ok: bool = True
    ttft: float | None = None
    total: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    error: str = ""
    alias: str = "-"


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)
    spend: dict[str, float] = field(default_factory=dict)  # team -> USD, from the ledger


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


# --- a provider outage mid-workload (reliability) -----------------------------------------------

BACKUP = "backup"
OUTAGE_MODELS = {"fast": "sim-small", "smart": "sim-large"}


def with_backup(config: dict[str, Any], backup_url: str) -> dict[str, Any]:
    """Put a second simulated provider behind the chat aliases (tried last: weight 0), with
    reliability settings for an interactive demo: fall back rather than wait out a Retry-After
    of a second; short breaker cooldowns; one-token health probes that see the outage end."""
    config["providers"][BACKUP] = {"protocol": "openai", "base_url": f"{backup_url}/v1"}
    for alias, model in OUTAGE_MODELS.items():
        spec = config["models"][alias]
        deployments = spec["deployments"] if isinstance(spec, dict) else spec
        deployments.append({"provider": BACKUP, "model": model, "weight": 0})
    config["reliability"] = {
        "retry": {"max_wait": 0.5},
        "breaker": {"cooldown": 1.0},
        "health_check": {"probe": "chat", "interval": 0.5},
    }
    return config


@dataclass
class Outage:
    """Takes the first simulator's chat models down from ``start`` to ``end`` (shares of the
    workload), through the simulator's control endpoint."""

    sim_url: str
    requests: int
    start: float = 0.3
    end: float = 0.65
    began: int | None = None
    ended: int | None = None

    async def step(self, done: int) -> None:
        if self.began is None and done >= self.start * self.requests:
            self.began = done
            await self._set(down=True)
        elif self.ended is None and self.began is not None and done >= self.end * self.requests:
            self.ended = done
            await self._set(down=False)

    async def _set(self, down: bool) -> None:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            for model in OUTAGE_MODELS.values():
                url = f"{self.sim_url}/_sim/profiles/{model}"
                async with session.put(url, json={"down": down}) as response:
                    response.raise_for_status()


async def reliability_summary(base_url: str, outage: Outage) -> Table:
    """What the reliability engine did, from ``GET /health/deployments``."""
    import aiohttp

    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base_url}/health/deployments", headers=headers) as response,
    ):
        health = await response.json()
    counters = health["counters"]
    transitions = counters["breaker_transitions"]
    opened = transitions.get("closed->open", 0) + transitions.get("half_open->open", 0)
    closed = transitions.get("half_open->closed", 0) + transitions.get("open->closed", 0)
    table = Table(title="Provider outage mid-workload (SIMULATED upstreams)", show_header=False)
    table.add_column("metric", style="cyan")
    table.add_column("value", justify="right")
    table.add_row("outage (first simulator down)", f"requests {outage.began}-{outage.ended}")
    table.add_row("fallbacks after a failed call", str(sum(counters["fallbacks"].values())))
    table.add_row("retries of the same deployment", str(sum(counters["retries"].values())))
    table.add_row("passed over (breaker open)", str(counters["skips"].get("breaker_open", 0)))
    table.add_row("breakers opened / recovered", f"{opened} / {closed}")
    for row in health["deployments"]:
        table.add_row(
            f"  {row['name']}", f"{row['breaker']}, {row['calls']} calls, {row['failures']} failed"
        )
    return table


# --- tiered complexity routing -------------------------------------------------------------------

ROUTED_QUESTIONS = [
    "What is the capital of Australia?",
    "Say good morning in Spanish.",
    "Name three primary colours.",
    "A train leaves at 14:05 at 84 km/h; a second leaves the same station at 14:35 at 105 km/h "
    "on a parallel track. When and where does the second overtake the first? Show your working.",
    "Prove that the square root of 2 is irrational.",
    "Which of these is a mammal? A. Shark B. Dolphin C. Trout D. Octopus",
    "Let f(x) = x^3 - 6x^2 + 11x - 6. Find all real roots and where f is increasing.",
    "Spell 'railway' backwards.",
    "What colour is the sky on a clear day?",
    "Translate 'thank you' into German.",
    "How many days are in a week?",
    "Who wrote Romeo and Juliet?",
    "Give a synonym for 'happy'.",
    "What is 12 times 12?",
    "Is Paris in France?",
    "Name a fruit that is yellow.",
]


def routing_summary(tally: Tally) -> Table:
    """The ``auto`` alias: the share of cheap and strong calls, and what it cost against sending
    every one of them to the strong tier (same tokens, priced from the catalog)."""
    from pointsman.core.types import Usage
    from pointsman.governance.catalog import Catalog
    from pointsman.governance.costs import cost_of

    catalog = Catalog.load()
    routed = [o for o in tally.outcomes if o.alias == "auto" and o.ok]
    cheap = [o for o in routed if o.model == OUTAGE_MODELS["fast"]]
    actual = strong = 0
    for o in routed:
        usage = Usage(prompt_tokens=o.tokens_in, completion_tokens=o.tokens_out)
        actual += cost_of(usage, catalog.lookup(o.model)).micros
        strong += cost_of(usage, catalog.lookup(OUTAGE_MODELS["smart"])).micros
    table = Table(
        title="Tiered routing: alias auto over fast / smart (SIMULATED)", show_header=False
    )
    table.add_column("metric", style="cyan")
    table.add_column("value", justify="right")
    total = max(1, len(routed))
    table.add_row("requests routed by the classifier", str(len(routed)))
    table.add_row("  to the cheap tier (fast)", f"{len(cheap)} ({100 * len(cheap) / total:.0f} %)")
    strong_calls = len(routed) - len(cheap)
    table.add_row(
        "  to the strong tier (smart)", f"{strong_calls} ({100 * strong_calls / total:.0f} %)"
    )
    table.add_row("cost as routed (USD)", f"{actual / 1e6:.6f}")
    table.add_row("cost if all went to the strong tier (USD)", f"{strong / 1e6:.6f}")
    saved = 100 * (strong - actual) / strong if strong else 0.0
    table.add_row("saved", f"{saved:.1f} %")
    return table
