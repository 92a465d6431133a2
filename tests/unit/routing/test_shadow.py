"""Shadow traffic: sampled, never awaited by the client, constrained, recorded and billed apart."""

from __future__ import annotations

import asyncio
from typing import Any

from pointsman.errors import UpstreamUnavailableError
from pointsman.providers.base import ChatResult
from pointsman.routing.record import HEADER
from pointsman.routing.router import SHADOW_NOTE
from pointsman.routing.shadow import Comparison, Shadow, ShadowLog, Side, TeeStream
from pointsman.store.records import UsageRecord
from tests.unit.reliability.fakes import Scripted, Step

from .parts import build, chat


def models(sample: float = 1.0, timeout: float = 5.0, challenger_class: str = "closed_api") -> Any:
    return {
        "main": {
            "deployments": [{"provider": "p", "model": "sim-small", "data_class": "self_hosted"}],
            "shadow": {"alias": "challenger", "sample": sample, "timeout": timeout},
        },
        "challenger": [{"provider": "q", "model": "sim-large", "data_class": challenger_class}],
    }


async def wait_for(shadow: Shadow) -> None:
    await asyncio.gather(*shadow.tasks)


async def test_a_mirrored_request_is_recorded_on_both_sides_and_billed_apart() -> None:
    records: list[UsageRecord] = []
    slow = Scripted("q", {"sim-large": [Step(delay=0.05)]})
    parts = build(models(), {"p": Scripted("p"), "q": slow}, sink=records.append)
    ctx = chat("main")
    await parts.run(ctx)
    assert isinstance(ctx.result, ChatResult)  # answered without waiting for the shadow
    shadow = parts.router.shadows["main"]
    assert len(shadow.tasks) == 1 and records == []
    assert "shadow=challenger" in ctx.response_headers[HEADER]
    await wait_for(shadow)
    comparison = parts.router.shadow_log.entries[-1]
    assert comparison.primary.deployment == "p/sim-small" and comparison.primary.status == "ok"
    assert comparison.shadow.deployment == "q/sim-large" and comparison.shadow.status == "ok"
    assert comparison.shadow.latency_ms is not None and comparison.shadow.latency_ms >= 50
    assert comparison.primary.text == "hi" and comparison.shadow.text == "hi"
    [record] = records
    assert record.alias == "shadow:main" and record.feature == "shadow"
    assert (record.org_id, record.team_id, record.key_id) == (None, None, None)
    assert record.request_id == "r1:shadow" and record.cost_micros > 0
    summary = parts.router.shadow_log.snapshot()["summary"][0]
    assert summary["mirrored"] == 1 and summary["both_ok"] == 1 and summary["same_answer"] == 1


async def test_shadow_failures_and_timeouts_never_reach_the_client() -> None:
    failing = Scripted("q", {"sim-large": [Step(error=UpstreamUnavailableError("boom"))]})
    parts = build(models(), {"p": Scripted("p"), "q": failing})
    ctx = chat("main")
    await parts.run(ctx)
    await wait_for(parts.router.shadows["main"])
    assert ctx.error is None
    assert parts.router.shadow_log.entries[-1].shadow.status == "upstream_unavailable"
    hanging = Scripted("q", {"sim-large": [Step(delay=5)]})
    parts = build(models(timeout=0.05), {"p": Scripted("p"), "q": hanging})
    await parts.run(chat("main"))
    await wait_for(parts.router.shadows["main"])
    assert parts.router.shadow_log.entries[-1].shadow.status == "timeout"


async def test_a_request_is_never_mirrored_where_its_data_may_not_go() -> None:
    challenger = Scripted("q")
    parts = build(models(), {"p": Scripted("p"), "q": challenger})
    ctx = chat("main", headers={"x-pointsman-data-class": "regulated"})
    await parts.run(ctx)
    assert SHADOW_NOTE not in ctx.notes and not parts.router.shadows["main"].tasks
    assert challenger.log.calls == []
    allowed = build(models(challenger_class="air_gapped"), {"p": Scripted("p"), "q": challenger})
    await allowed.run(chat("main", headers={"x-pointsman-data-class": "regulated"}))
    await wait_for(allowed.router.shadows["main"])
    assert challenger.log.calls == ["sim-large"]


async def test_only_the_sample_is_mirrored() -> None:
    parts = build(models(sample=0.2), {"p": Scripted("p"), "q": Scripted("q")})
    for _ in range(500):
        await parts.run(chat("main"))
    await wait_for(parts.router.shadows["main"])
    assert 70 <= len(parts.router.shadow_log.entries) <= 130


async def test_streams_are_teed_for_the_comparison() -> None:
    parts = build(models(), {"p": Scripted("p"), "q": Scripted("q")})
    ctx = chat("main", stream=True)
    parts.router.resolve(ctx, "main")
    await parts.terminal(ctx)
    assert isinstance(ctx.stream, TeeStream)
    batches = [b async for b in ctx.stream]
    assert batches == [[b'{"i":0}'], [b'{"i":1}'], [b'{"i":2}']]
    assert ctx.stream.usage is not None  # read through to the inner stream
    await ctx.stream.aclose()
    await wait_for(parts.router.shadows["main"])


def test_the_log_keeps_the_newest_entries() -> None:
    log = ShadowLog(2)
    for i in range(3):
        log.add(Comparison(f"r{i}", "a", "b", 0.0, Side(status="ok"), Side(status="timeout")))
    snapshot = log.snapshot()
    assert [c["request_id"] for c in snapshot["comparisons"]] == ["r1", "r2"]
    assert snapshot["summary"][0]["shadow_failed"] == 2
