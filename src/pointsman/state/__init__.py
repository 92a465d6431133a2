"""Shared counters and buckets behind one seam: in-process memory, or Redis for many replicas.

See :mod:`pointsman.state.base` for the contract every backend keeps.
"""

from pointsman.state.base import (
    Admission,
    Bucket,
    Check,
    CheckState,
    LedgerSpec,
    LedgerState,
    ReserveOutcome,
    SettleOutcome,
    Slots,
    StateBackend,
    StateUnavailableError,
    Threshold,
    Window,
)
from pointsman.state.memory import MemoryBackend
from pointsman.state.selection import check_workers, make_backend

__all__ = [
    "Admission",
    "Bucket",
    "Check",
    "CheckState",
    "LedgerSpec",
    "LedgerState",
    "MemoryBackend",
    "ReserveOutcome",
    "SettleOutcome",
    "Slots",
    "StateBackend",
    "StateUnavailableError",
    "Threshold",
    "Window",
    "check_workers",
    "make_backend",
]
