"""Rate limits per key, team and model: requests and tokens per minute, concurrent requests, and
a cost-aware token bucket in budget units (micro-USD per second).

Algorithms, chosen for exactness across replicas (all state lives in the shared backend, and one
atomic operation checks every limit of a request, admitting it on all or none):

* RPM and TPM use a **sliding-window log**: every admitted request stays in the log with its time
  and weight until it is 60 s old, so "60 per minute" means no 60-second interval ever holds more
  than 60 admissions, with 1 or 10 replicas. (A sliding-window *counter* interpolates between two
  fixed windows and can admit a few percent too many or too few; fixed windows allow 2x at a
  boundary; hence the log.) The cost is memory proportional to the admissions in the window.
* TPM admits on an estimate (prompt estimate plus the requested output cap) and is settled with
  the actual token count: the request's log entry is re-weighted, so the window holds real usage.
* Concurrency uses leased slots: a slot is released when the request ends, and lapses after
  ``lease_ttl`` if its replica died.
* The cost bucket (see :mod:`pointsman.state.bucket`) refills ``usd_per_second`` up to
  ``burst_usd``; it is charged the estimated cost up front and corrected to the actual cost
  afterwards, which may put it in debt so the next requests wait.

A request that can never fit (estimated tokens or cost above the whole limit) is refused with
``request_too_large`` and no Retry-After. Refusals carry ``Retry-After`` (seconds) and
``retry-after-ms``; every answer carries OpenAI's ``x-ratelimit-*`` headers for the most
constraining request and token limits.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import msgspec
from msgspec import Meta

from pointsman.core.ids import new_id
from pointsman.errors import RateLimitError
from pointsman.governance.costs import MICROS_PER_USD
from pointsman.state.base import Admission, Bucket, Check, CheckState, LimitState, Slots, Window

WINDOW_SECONDS = 60.0
DEFAULT_LEASE_TTL = 900.0
BURST_SECONDS = 60.0  # default cost-bucket capacity: a minute of refill
CONCURRENCY_RETRY = 1.0  # a slot frees when some request ends; suggest retrying soon
_PLAN_CACHE_SIZE = 10_000  # (key, team, model) plans kept; all dropped when full or replaced

PosInt = Annotated[int, Meta(ge=1)]
PosFloat = Annotated[float, Meta(gt=0)]


class LimitSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """The limits of one key, team or model. Unset limits do not apply."""

    rpm: PosInt | None = None
    tpm: PosInt | None = None
    concurrent: PosInt | None = None
    usd_per_second: PosFloat | None = None
    burst_usd: PosFloat | None = None  # default: BURST_SECONDS of refill


class LimitBook(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Limits by key id, team id and model alias; ``"*"`` applies to each one without its own."""

    keys: dict[str, LimitSpec] = {}
    teams: dict[str, LimitSpec] = {}
    models: dict[str, LimitSpec] = {}

    def applicable(
        self, key: str | None, team: str | None, model: str | None
    ) -> list[tuple[str, str, LimitSpec]]:
        """``(scope, subject, spec)`` for each subject that has limits."""
        found = []
        for scope, table, subject in (
            ("key", self.keys, key),
            ("team", self.teams, team),
            ("model", self.models, model),
        ):
            if subject is None:
                continue
            spec = table.get(subject) or table.get("*")
            if spec is not None:
                found.append((scope, subject, spec))
        return found


@dataclass(frozen=True, slots=True)
class LimitRole:
    kind: str  # "requests", "tokens", "concurrent" or "cost"
    scope: str
    subject: str


@dataclass(frozen=True, slots=True)
class Ticket:
    """An admitted request: what to settle, and the headers to send."""

    entry_id: str
    checks: tuple[Check, ...]
    roles: tuple[LimitRole, ...]
    admission: Admission

    def headers(self) -> dict[str, str]:
        """OpenAI-style ``x-ratelimit-*`` headers for the tightest request and token limits."""
        return ratelimit_headers(self.roles, self.admission)


@dataclass(frozen=True, slots=True)
class _Plan:
    """The limits of one (key, team, model), resolved once: keys, limits, and what each limits.

    Checks that do not depend on the request (request counts, concurrency) are built here once
    and shared by every request; token windows and cost buckets are built per request with that
    request's weight (``tokens`` and ``cost`` hold their indices).
    """

    checks: tuple[Check, ...]
    roles: tuple[LimitRole, ...]
    tokens: tuple[int, ...]
    cost: tuple[int, ...]


@functools.lru_cache(maxsize=4096)
def format_reset(seconds: float) -> str:
    """A duration the way OpenAI writes it (Go style): ``20ms``, ``1.5s``, ``6m0s``, ``1h2m3s``."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    return f"{int(minutes)}m{text}" if minutes else text


def ratelimit_headers(roles: Sequence[LimitRole], admission: Admission) -> dict[str, str]:
    headers: dict[str, str] = {}
    tight: dict[str, CheckState] = {}  # the kind's state with the least remaining
    for role, state in zip(roles, admission.checks, strict=True):
        kind = role.kind
        if kind == "requests" or kind == "tokens":
            best = tight.get(kind)
            if best is None or state.remaining < best.remaining:
                tight[kind] = state
    for kind in ("requests", "tokens"):
        if kind in tight:
            least = tight[kind]
            headers[f"x-ratelimit-limit-{kind}"] = str(int(least.limit))
            headers[f"x-ratelimit-remaining-{kind}"] = str(int(least.remaining))
            headers[f"x-ratelimit-reset-{kind}"] = format_reset(least.reset_after)
    return headers


_UNITS = {
    "requests": "requests per minute",
    "tokens": "tokens per minute",
    "concurrent": "concurrent requests",
    "cost": "USD per second (burst {burst})",
}


class RateLimiter:
    """Admit requests against a :class:`LimitBook` held in a shared :class:`LimitState`.

    All limit keys carry one hash tag (``tag``), so the single atomic check of a request also
    works on Redis Cluster (on one shard).
    """

    def __init__(
        self,
        state: LimitState,
        book: LimitBook,
        *,
        window: float = WINDOW_SECONDS,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        tag: str = "rl",
    ) -> None:
        self.state = state
        self.book = book
        self.window = window
        self.lease_ttl = lease_ttl
        self.tag = tag

    @property
    def book(self) -> LimitBook:
        return self._book

    @book.setter
    def book(self, book: LimitBook) -> None:
        self._book = book
        self._plans: dict[tuple[str | None, str | None, str | None], _Plan] = {}

    def plan(
        self, key: str | None, team: str | None, model: str | None, *, tokens: int, cost: int
    ) -> tuple[tuple[Check, ...], tuple[LimitRole, ...]]:
        """The checks for one request, with what each one limits."""
        found = self._plans.get((key, team, model))
        if found is None:
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans.clear()
            found = self._plans[(key, team, model)] = self._resolve(key, team, model)
        if not found.tokens and not found.cost:
            return found.checks, found.roles
        checks = list(found.checks)
        for i in found.tokens:
            window = checks[i]
            assert isinstance(window, Window)
            checks[i] = Window(window.key, window.limit, window.seconds, max(0, tokens))
        for i in found.cost:
            bucket = checks[i]
            assert isinstance(bucket, Bucket)
            checks[i] = Bucket(bucket.key, bucket.capacity, bucket.rate, float(max(0, cost)))
        return tuple(checks), found.roles

    def _resolve(self, key: str | None, team: str | None, model: str | None) -> _Plan:
        checks: list[Check] = []
        roles: list[LimitRole] = []
        for scope, subject, spec in self.book.applicable(key, team, model):
            base = f"{{{self.tag}}}:{scope}:{subject}"
            if spec.rpm is not None:
                checks.append(Window(f"{base}:rpm", spec.rpm, self.window, 1))
                roles.append(LimitRole("requests", scope, subject))
            if spec.tpm is not None:
                checks.append(Window(f"{base}:tpm", spec.tpm, self.window, 0))
                roles.append(LimitRole("tokens", scope, subject))
            if spec.concurrent is not None:
                checks.append(Slots(f"{base}:conc", spec.concurrent, self.lease_ttl))
                roles.append(LimitRole("concurrent", scope, subject))
            if spec.usd_per_second is not None:
                rate = spec.usd_per_second * MICROS_PER_USD
                burst = (spec.burst_usd or spec.usd_per_second * BURST_SECONDS) * MICROS_PER_USD
                checks.append(Bucket(f"{base}:usd", burst, rate, 0.0))
                roles.append(LimitRole("cost", scope, subject))
        kinds = [role.kind for role in roles]
        return _Plan(
            tuple(checks),
            tuple(roles),
            tuple(i for i, kind in enumerate(kinds) if kind == "tokens"),
            tuple(i for i, kind in enumerate(kinds) if kind == "cost"),
        )

    async def admit(
        self,
        *,
        key: str | None,
        team: str | None,
        model: str | None,
        tokens: int,
        cost: int = 0,
    ) -> Ticket:
        """Admit a request estimated at ``tokens`` and ``cost`` micro-USD, or refuse it.

        Raises :class:`~pointsman.errors.RateLimitError` naming the limit, with ``Retry-After``
        and the ``x-ratelimit-*`` headers. Nothing is recorded on refusal. The entry gets a fresh
        random id: a client-supplied request id could repeat and share one concurrency lease.
        """
        checks, roles = self.plan(key, team, model, tokens=tokens, cost=cost)
        entry_id = new_id(8)
        if not checks:
            return Ticket(entry_id, (), (), Admission(True, ()))
        admission = await self.state.acquire(checks, entry_id)
        if admission.blocked is not None:
            raise _refusal(checks, roles, admission)
        return Ticket(entry_id, checks, roles, admission)

    async def settle(self, ticket: Ticket, *, tokens: int, cost: int) -> None:
        """Close an admitted request with its actual tokens and cost (micro-USD)."""
        if not ticket.checks:
            return
        actual = {"tokens": float(max(0, tokens)), "cost": float(max(0, cost))}
        actuals = [actual.get(role.kind, 1.0) for role in ticket.roles]
        await self.state.finish(ticket.checks, ticket.entry_id, actuals)

    async def renew(self, ticket: Ticket) -> None:
        """Extend the request's concurrency leases (call periodically on very long streams)."""
        slots = [check for check in ticket.checks if isinstance(check, Slots)]
        if slots:
            await self.state.renew(slots, ticket.entry_id)


def _refusal(
    checks: Sequence[Check], roles: Sequence[LimitRole], admission: Admission
) -> RateLimitError:
    index = admission.blocked if admission.blocked is not None else 0
    check, role, state = checks[index], roles[index], admission.checks[index]
    unit = _UNITS[role.kind]
    if isinstance(check, Bucket):
        limit = f"{check.rate / MICROS_PER_USD:g}"
        unit = unit.format(burst=f"{check.capacity / MICROS_PER_USD:g} USD")
    else:
        limit = f"{int(state.limit)}"
    what = f"{role.scope} '{role.subject}'"
    headers = ratelimit_headers(roles, admission)
    if state.retry_after < 0:
        asked = (
            f"{check.cost / MICROS_PER_USD:g} USD"
            if isinstance(check, Bucket)
            else f"{check.cost} tokens"
            if isinstance(check, Window)
            else "1"
        )
        return RateLimitError(
            f"Request too large for the {what} limit of {limit} {unit}: it needs {asked}, "
            "more than the limit can ever admit. Lower max_tokens or ask for a higher limit.",
            code="request_too_large",
            headers=headers,
        )
    wait = CONCURRENCY_RETRY if role.kind == "concurrent" else state.retry_after
    headers["Retry-After"] = str(max(1, math.ceil(wait)))
    headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
    return RateLimitError(
        f"Rate limit reached for {what}: {limit} {unit}. Retry in {format_reset(wait)}.",
        headers=headers,
    )
