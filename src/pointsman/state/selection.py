"""Choosing the state backend at start-up, and refusing set-ups that would leak limits.

``state.url`` in the config selects it: absent or ``memory`` keeps state in the process (one
worker, zero setup); ``redis://``, ``rediss://`` or ``unix://`` shares it through Redis so that a
limit is the same with 1 or 10 replicas.
"""

from __future__ import annotations

from pointsman.errors import ConfigError
from pointsman.state.base import StateBackend
from pointsman.state.memory import MemoryBackend

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def make_backend(url: str | None, *, prefix: str = "pointsman:") -> StateBackend:
    """The backend for ``url``. Raises :class:`~pointsman.config.ConfigError` for unknown schemes.

    The Redis backend connects lazily; call ``await backend.ping()`` at start to fail early.
    """
    if url is None or url.strip().lower() in ("", "memory", "memory://"):
        return MemoryBackend()
    if url.startswith(REDIS_SCHEMES):
        from pointsman.state.redis import RedisBackend

        return RedisBackend.from_url(url, prefix=prefix)
    raise ConfigError(
        [
            f"state.url: unknown state backend '{url}'; write 'memory' (one worker) or "
            "'redis://host:6379/0' (shared by every worker and replica)"
        ],
        "state",
    )


def check_workers(backend: StateBackend, workers: int) -> None:
    """Refuse to run ``workers`` processes over state that only one process can see.

    Each worker would enforce every budget and limit alone, so N workers would allow N times
    each limit. Raises :class:`~pointsman.config.ConfigError` naming both settings and the fix.
    """
    if workers > 1 and not backend.shared:
        raise ConfigError(
            [
                f"server.workers: {workers} workers cannot share {backend.kind} state: each "
                f"would enforce budgets and rate limits alone, allowing {workers}x every limit; "
                "set state.url: redis://host:6379/0 or server.workers: 1"
            ],
            "state",
        )
