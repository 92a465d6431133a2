"""The conformance matrix: inbound client wire formats, upstream protocols, features.

Every test of the suite takes a :class:`Case` (one inbound client and one upstream protocol)
and is marked with the :data:`FEATURES` entry it checks. Capability flags say what a protocol
(as served by the simulated provider) can show at all; a test for a capability the protocol
lacks is skipped with an ``n/a:`` reason, which the compatibility table prints as "n/a".
Adding a provider protocol means adding one :class:`Upstream` entry here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass(frozen=True)
class Upstream:
    """An upstream protocol, how the gateway reaches it, and what it can show."""

    name: str
    base_path: str  # appended to the simulator's URL to make the provider's base_url
    flags: frozenset[str] = field(default_factory=frozenset)


# Capability flags.
ARGS_IN_PIECES = "streaming of tool arguments in pieces"  # Gemini sends each call whole
REASONING = "reasoning (thinking) output"  # the simulator's OpenAI wire has none
CACHED_TOKENS = "cached-token usage"  # the simulator's OpenAI wire reports none

UPSTREAMS = (
    Upstream("openai", "/v1", frozenset({ARGS_IN_PIECES})),
    Upstream(
        "anthropic",
        "/v1",
        frozenset({ARGS_IN_PIECES, REASONING, CACHED_TOKENS}),
    ),
    Upstream("gemini", "/v1beta", frozenset({REASONING, CACHED_TOKENS})),
)
INBOUNDS = ("openai", "anthropic")  # client SDK → /v1/chat/completions, /v1/messages
INBOUND_TITLES = {
    "openai": "OpenAI SDK → `/v1/chat/completions`",
    "anthropic": "Anthropic SDK → `/v1/messages`",
}


@dataclass(frozen=True)
class Case:
    inbound: str
    upstream: Upstream

    @property
    def id(self) -> str:
        return f"{self.inbound}-sdk/{self.upstream.name}"

    def alias(self, variant: str = "") -> str:
        """The gateway alias serving this case's upstream (``variant``: a faulty twin)."""
        return f"{self.upstream.name}-{variant}" if variant else self.upstream.name

    def need(self, flag: str) -> None:
        """Skip as not applicable unless the upstream has ``flag``."""
        if flag not in self.upstream.flags:
            pytest.skip(f"n/a: {self.upstream.name} upstream has no {flag}")


CASES = [Case(inbound, upstream) for inbound in INBOUNDS for upstream in UPSTREAMS]

# (marker id, row title) in table order.
FEATURES: list[tuple[str, str]] = [
    ("chat", "plain chat"),
    ("stream", "streaming text"),
    ("system", "system prompt"),
    ("multi-turn", "multi-turn history"),
    ("max-tokens", "max tokens → length"),
    ("stop", "stop sequences"),
    ("usage", "usage (prompt / completion)"),
    ("usage-stream", "usage when streaming"),
    ("cached-usage", "cached-token usage (normalised)"),
    ("json", "JSON mode (json_schema)"),
    ("tools", "tool call"),
    ("tools-stream", "tool call, streaming"),
    ("parallel-tools", "several parallel tool calls"),
    ("args-pieces", "tool arguments split across many chunks"),
    ("tool-results", "tool results round trip"),
    ("reasoning", "reasoning / thinking output"),
    ("reasoning-round-trip", "thinking kept intact across tool turns"),
    ("error-400", "upstream 400 → bad request"),
    ("error-auth", "upstream refuses our key → 5xx naming the cause"),
    ("error-429", "upstream 429 → rate limited, Retry-After"),
    ("error-5xx", "upstream 500/503/529 → 5xx naming the cause"),
    ("context-window", "prompt too long → context_length_exceeded"),
    ("filter-prompt", "content filter on the prompt → 400"),
    ("filter-output", "content filter on the answer → finish content_filter"),
    ("truncated-json", "malformed answer (truncated JSON) → 5xx"),
    ("broken-sse", "malformed stream (broken SSE) → error event"),
    ("disconnect", "connection lost mid-stream → error event"),
    ("hang", "upstream never answers → timeout error, no hang"),
]
FEATURE_IDS = [name for name, _ in FEATURES]
