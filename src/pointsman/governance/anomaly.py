"""Anomaly alerts: a day's spend or tokens above 150 % of the trailing 7-day average.

Checked every ``interval`` seconds off the request path from the daily rollups, per org, team
and key. "Trailing average" is the mean of the seven whole days before today (a day without
traffic counts as zero); today's running total is compared with it, so the alert fires as soon
as the day crosses the line. Each (scope, subject, measure) alerts at most once per day, across
replicas, through an atomic counter in the state backend.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from pointsman.governance.alerts import AlertSink
from pointsman.state.base import CounterState
from pointsman.store.tables import daily_rollups

log = logging.getLogger("pointsman.governance")
SCOPES = {"org": "org_id", "team": "team_id", "key": "key_id"}


@dataclass(frozen=True, slots=True)
class Anomaly:
    scope: str
    subject: str
    measure: str  # "spend" (micro-USD) or "tokens"
    today: int
    average: float


def find_anomalies(
    history: dict[tuple[str, str], dict[date, tuple[int, int]]],
    today: date,
    factor: float = 1.5,
    min_cost: int = 0,
) -> list[Anomaly]:
    """Pure rule: ``history[(scope, subject)][day] = (cost, tokens)``."""
    found = []
    window = [today - timedelta(days=n) for n in range(1, 8)]
    for (scope, subject), days in history.items():
        now_cost, now_tokens = days.get(today, (0, 0))
        for index, measure, value in ((0, "spend", now_cost), (1, "tokens", now_tokens)):
            average = sum(days.get(d, (0, 0))[index] for d in window) / 7
            if average > 0 and value > factor * average and now_cost >= min_cost:
                found.append(Anomaly(scope, subject, measure, value, average))
    return found


async def load_history(
    engine: AsyncEngine, today: date
) -> dict[tuple[str, str], dict[date, tuple[int, int]]]:
    history: dict[tuple[str, str], dict[date, tuple[int, int]]] = {}
    async with engine.connect() as conn:
        for scope, column_name in SCOPES.items():
            column = daily_rollups.c[column_name]
            query = (
                select(
                    daily_rollups.c.day,
                    column,
                    func.sum(daily_rollups.c.cost_micros),
                    func.sum(daily_rollups.c.prompt_tokens + daily_rollups.c.completion_tokens),
                )
                .where(daily_rollups.c.day >= today - timedelta(days=7), column != "")
                .group_by(daily_rollups.c.day, column)
            )
            for row in await conn.execute(query):
                day, subject, cost, tokens = cast(tuple[Any, ...], row)
                history.setdefault((scope, str(subject)), {})[day] = (int(cost), int(tokens))
    return history


class AnomalyWatch:
    def __init__(
        self,
        engine: AsyncEngine,
        counters: CounterState,
        sink: AlertSink,
        interval: float = 300.0,
        min_cost_usd: float = 1.0,
    ) -> None:
        self.engine = engine
        self.counters = counters
        self.sink = sink
        self.interval = interval
        self.min_cost = round(min_cost_usd * 1_000_000)

    async def check(self, now: datetime | None = None) -> list[Anomaly]:
        """One pass: alert each new anomaly once per day. Returns the ones alerted now."""
        today = (now or datetime.now(UTC)).date()
        history = await load_history(self.engine, today)
        alerted = []
        for anomaly in find_anomalies(history, today, min_cost=self.min_cost):
            key = f"anomaly:{anomaly.scope}:{anomaly.subject}:{anomaly.measure}:{today}"
            if await self.counters.add(key, 1, ttl=2 * 86400) != 1:
                continue  # another replica (or an earlier pass) sent it
            alerted.append(anomaly)
            self.sink.emit(
                "anomaly",
                anomaly.measure,
                scope=anomaly.scope,
                subject=anomaly.subject,
                measure=anomaly.measure,
                today=anomaly.today,
                trailing_7_day_average=round(anomaly.average, 2),
            )
        return alerted

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception:
                log.exception("anomaly check failed; trying again next interval")
