"""Scenario 4: streams cut mid-way. The client sees an error event, never a short "success"."""

from __future__ import annotations

from .conftest import (
    PRIMARY,
    RELIABILITY,
    ChaosReport,
    GatewayFactory,
    Sims,
    deployments,
    drive,
    set_profile,
)

OUTPUT_TOKENS = 12


async def test_midstream_disconnect_is_an_error_event_never_a_short_answer(
    sims: Sims, gateway: GatewayFactory, report: ChaosReport
) -> None:
    await set_profile(sims.alpha, "primary", disconnect_rate=0.3, disconnect_after_tokens=4)
    # Keep the primary in rotation (a breaker would soon route around it): this scenario is
    # about what a client sees when a stream breaks.
    breaker = {**RELIABILITY["breaker"], "consecutive_failures": 1000, "min_requests": 1000}
    async with gateway(reliability={**RELIABILITY, "breaker": breaker}) as url:
        # Non-streamed first: a dropped answer is a failure before the first byte.
        whole = await drive(url, "pair", 50, 10, stream=False)
        streams = await drive(url, "pair", 150, 10, stream=True)
        health = await deployments(url)
    cut = [o for o in streams if o.error_event]
    complete = [o for o in streams if o.done]
    assert not [o for o in streams if o.silently_short]
    assert len(cut) + len(complete) == len(streams)
    assert cut, "the fault profile should have cut some streams"
    for o in cut:  # what arrived, then the error event naming the deployment; no [DONE]
        assert not o.done and PRIMARY in o.message
        assert o.chunks < OUTPUT_TOKENS + 1
    for o in complete:  # role chunk, every token, the final chunk
        assert o.chunks >= OUTPUT_TOKENS
    counters = health["counters"]
    assert counters["midstream_failures"] == len(cut)
    # Before the first byte nothing was sent, so a dropped non-streamed answer fails over.
    assert all(o.ok for o in whole)
    dropped = counters["attempts"].get("connection", 0)
    moved = counters["retries"].get("connection", 0) + counters["fallbacks"].get("connection", 0)
    assert dropped > 0 and moved == dropped
    report.add(
        "4 mid-stream disconnect (30 %)",
        streams,
        f"{len(complete)} complete streams, {len(cut)} ended with an error event (counted: "
        f"{counters['midstream_failures']}), 0 silently short; {len(whole)} non-streamed "
        f"requests: 100 % served ({dropped} dropped answers retried or failed over)",
        success=lambda o: o.done,
    )
