"""Where alerts go: a log line, a counter (for ``/metrics``) and an optional webhook.

Budget alerts arrive from the budgets stage already de-duplicated (the state backend reports a
threshold only the first time it is crossed in a period, atomically across replicas); anomaly
alerts are de-duplicated by their producer the same way. Webhook delivery is fire-and-forget
with a short timeout, off the request path; a failed delivery is logged, not retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import aiohttp

from pointsman.governance.budgets import BudgetAlert

log = logging.getLogger("pointsman.alerts")


class AlertSink:
    def __init__(self, webhook: str | None = None) -> None:
        self.webhook = webhook
        self.counts: Counter[tuple[str, str]] = Counter()  # (kind, detail) -> alerts sent
        self.sent: list[dict[str, Any]] = []  # the most recent alerts, newest last (bounded)
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def budget(self, alert: BudgetAlert) -> None:
        """The budgets stage's ``on_alert`` callback."""
        self.emit(
            "budget",
            f"{alert.percent}%",
            budget=alert.budget,
            percent=alert.percent,
            spent_usd=alert.spent / 1_000_000,
            limit_usd=alert.limit / 1_000_000,
            period=alert.period,
        )

    def emit(self, kind: str, detail: str, **fields: Any) -> None:
        payload = {"type": f"{kind}_alert", **fields}
        self.counts[(kind, detail)] += 1
        self.sent = [*self.sent[-99:], payload]
        log.warning("%s alert: %s", kind, fields)
        if self.webhook:
            task = asyncio.get_running_loop().create_task(self._post(payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, payload: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        assert self.webhook is not None
        try:
            async with self._session.post(self.webhook, json=payload) as response:
                if response.status >= 300:
                    log.error("alert webhook answered HTTP %d", response.status)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.error("alert webhook unreachable: %s", error)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        if self._session is not None:
            await self._session.close()
