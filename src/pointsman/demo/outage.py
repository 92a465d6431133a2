"""The demo's provider outage: a second simulated provider, and the first one taken down
mid-workload through the simulator's control endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.table import Table

from pointsman.demo.common import MASTER_KEY

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
