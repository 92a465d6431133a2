"""The ``cache:`` section of the config.

Shape::

    cache:
      enabled: true
      url: memory                  # or redis://127.0.0.1:6379/0 (shared by every replica)
      ttl_seconds: 3600
      max_entries: 10000
      max_bytes: 268435456
      scope: org                   # org | key | user: who may share an entry
      policy: deterministic        # deterministic (temperature 0 or a seed) | always | never
      semantic:
        enabled: false
        embedder: local            # local | hashing | <an embeddings alias of this gateway>
        threshold: 0.97
        verify: true               # check the two questions before serving (cache/verify.py)
        key_text: last_user        # last_user | full_context
        multi_turn: false
      aliases:                     # per-alias overrides of policy, ttl and semantic
        smart: {policy: always, ttl_seconds: 600, semantic: false}

A missing ``cache:`` section means exact caching of deterministic requests, in process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from msgspec import Meta, Struct, field

Policy = Literal["deterministic", "always", "never"]
ScopeBy = Literal["org", "key", "user"]
KeyText = Literal["last_user", "full_context"]

# Chosen from the QQP curve with the verifier on (README, docs/cache.md) for the shipped local
# embedder, on the tuning half of a split that keeps every question on one side: the lowest
# threshold of the 0.01 grid whose precision, less one standard error, reaches 0.95 (tuning
# 0.959; 0.96 gave 0.950). Held-out half: precision 0.957, recall 0.082; all pairs 0.958 and
# 0.080; unrelated false hits <= 0.001 %. Cosine alone never reaches 0.95 (0.92 at 0.98).
DEFAULT_THRESHOLD = 0.97


class SemanticSettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """Nearest-neighbour lookup on an embedding of the request's key text.

    ``embedder``: ``local`` (the MiniLM model of the ``semantic`` extra, offline), ``hashing``
    (word-feature hashing: no model, low precision, for tests and trials), or the name of an
    embeddings alias configured in this gateway (called through its own providers).
    ``verify``: serve a neighbour only when the verifier (:mod:`pointsman.cache.verify`) finds
    no differing number, negation, person, question kind, content word or reversed roles
    between the stored question and the new one. On by default because cosine alone serves
    "learn Python" for "learn Java": on QQP at 0.97 it lifts precision from 0.90 to 0.96 and
    keeps about two thirds of the recall; turn it off only with a threshold chosen without it.
    ``key_text``: ``last_user`` embeds the last user message; ``full_context`` every message.
    ``multi_turn``: also look up conversations with earlier turns or tool traffic (off: agent
    traffic rarely repeats safely). ``sync_seconds``: how often a replica reads the vectors
    other replicas added (shared backend only).
    """

    enabled: bool = False
    embedder: str = "local"
    threshold: Annotated[float, Meta(gt=0, le=1)] = DEFAULT_THRESHOLD
    verify: bool = True
    key_text: KeyText = "last_user"
    multi_turn: bool = False
    max_entries: Annotated[int, Meta(ge=1)] = 200_000
    max_text_chars: Annotated[int, Meta(ge=1)] = 2000
    sync_seconds: Annotated[float, Meta(gt=0)] = 0.5


class AliasCacheSettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """Overrides for one alias; ``None`` keeps the section-wide value."""

    policy: Policy | None = None
    ttl_seconds: Annotated[float, Meta(gt=0)] | None = None
    semantic: bool | None = None
    threshold: Annotated[float, Meta(gt=0, le=1)] | None = None


class CacheSettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """The response cache: exact (canonical request hash) and optional semantic lookup.

    ``url``: ``memory`` (this process) or a ``redis://`` URL shared by every replica; keys go
    under ``prefix``. ``max_entries``/``max_bytes`` bound the exact store (least recently used
    entries go first); ``max_entry_bytes`` skips answers larger than that. ``max_ttl_seconds``
    caps the per-request TTL a client may ask for.
    """

    enabled: bool = True
    url: str = "memory"
    prefix: str = "pointsman:cache:"
    ttl_seconds: Annotated[float, Meta(gt=0)] = 3600.0
    max_ttl_seconds: Annotated[float, Meta(gt=0)] = 86_400.0
    max_entries: Annotated[int, Meta(ge=1)] = 10_000
    max_bytes: Annotated[int, Meta(ge=1024)] = 256 * 1024 * 1024
    max_entry_bytes: Annotated[int, Meta(ge=256)] = 1024 * 1024
    scope: ScopeBy = "org"
    policy: Policy = "deterministic"
    semantic: SemanticSettings = field(default_factory=SemanticSettings)
    aliases: dict[str, AliasCacheSettings] = {}

    def policy_for(self, alias: str) -> Policy:
        override = self.aliases.get(alias)
        return override.policy if override and override.policy else self.policy

    def ttl_for(self, alias: str) -> float:
        override = self.aliases.get(alias)
        return override.ttl_seconds if override and override.ttl_seconds else self.ttl_seconds

    def semantic_for(self, alias: str) -> bool:
        override = self.aliases.get(alias)
        if override is not None and override.semantic is not None:
            return override.semantic and self.semantic.enabled
        return self.semantic.enabled

    def threshold_for(self, alias: str) -> float:
        override = self.aliases.get(alias)
        return override.threshold if override and override.threshold else self.semantic.threshold

    def problems(self, aliases: set[str]) -> list[str]:
        """Cross-field checks, each naming its path and the fix."""
        found: list[str] = []
        if self.url != "memory" and not self.url.startswith(("redis://", "rediss://", "unix://")):
            found.append(
                f"cache.url: '{self.url}' is neither 'memory' nor a redis:// URL; "
                "write e.g. redis://127.0.0.1:6379/0"
            )
        for name in self.aliases:
            if name not in aliases:
                known = ", ".join(sorted(aliases))
                found.append(f"cache.aliases.{name}: unknown alias '{name}'; known: {known}")
        return found


# The public question pairs `pointsman cache eval` reads by default (relative to the project).
EVAL_DATA = Path("../shared/data/cache/qqp_pairs.jsonl.gz")
