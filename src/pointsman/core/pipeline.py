"""The request pipeline: a plain ordered list of stages over one :class:`RequestContext`.

Contract (after Bifrost's plugin hooks):

* ``on_request`` hooks run in list order. A hook may refuse the request by raising a
  :class:`~pointsman.errors.PointsmanError`, or short-circuit it by setting ``ctx.result`` (a cache
  hit, say); then no later stage and no dispatch runs.
* Otherwise the terminal (the dispatcher) runs and sets ``ctx.result`` or ``ctx.stream``.
* ``on_complete`` hooks run in *reverse* order, exactly once, for every stage whose
  ``on_request`` ran, whatever happened: success, refusal, upstream failure, client disconnect.
  For a stream they run when the stream has ended, so ``ctx.usage`` is final by then.
* A stage keeps its own state; it may read any field of the context but writes only its own
  fields and ``ctx.notes[<its name>]``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pointsman.core.types import ChatRequest, EmbeddingRequest, Usage
from pointsman.errors import PointsmanError

if TYPE_CHECKING:
    from pointsman.providers.base import ChatResult, ChatStream, EmbeddingResult
    from pointsman.routing.table import Deployment


@dataclass(slots=True, frozen=True)
class Caller:
    """Who is calling. ``aliases`` is None when every alias is allowed.

    ``org_id``/``team_id`` place a virtual key in the hierarchy budgets are charged to;
    ``data_class`` is the highest data class the key may send (None: no ceiling).
    """

    key_id: str
    name: str
    aliases: frozenset[str] | None = None
    admin: bool = False
    org_id: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    data_class: str | None = None
    log_bodies: bool = False  # the key's metadata allows request/response bodies in logs

    def may_use(self, alias: str) -> bool:
        return self.aliases is None or alias in self.aliases


@dataclass(slots=True)
class Attempt:
    """One call to one deployment, or one deployment skipped without a call.

    ``number`` counts calls within the request from 1 (0 for a skip). ``outcome`` is "ok", the
    error code that ended the call, or "skipped". ``cause`` says why it failed or was skipped:
    ``http_<status>``, ``connection``, ``timeout_<connect|ttft|idle|total>``, ``breaker_open``,
    ``rate_limited`` (waiting out a Retry-After), ``midstream`` ... ``latency`` is seconds to the
    first byte of the answer (streams) or to the whole answer.
    """

    deployment: str
    number: int
    started: float
    latency: float = 0.0
    outcome: str = "ok"  # "ok" or the error code that ended it
    provider: str = ""
    region: str | None = None
    alias: str = ""  # the alias of the chain this deployment was reached through
    cause: str | None = None
    status: int | None = None  # the upstream's HTTP status, when it answered one


@dataclass(slots=True)
class RequestContext:
    request_id: str
    kind: Literal["chat", "embeddings"]
    body: dict[str, Any]
    headers: Mapping[str, str]
    chat: ChatRequest | None = None
    embedding: EmbeddingRequest | None = None
    alias: str = ""
    caller: Caller | None = None
    candidates: list[Deployment] = field(default_factory=list)
    deployment: Deployment | None = None
    attempts: list[Attempt] = field(default_factory=list)
    result: ChatResult | EmbeddingResult | None = None
    stream: ChatStream | None = None
    usage: Usage | None = None
    error: PointsmanError | None = None
    started: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    finished_at: float | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    # Called by the edge with each batch of chunk payloads it relays, in order (the cache
    # keeps a streamed answer this way). A tap must be cheap and must not raise.
    stream_taps: list[Callable[[list[bytes]], None]] = field(default_factory=list)
    completed_stages: int = 0  # how many on_request hooks ran; owned by Pipeline

    @property
    def streaming(self) -> bool:
        return bool(self.chat is not None and self.chat.stream)


class Stage:
    """A pipeline stage. Subclasses override one or both hooks."""

    name: ClassVar[str] = "stage"

    async def on_request(self, ctx: RequestContext) -> None:
        """Inspect or refuse the request before dispatch."""

    async def on_complete(self, ctx: RequestContext) -> None:
        """Account for the outcome; must not raise."""


Terminal = Callable[[RequestContext], Awaitable[None]]


class Pipeline:
    """Runs stages and the terminal over a context; see the module docstring for the contract."""

    def __init__(self, stages: Sequence[Stage], terminal: Terminal) -> None:
        self.stages = tuple(stages)
        self.terminal = terminal
        # Only stages that override on_complete are called back: keeps the hot path short.
        self._completers = tuple(
            (i, s)
            for i, s in enumerate(self.stages)
            if type(s).on_complete is not Stage.on_complete
        )

    async def run(self, ctx: RequestContext) -> None:
        """Pre-hooks, then dispatch. On error, completes the context and re-raises."""
        try:
            for stage in self.stages:
                ctx.completed_stages += 1
                await stage.on_request(ctx)
                if ctx.result is not None:
                    return
            await self.terminal(ctx)
        except PointsmanError as error:
            ctx.error = error
            await self.complete(ctx)
            raise

    async def complete(self, ctx: RequestContext) -> None:
        """Post-hooks in reverse order for the stages that ran. Idempotent."""
        ran, ctx.completed_stages = ctx.completed_stages, -1
        if ran < 0:
            return
        ctx.finished_at = time.perf_counter()
        for index, stage in reversed(self._completers):
            if index < ran:
                await stage.on_complete(ctx)
