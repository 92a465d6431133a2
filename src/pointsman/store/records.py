"""The usage record: one finished request, as the spend ledger stores it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from pointsman.core.types import Usage

__all__ = ["UsageRecord"]


class UsageRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One request's outcome. ``ts`` must be timezone-aware; ``cost_micros`` is micro-USD.

    ``request_id`` is unique in the ledger: writing the same record twice stores it once (so
    a batch retried after an unknown commit outcome never double-counts spend).

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

    def row(self) -> dict[str, Any]:
        """The column values for ``usage_records`` (no deep copy: every field is immutable)."""
        return msgspec.structs.asdict(self)
