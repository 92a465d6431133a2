"""Property tests of reservation arithmetic: random interleavings of reserve, settle, release and
the passage of time across three budget levels, checked against a plain reference model.

Invariants:
* a hard cap is never exceeded by ``spent + reserved``, except by exactly the "overrun" the
  contract allows (actual cost above the reservation, or a settle after the hold lapsed);
* the backend agrees with the model on every grant and on every ledger after every step;
* conservation: once every reservation is settled or released, nothing stays reserved and each
  level's spend is exactly the sum of what was settled on it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pointsman.state.base import LedgerSpec
from pointsman.state.memory import MemoryBackend

TTL = 30.0
EPOCH = 1_700_000_000.0

level_sets = st.sets(st.integers(0, 2), min_size=1).map(lambda s: tuple(sorted(s)))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), level_sets, st.integers(0, 400)),
        st.tuples(st.just("settle"), st.integers(0, 60), st.integers(0, 100)),  # % of amount
        st.tuples(st.just("overspend"), st.integers(0, 60), st.integers(1, 300)),  # extra
        st.tuples(st.just("release"), st.integers(0, 60), st.just(0)),
        st.tuples(st.just("advance"), st.floats(0, 40), st.just(0)),
    ),
    max_size=80,
)
caps = st.lists(st.one_of(st.none(), st.integers(0, 1200)), min_size=3, max_size=3)


@dataclass
class Model:
    caps: list[int | None]
    now: float = EPOCH
    spent: list[int] = field(default_factory=lambda: [0, 0, 0])
    overrun: list[int] = field(default_factory=lambda: [0, 0, 0])
    holds: dict[str, tuple[tuple[int, ...], int, float]] = field(default_factory=dict)

    def live(self, level: int) -> int:
        return sum(
            amount
            for levels, amount, expires in self.holds.values()
            if level in levels and expires > self.now
        )

    def reserve(self, rid: str, levels: tuple[int, ...], amount: int) -> bool:
        for i in levels:
            cap = self.caps[i]
            if cap is not None and self.spent[i] + self.live(i) + amount > cap:
                return False
        self.holds[rid] = (levels, amount, self.now + TTL)
        return True

    def settle(self, rid: str, levels: tuple[int, ...], actual: int) -> None:
        hold = self.holds.pop(rid, None)
        held = hold is not None and hold[2] > self.now
        for i in levels:
            self.spent[i] += actual
            self.overrun[i] += max(0, actual - hold[1]) if held and hold else actual


async def play(
    limits: list[int | None], ops: list[tuple[str, Any, Any]], *, strict: bool = False
) -> None:
    """Run ``ops`` on the memory backend and the model. ``strict`` settles only reservations
    still open (as :class:`BudgetLedger` does); otherwise any granted one, even twice."""
    model = Model(limits)
    backend = MemoryBackend(clock=lambda: model.now)
    ledgers = [LedgerSpec(f"{{o}}:l{i}", cap) for i, cap in enumerate(limits)]
    made: list[tuple[str, tuple[int, ...], int]] = []  # every granted reservation
    open_ids: set[str] = set()

    async def settle(pick: int, actual_of: int, mode: str) -> None:
        pool = [m for m in made if m[0] in open_ids] if strict else made
        if not pool:
            return
        rid, levels, amount = pool[pick % len(pool)]
        if mode == "settle":
            actual = amount * actual_of // 100
        elif mode == "overspend":
            actual = amount + actual_of
        else:
            actual = 0
        await backend.settle([ledgers[i] for i in levels], rid, actual)
        model.settle(rid, levels, actual)
        open_ids.discard(rid)

    for n, (kind, a, b) in enumerate(ops):
        if kind == "reserve":
            levels, amount = a, b
            rid = f"r{n}"
            outcome = await backend.reserve([ledgers[i] for i in levels], rid, amount, TTL)
            assert outcome.granted == model.reserve(rid, levels, amount)
            if outcome.granted:
                made.append((rid, levels, amount))
                open_ids.add(rid)
        elif kind == "advance":
            model.now += a
        else:
            await settle(a, b, kind)
        states = await backend.ledger_states(ledgers)
        for i, state in enumerate(states):
            assert state.spent == model.spent[i]
            assert state.reserved == model.live(i)
            cap = limits[i]
            if cap is not None:
                assert state.spent + state.reserved - model.overrun[i] <= cap
                if strict:
                    assert model.overrun[i] == 0
                    assert state.spent + state.reserved <= cap

    # Conservation: close everything still open, then nothing is held and spend adds up.
    for rid, levels, amount in made:
        if rid in open_ids:
            await backend.settle([ledgers[i] for i in levels], rid, amount)
            model.settle(rid, levels, amount)
    for i, state in enumerate(await backend.ledger_states(ledgers)):
        assert state.reserved == 0
        assert state.spent == model.spent[i]


@settings(max_examples=250, deadline=None)
@given(limits=caps, ops=operations)
def test_interleavings_never_exceed_a_hard_cap_and_conserve_spend(
    limits: list[int | None], ops: list[tuple[str, Any, Any]]
) -> None:
    asyncio.run(play(limits, ops))


@settings(max_examples=100, deadline=None)
@given(
    limits=caps,
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("reserve"), level_sets, st.integers(0, 400)),
            st.tuples(st.just("settle"), st.integers(0, 60), st.integers(0, 100)),
            st.tuples(st.just("release"), st.integers(0, 60), st.just(0)),
        ),
        max_size=80,
    ),
)
def test_with_true_worst_case_estimates_spend_plus_holds_stay_under_the_cap(
    limits: list[int | None], ops: list[tuple[str, Any, Any]]
) -> None:
    """No overspend, no lapse, no double settle: the strict guarantee, no allowance needed."""
    asyncio.run(play(limits, ops, strict=True))
