"""What the demo's phases share: the master key and the tally of outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field

MASTER_KEY = "demo-master-key"


@dataclass
class Outcome:
    kind: str
    team: str = "-"
    model: str = "-"
    ok: bool = True
    ttft: float | None = None
    total: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    error: str = ""
    alias: str = "-"


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)
    spend: dict[str, float] = field(default_factory=dict)  # team -> USD, from the ledger
