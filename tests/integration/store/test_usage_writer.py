"""The usage writer against real databases: batching, rollups, drain, backpressure, failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pointsman.store.engine import create_engine
from pointsman.store.ledger import write_batch
from pointsman.store.migrate import upgrade
from pointsman.store.records import UsageRecord
from pointsman.store.tables import daily_rollups, usage_records
from pointsman.store.usage_writer import FlushReport, UsageWriter

from .conftest import DIALECTS, Database, fresh_database

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def record(i: int, **fields: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "request_id": f"req-{i}",
        "ts": NOW,
        "alias": "fast",
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost_micros": 3,
        "model": "sim-small",
        "team_id": "team_a",
        "catalog_version": "v1",
    }
    values.update(fields)
    return UsageRecord(**values)


async def count(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(usage_records)) or 0)


async def wait_for(predicate: Any, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_full_batch_is_written_without_waiting_for_the_interval(db: Database) -> None:
    reports: list[FlushReport] = []
    writer = UsageWriter(db.engine, flush_interval=60, batch_size=100, on_flush=reports.append)
    writer.start()
    for i in range(250):
        assert writer.submit(record(i))

    async def all_written() -> bool:
        return writer.stats.written == 250

    await wait_for(all_written)
    assert [r.records for r in reports] == [100, 100, 50]
    assert [r.last_request_id for r in reports] == ["req-99", "req-199", "req-249"]
    assert await count(db) == 250
    assert await writer.drain() == 0


async def test_a_partial_batch_is_written_after_the_flush_interval(db: Database) -> None:
    reports: list[FlushReport] = []
    writer = UsageWriter(db.engine, flush_interval=0.1, batch_size=1000, on_flush=reports.append)
    writer.start()
    for i in range(10):
        writer.submit(record(i))

    async def written() -> bool:
        return writer.stats.written == 10

    await wait_for(written, 3.0)
    assert [r.records for r in reports] == [10]
    assert await count(db) == 10
    await writer.drain()


async def test_rollups_sum_each_day_scope_and_model(db: Database) -> None:
    day2 = NOW + timedelta(days=1)
    writer = UsageWriter(db.engine, flush_interval=60)
    batch1 = [
        record(1, cost_micros=100, prompt_tokens=1000, completion_tokens=10, cached_tokens=200),
        record(2, cost_micros=50, prompt_tokens=500, completion_tokens=20, reasoning_tokens=5),
        record(3, cost_micros=7, model="gpt-4o", team_id="team_b", feature="search"),
        record(4, cost_micros=1, team_id=None, model=None, key_id="key_x"),
    ]
    batch2 = [
        record(5, cost_micros=11, prompt_tokens=1, completion_tokens=1, ts=day2),
        record(6, cost_micros=1000, prompt_tokens=100, completion_tokens=100),  # same key as 1, 2
        record(2, cost_micros=999_999),  # a duplicate request id: ignored, not re-counted
    ]
    for r in batch1:
        writer.submit(r)
    assert await writer.flush()
    for r in batch2:
        writer.submit(r)
    assert await writer.flush()
    assert (writer.stats.written, writer.stats.duplicates) == (6, 1)

    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(daily_rollups))).mappings().all()
    got = {
        (r["day"], r["team_id"], r["key_id"], r["model"], r["feature"]): (
            r["requests"],
            r["prompt_tokens"],
            r["completion_tokens"],
            r["cached_tokens"],
            r["reasoning_tokens"],
            r["cost_micros"],
        )
        for r in rows
    }
    assert got == {
        (date(2026, 3, 14), "team_a", "", "sim-small", ""): (3, 1600, 130, 200, 5, 1150),
        (date(2026, 3, 14), "team_b", "", "gpt-4o", "search"): (1, 10, 5, 0, 0, 7),
        (date(2026, 3, 14), "", "key_x", "", ""): (1, 10, 5, 0, 0, 1),
        (date(2026, 3, 15), "team_a", "", "sim-small", ""): (1, 1, 1, 0, 0, 11),
    }
    # the ledger keeps the first copy of request 2
    async with db.engine.connect() as conn:
        cost = await conn.scalar(
            select(usage_records.c.cost_micros).where(usage_records.c.request_id == "req-2")
        )
    assert cost == 50


async def test_a_batch_rolls_back_as_one_transaction(db: Database) -> None:
    """Rows go through the driver, yet stay inside the caller's transaction on both dialects."""
    with pytest.raises(RuntimeError):
        async with db.engine.begin() as connection:
            assert await write_batch(connection, [record(i) for i in range(120)]) == 120
            raise RuntimeError("the commit never happens")
    assert await count(db) == 0


def test_record_fields_are_the_ledger_columns_in_order() -> None:
    """Rows go to the driver as the record's values, so the two orders must agree."""
    columns = tuple(c.name for c in usage_records.columns if c.name != "id")
    assert UsageRecord.__struct_fields__ == columns


async def test_a_record_reads_back_exactly_as_written(db: Database) -> None:
    """The ledger insert goes through the driver; SQLAlchemy must read every field back."""
    written = record(
        7,
        ts=datetime(2026, 3, 14, 13, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))),
        cached_tokens=3,
        cache_write_tokens=2,
        reasoning_tokens=1,
        status="upstream_timeout",
        cache_hit=True,
        latency_ms=812,
        ttft_ms=95,
        org_id="org_1",
        key_id="key_1",
        user_id="u-9",
        feature="search",
        deployment="sim/sim-small",
        provider="sim",
    )
    second = record(8, ts=datetime(2026, 3, 14, 12, 0, tzinfo=UTC))  # no microseconds
    writer = UsageWriter(db.engine, flush_interval=60)
    writer.submit(written)
    writer.submit(second)
    assert await writer.flush()
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(usage_records).order_by(usage_records.c.id))).mappings()
        got = [UsageRecord(**{k: v for k, v in row.items() if k != "id"}) for row in rows]
    assert got == [written, second]  # datetimes compare by instant across zones
    assert got[0].ts.tzinfo is not None and got[0].ts.microsecond == 5


async def test_drain_writes_everything_then_refuses(db: Database) -> None:
    writer = UsageWriter(db.engine, flush_interval=60, batch_size=128)
    writer.start()
    for i in range(1000):
        writer.submit(record(i))
    assert await writer.drain() == 0
    assert await count(db) == 1000 and writer.pending == 0
    assert not writer.submit(record(5000))
    assert writer.stats.refused == 1
    with pytest.raises(RuntimeError, match="closed"):
        await writer.put(record(5001))


async def test_a_full_queue_refuses_submit_and_makes_put_wait(db: Database) -> None:
    writer = UsageWriter(db.engine, flush_interval=60, max_queue=5)
    for i in range(5):
        assert writer.submit(record(i))
    assert not writer.submit(record(5))
    assert writer.stats.refused == 1 and writer.pending == 5

    waiting = asyncio.create_task(writer.put(record(6)))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # backpressure: no room yet
    assert await writer.flush()
    await asyncio.wait_for(waiting, 2.0)
    assert writer.pending == 1
    assert await writer.drain() == 0
    async with db.engine.connect() as conn:
        ids = set((await conn.execute(select(usage_records.c.request_id))).scalars())
    assert ids == {"req-0", "req-1", "req-2", "req-3", "req-4", "req-6"}


@pytest.mark.parametrize("kind", DIALECTS)
async def test_batches_survive_a_database_that_is_not_ready(kind: str, tmp_path: Path) -> None:
    """A real failure (no tables yet): records stay queued, in order, and land once it is fixed."""
    async with fresh_database(kind, tmp_path) as settings:
        engine = create_engine(settings)
        try:
            writer = UsageWriter(engine, flush_interval=60, batch_size=3)
            for i in range(7):
                writer.submit(record(i))
            assert not await writer.flush()
            assert writer.stats.failed_batches == 1 and writer.pending == 7
            await upgrade(engine, schema=settings.schema)
            assert await writer.flush()
            async with engine.connect() as conn:
                rows = await conn.execute(select(usage_records.c.request_id).order_by("id"))
                assert list(rows.scalars()) == [f"req-{i}" for i in range(7)]
        finally:
            await engine.dispose()


async def test_a_record_the_database_refuses_is_isolated(db: Database) -> None:
    writer = UsageWriter(db.engine, flush_interval=60)
    writer.submit(record(1))
    writer.submit(record(2, cost_micros=2**70))  # beyond BIGINT on both dialects
    writer.submit(record(3))
    assert await writer.flush()
    assert (writer.stats.written, writer.stats.rejected, writer.stats.duplicates) == (2, 1, 0)
    async with db.engine.connect() as conn:
        ids = set((await conn.execute(select(usage_records.c.request_id))).scalars())
    assert ids == {"req-1", "req-3"}


def test_records_need_an_aware_timestamp() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        UsageRecord(request_id="r", ts=datetime(2026, 1, 1), alias="a")
