"""The usage record: one finished request, as the spend ledger stores it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from pointsman.core.ids import new_id
from pointsman.core.types import Usage

if TYPE_CHECKING:
    from pointsman.core.pipeline import RequestContext

__all__ = ["UsageRecord", "ledger_ids"]

CLIENT_ID_HEADER = "x-request-id"
_LEDGER_ID = "ledger.id"


def ledger_ids(ctx: RequestContext) -> tuple[str, str | None]:
    """``(ledger id, client id)`` for a request (memoised on ``ctx``).

    The request id a client sees is its own ``x-request-id`` when it sent one; clients may
    repeat those (a retry with the same id, a fixed id), and the ledger keys records by a unique
    id, so such a request gets a fresh id of the gateway's for the ledger, and the client's is
    kept beside it.
    """
    found = ctx.notes.get(_LEDGER_ID)
    if found is None:
        client = ctx.headers.get(CLIENT_ID_HEADER)
        found = ctx.notes[_LEDGER_ID] = (ctx.request_id if client is None else new_id(), client)
    return found


class UsageRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One request's outcome. ``ts`` must be timezone-aware; ``cost_micros`` is micro-USD.

    ``request_id`` is unique in the ledger: writing the same record twice stores it once (so
    a batch retried after an unknown commit outcome never double-counts spend). It is always an
    id the gateway made; the client's own ``x-request-id`` (which may repeat) goes in
    ``client_request_id``.

    A msgspec struct rather than a dataclass: one is made for every request, and a frozen
    dataclass of this width costs several times more to build. The fields are in the order of
    the ledger's columns (``store/tables.py``), so that a row is the record as a tuple (a test
    checks the two agree).
    """

    request_id: str
    ts: datetime
    org_id: str | None = None
    team_id: str | None = None
    key_id: str | None = None
    user_id: str | None = None
    feature: str | None = None
    alias: str
    deployment: str | None = None
    provider: str | None = None
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_micros: int = 0
    catalog_version: str = ""
    status: str = "ok"
    cache_hit: bool = False
    latency_ms: int = 0
    ttft_ms: int | None = None
    client_request_id: str | None = None

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise ValueError("UsageRecord.ts must be timezone-aware (use datetime.now(UTC))")

    @classmethod
    def from_usage(
        cls,
        request_id: str,
        alias: str,
        usage: Usage | None,
        *,
        cost_micros: int,
        catalog_version: str,
        ts: datetime | None = None,
        **fields: Any,
    ) -> UsageRecord:
        """A record from a :class:`~pointsman.core.types.Usage` (None: no tokens, e.g. errors)."""
        usage = usage or Usage()
        return cls(
            request_id=request_id,
            ts=ts or datetime.now(UTC),
            alias=alias,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_micros=cost_micros,
            catalog_version=catalog_version,
            **fields,
        )
