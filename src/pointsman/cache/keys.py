"""What a cached answer is filed under: scope, exact key, semantic partition and key text.

* **Scope**: who may share an entry. Per org by default (the caller's ``org_id``); per key or
  per user when configured. A caller without an org (the master key, ``auth: none``) gets a
  scope of its own, so its entries never mix with any org's. A hit never crosses scope: the
  scope is part of every store key and every index partition.
* **Exact key**: blake2b of the canonical encoding (msgspec, sorted keys) of the alias actually
  served and every body field that can change the answer. Fields that cannot (``stream``,
  ``stream_options``, ``user``, ``metadata``, ``store``) are dropped, so a streamed and a
  whole request share one entry; unknown fields are kept, because an upstream may act on them.
  Numbers of the sampling fields are normalised (``0`` and ``0.0`` are one key).
* **Semantic partition**: the same hash without the key text, so a semantic hit only ever
  matches a request that is identical but for its wording (same alias, system prompt, tools,
  sampling, earlier turns).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec

from pointsman.cache.settings import KeyText, Policy, ScopeBy
from pointsman.core.pipeline import Caller
from pointsman.core.types import ChatRequest

__all__ = ["Filing", "cacheable", "exact_key", "file_request", "scope_of", "semantic_text"]

IGNORED_FIELDS = frozenset({"stream", "stream_options", "user", "metadata", "store"})
_FLOAT_FIELDS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_encode = msgspec.json.Encoder(order="sorted").encode
MASTER_SCOPE = "~master"  # the master key's own scope ("~" never starts an "org:" scope)


def scope_of(caller: Caller | None, by: ScopeBy, request_user: str | None = None) -> str:
    """The scope a caller's entries live in (see the module docstring)."""
    if caller is None:
        return "~none"
    # No org (the master key, auth: none, a key issued outside any org): a scope of its own.
    base = f"org:{caller.org_id}" if caller.org_id else f"~{caller.key_id}"
    if by == "key":
        return f"{base}/key:{caller.key_id}"
    if by == "user":
        user = caller.user_id or request_user or ""
        return f"{base}/key:{caller.key_id}/user:{user}"
    return base


def cacheable(chat: ChatRequest, policy: Policy) -> bool:
    """Whether a request may be answered from (and stored into) the cache under ``policy``.

    ``deterministic`` admits temperature 0 or a fixed seed: the answers a client expects to
    repeat. ``always`` admits every request, ``never`` none.
    """
    if policy == "never":
        return False
    if policy == "always":
        return True
    return chat.temperature == 0 or chat.seed is not None


def _canonical(alias: str, body: dict[str, Any], drop: str | None = None) -> dict[str, Any]:
    canonical = {k: v for k, v in body.items() if k not in IGNORED_FIELDS}
    canonical["model"] = alias
    for name in _FLOAT_FIELDS:
        value = canonical.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            canonical[name] = float(value)
    if drop == "last_user":
        messages = list(canonical.get("messages") or [])
        for i in range(len(messages) - 1, -1, -1):
            if isinstance(messages[i], dict) and messages[i].get("role") == "user":
                messages[i] = {"role": "user", "content": "<key text>"}
                break
        canonical["messages"] = messages
    elif drop == "full_context":
        canonical["messages"] = "<key text>"
    return canonical


def _digest(value: Any) -> str:
    return hashlib.blake2b(_encode(value), digest_size=20).hexdigest()


def exact_key(alias: str, body: dict[str, Any]) -> str:
    """The exact key of a request body served through ``alias`` (40 hex characters)."""
    return _digest(_canonical(alias, body))


def _text_of(message: Any) -> str | None:
    content = message.content
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [getattr(part, "text", None) for part in content]
        if any(t is None for t in texts):
            return None  # images, audio, files: not text we can compare by meaning
        return "\n".join(t for t in texts if t is not None)
    return None


def semantic_text(chat: ChatRequest, mode: KeyText, multi_turn: bool) -> str | None:
    """The text to embed for a semantic lookup, or None when the request is not eligible.

    Eligible: only text content; with ``multi_turn`` off, exactly one user message and nothing
    but system/developer messages around it (no assistant turns, no tool traffic).
    """
    messages = chat.messages
    users = [m for m in messages if m.role == "user"]
    if not users:
        return None
    single_turn = len(users) == 1 and all(
        m.role in ("system", "developer", "user") and not m.tool_calls for m in messages
    )
    if not single_turn and not multi_turn:
        return None
    if mode == "last_user":
        return _text_of(users[-1])
    texts = [_text_of(m) for m in messages]
    if any(t is None for t in texts):
        return None
    return "\n".join(f"{m.role}: {t}" for m, t in zip(messages, texts, strict=True))


@dataclass(frozen=True, slots=True)
class Filing:
    """Where one request's answer is looked up and stored."""

    scope: str
    key: str  # exact key
    partition: str | None = None  # semantic partition (None: no semantic lookup)
    text: str | None = None  # the semantic key text


def file_request(
    scope: str,
    alias: str,
    chat: ChatRequest,
    body: dict[str, Any],
    *,
    semantic: bool,
    mode: KeyText,
    multi_turn: bool,
    max_chars: int,
) -> Filing:
    """The :class:`Filing` of a request; semantic fields only when it is eligible."""
    key = exact_key(alias, body)
    if not semantic:
        return Filing(scope, key)
    text = semantic_text(chat, mode, multi_turn)
    if text is None or not text.strip():
        return Filing(scope, key)
    return Filing(scope, key, _digest(_canonical(alias, body, mode)), text[:max_chars])
