"""Recorded request contexts for the observe unit tests: real deployments, no sockets.

Times are on the perf-counter scale the pipeline uses; each helper builds the context a
finished request leaves behind (attempts, usage, first token, finish), so the tests can replay
timelines whose TTFT, TPOT and verdict are known by construction.
"""

from __future__ import annotations

from typing import Any

from pointsman.config import ProviderConfig
from pointsman.core.pipeline import Attempt, Caller, RequestContext
from pointsman.core.types import ChatRequest, Message, Usage
from pointsman.errors import PointsmanError
from pointsman.providers.registry import build_provider
from pointsman.routing.table import Deployment

PROVIDER = build_provider(
    "sim", ProviderConfig(protocol="openai", base_url="http://127.0.0.1:9/v1")
)
SMALL = Deployment(PROVIDER, "sim-small")
LARGE = Deployment(PROVIDER, "sim-large")
TEAM = Caller(key_id="key_1", name="k", org_id="org_1", team_id="team_search")


def context(
    *,
    alias: str = "fast",
    stream: bool = True,
    started: float = 100.0,
    first_token: float | None = None,
    finished: float = 101.0,
    output_tokens: int = 10,
    deployment: Deployment | None = SMALL,
    attempts: list[Attempt] | None = None,
    error: PointsmanError | None = None,
    caller: Caller | None = TEAM,
    notes: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> RequestContext:
    """A finished chat request. Without ``attempts``, one successful call to ``deployment``."""
    chat = ChatRequest(model=alias, messages=[Message(role="user", content="hi")], stream=stream)
    ctx = RequestContext(
        "req-1",
        "chat",
        body or {"model": alias, "messages": [{"role": "user", "content": "hi"}]},
        headers or {},
        chat=chat,
        alias=alias,
    )
    ctx.caller = caller
    ctx.started = started
    ctx.finished_at = finished
    ctx.first_token_at = first_token
    ctx.error = error
    ctx.notes.update(notes or {})
    if error is None:
        ctx.deployment = deployment
        ctx.usage = Usage(prompt_tokens=8, completion_tokens=output_tokens)
    if attempts is None and deployment is not None and error is None:
        latency = (first_token if first_token is not None else finished) - started
        attempts = [Attempt(deployment.name, 1, started, latency=latency, provider="sim")]
    ctx.attempts = attempts or []
    return ctx
