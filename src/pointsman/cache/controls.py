"""Per-request cache controls, read from the request headers.

* ``Cache-Control: no-cache``: do not answer from the cache (the fresh answer is still stored).
* ``Cache-Control: no-store``: do not store this answer (a cached one may still be served).
* ``Cache-Control: max-age=N``: accept only an entry at most N seconds old, and store the
  fresh answer for N seconds. ``max-age=0`` is ``no-cache``.
* ``x-pointsman-cache-ttl: N``: store the fresh answer for N seconds.

TTLs are capped by ``cache.max_ttl_seconds``. Unknown directives are ignored, as HTTP caches do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["TTL_HEADER", "Controls"]

TTL_HEADER = "x-pointsman-cache-ttl"


def _seconds(text: str) -> float | None:
    try:
        value = float(text.strip().strip('"'))
    except ValueError:
        return None
    return value if value >= 0 else None


@dataclass(frozen=True, slots=True)
class Controls:
    no_cache: bool = False
    no_store: bool = False
    max_age: float | None = None  # seconds; None: any live entry
    ttl: float | None = None  # seconds to store for; None: the configured TTL

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> Controls:
        no_cache = no_store = False
        max_age: float | None = None
        for directive in (headers.get("cache-control") or "").lower().split(","):
            name, _, value = directive.strip().partition("=")
            if name == "no-cache":
                no_cache = True
            elif name == "no-store":
                no_store = True
            elif name == "max-age":
                max_age = _seconds(value)
        ttl = _seconds(headers.get(TTL_HEADER) or "")
        if max_age is not None:
            no_cache = no_cache or max_age == 0
            ttl = ttl if ttl is not None else (max_age or None)
        return cls(no_cache, no_store, max_age, ttl if ttl else None)
