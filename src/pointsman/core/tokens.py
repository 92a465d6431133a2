"""Cheap token estimates for when an upstream reports no usage, and for pre-dispatch checks.

The estimate is deliberately simple (about four characters per token, plus a fixed overhead per
message, as OpenAI documents for English text). It runs on the hot path, so it never tokenizes:
it only measures string lengths. Exact counts always come from the upstream when it sends them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4  # role, separators
REPLY_PRIMER_TOKENS = 3
IMAGE_TOKENS = 765  # a 1024x1024 image at "high" detail, OpenAI's published figure


def estimate_text_tokens(text: str) -> int:
    """Tokens in ``text``: ceil(len / 4), and at least one for non-empty text."""
    if not text:
        return 0
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _content_tokens(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return estimate_text_tokens(content)
    total = 0
    for part in content:
        kind = part.get("type") if isinstance(part, Mapping) else getattr(part, "type", None)
        if kind == "text":
            text = part.get("text", "") if isinstance(part, Mapping) else part.text
            total += estimate_text_tokens(text)
        elif kind in ("image_url", "image", "input_image"):
            total += IMAGE_TOKENS
        else:
            total += estimate_text_tokens(str(part))
    return total


def estimate_prompt_tokens(messages: Iterable[Any], tools: Iterable[Any] | None = None) -> int:
    """Prompt tokens for OpenAI-shaped messages (dicts or objects with ``content``).

    Tool calls and tool definitions count by the length of their JSON text.
    """
    total = REPLY_PRIMER_TOKENS
    for message in messages:
        total += MESSAGE_OVERHEAD_TOKENS
        if isinstance(message, Mapping):
            total += _content_tokens(message.get("content"))
            calls = message.get("tool_calls")
        else:
            total += _content_tokens(getattr(message, "content", None))
            calls = getattr(message, "tool_calls", None)
        if calls:
            total += estimate_text_tokens(str(calls))
    if tools:
        total += estimate_text_tokens(str(list(tools)))
    return total
