"""Child process for test_crash.py: submits usage records steadily until it is SIGKILLed.

stdout protocol (one line each, flushed): ``READY``; ``S <i>`` after record i was submitted;
``F <i> <taken_at>`` after a batch ending with record i committed (``taken_at`` is the
``time.monotonic()`` of the moment the batch left the queue: the flush boundary).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from pointsman.store.engine import create_engine
from pointsman.store.migrate import upgrade
from pointsman.store.records import UsageRecord
from pointsman.store.settings import StoreSettings
from pointsman.store.usage_writer import FlushReport, UsageWriter


def report(flush: FlushReport) -> None:
    print(f"F {flush.last_request_id} {flush.taken_at:.6f}", flush=True)


async def main(path: str, interval: float) -> None:
    engine = create_engine(StoreSettings(url=f"sqlite+aiosqlite:///{path}"))
    await upgrade(engine)
    writer = UsageWriter(engine, flush_interval=interval, on_flush=report)
    writer.start()
    print("READY", flush=True)
    i = 0
    while True:
        now = datetime.now(UTC)
        writer.submit(UsageRecord(request_id=str(i), ts=now, alias="fast", cost_micros=1))
        print(f"S {i}", flush=True)
        i += 1
        await asyncio.sleep(0.002)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
