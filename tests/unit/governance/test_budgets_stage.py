"""The Budgets stage and who a request is charged to, run through the real Pipeline."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import msgspec
import pytest

from pointsman.core.pipeline import Caller, Pipeline, RequestContext
from pointsman.core.types import ChatRequest, Usage
from pointsman.errors import (
    BudgetExceededError,
    ServiceUnavailableError,
    UpstreamUnavailableError,
)
from pointsman.governance.budgets import (
    BudgetAlert,
    BudgetBook,
    BudgetLedger,
    BudgetSpec,
    Mode,
    Scope,
    Subjects,
)
from pointsman.governance.enforce import BudgetNote, Budgets, subjects_of
from pointsman.providers.base import ChatResult
from pointsman.state.base import LedgerSpec, ReserveOutcome, StateUnavailableError
from pointsman.state.memory import MemoryBackend

PRICE = 1_000  # micro-USD per token, for these tests only


CALLER = Caller(key_id="k1", name="key one", org_id="acme", team_id="research")


def context(
    caller: Caller | None = CALLER, headers: dict[str, str] | None = None
) -> RequestContext:
    body = {
        "model": "fast",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 100,
        "user": "ann",
        "metadata": {"feature": "summarise"},
    }
    ctx = RequestContext("req-1", "chat", body, headers or {})
    ctx.chat = msgspec.convert(body, ChatRequest)
    ctx.alias, ctx.caller = "fast", caller
    return ctx


def worst_case(ctx: RequestContext) -> int:
    assert ctx.chat is not None
    return (10 + (ctx.chat.output_limit or 0)) * PRICE


def actual(ctx: RequestContext) -> int:
    return ctx.usage.total_tokens * PRICE if ctx.usage is not None else 0


async def answer(ctx: RequestContext) -> None:
    ctx.usage = Usage(prompt_tokens=10, completion_tokens=30)
    ctx.result = ChatResult(body=b"{}", usage=ctx.usage)


def stage(
    limit_usd: float, mode: Mode = Mode.HARD, ceiling: float | None = 1.2, **kw: object
) -> Budgets:
    spec = BudgetSpec(
        scope=Scope.TEAM, subject="research", limit_usd=limit_usd, mode=mode, soft_ceiling=ceiling
    )
    book = BudgetBook([spec])
    return Budgets(BudgetLedger(MemoryBackend(), book), worst_case, actual, **kw)  # type: ignore[arg-type]


async def team_state(budgets: Budgets) -> tuple[int, int]:
    ((_, state),) = await budgets.ledger.usage(Subjects(org="acme", team="research"))
    return state.spent, state.reserved


def test_subjects_come_from_caller_request_and_header() -> None:
    assert subjects_of(context()) == Subjects("acme", "research", "k1", "ann", "summarise")
    by_header = subjects_of(context(headers={"x-pointsman-feature": "chat"}))
    assert by_header.feature == "chat"
    plain = subjects_of(context(Caller(key_id="k2", name="plain")))
    assert (plain.org, plain.team, plain.key, plain.user) == (None, None, "k2", "ann")
    pinned = subjects_of(context(Caller(key_id="k3", name="bob's key", user_id="bob")))
    assert pinned.user == "bob"  # the key's user, not the one the request claims


async def test_reserves_the_worst_case_then_settles_the_actual_cost() -> None:
    budgets = stage(1.0)
    seen: list[tuple[int, int]] = []

    async def dispatch(ctx: RequestContext) -> None:
        seen.append(await team_state(budgets))
        await answer(ctx)

    pipeline = Pipeline([budgets], dispatch)
    ctx = context()
    await pipeline.run(ctx)
    await pipeline.complete(ctx)
    assert seen == [(0, 110_000)]  # held while the request ran
    assert await team_state(budgets) == (40_000, 0)
    note = ctx.notes["budgets"]
    assert isinstance(note, BudgetNote) and note.settlement is not None


async def test_refusal_stops_the_request_before_dispatch() -> None:
    budgets = stage(0.1)
    dispatched: list[str] = []

    async def dispatch(ctx: RequestContext) -> None:
        dispatched.append(ctx.request_id)

    with pytest.raises(BudgetExceededError, match="team 'research' monthly budget"):
        await Pipeline([budgets], dispatch).run(context())
    assert dispatched == [] and await team_state(budgets) == (0, 0)


async def test_a_failed_upstream_releases_the_reservation() -> None:
    budgets = stage(1.0)

    async def fail(ctx: RequestContext) -> None:
        raise UpstreamUnavailableError("down", deployment="sim/sim-small")

    with pytest.raises(UpstreamUnavailableError):
        await Pipeline([budgets], fail).run(context())
    assert await team_state(budgets) == (0, 0)


async def test_alerts_are_logged_and_handed_on(caplog: pytest.LogCaptureFixture) -> None:
    alerts: list[BudgetAlert] = []
    # An alerts-only budget lets the 110,000 worst case through; 40,000 of 50,000 spent is 80 %.
    budgets = stage(0.05, Mode.SOFT, None, on_alert=alerts.append)
    pipeline = Pipeline([budgets], answer)
    ctx = context()
    with caplog.at_level(logging.WARNING, logger="pointsman.governance"):
        await pipeline.run(ctx)
        await pipeline.complete(ctx)
    assert [(a.budget, a.percent) for a in alerts] == [("team 'research' monthly budget", 70)]
    assert "budget alert: team 'research' monthly budget reached 70%" in caplog.text


class Unreachable(MemoryBackend):
    async def reserve(
        self, ledgers: Sequence[LedgerSpec], reservation_id: str, amount: int, ttl: float
    ) -> ReserveOutcome:
        raise StateUnavailableError("redis at redis://cache:6379/0 unreachable")


async def test_unreachable_state_fails_closed_unless_told_otherwise() -> None:
    book = BudgetBook([BudgetSpec(scope=Scope.TEAM, subject="research", limit_usd=1.0)])
    closed = Budgets(BudgetLedger(Unreachable(), book), worst_case, actual)
    with pytest.raises(ServiceUnavailableError) as refused:
        await Pipeline([closed], answer).run(context())
    assert refused.value.code == "state_unavailable" and refused.value.status == 503
    opened = Budgets(BudgetLedger(Unreachable(), book), worst_case, actual, fail_open=True)
    pipeline = Pipeline([opened], answer)
    ctx = context()
    await pipeline.run(ctx)
    await pipeline.complete(ctx)
    assert ctx.result is not None and "budgets" not in ctx.notes
