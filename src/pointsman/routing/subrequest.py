"""Requests derived from a client's request: a tier's dispatch, a cascade step, a verifier call.

A derived context runs through the reliability dispatcher like any request, under the alias it
is sent to (so that alias's fallbacks, hedging and breakers apply), and shares with its parent
what must be seen whole: the list of attempts (every call is observed and priced), the response
headers and the notes (routing's record, pricing memos). :func:`adopt` moves a derived
request's answer onto the parent.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pointsman.core.pipeline import RequestContext
from pointsman.core.types import ChatRequest
from pointsman.routing.table import Deployment


def derive(
    ctx: RequestContext,
    alias: str,
    candidates: list[Deployment],
    *,
    chat: ChatRequest | None = None,
    body: dict[str, Any] | None = None,
) -> RequestContext:
    """A request for ``alias`` with ``ctx``'s caller and headers (``chat``/``body`` replace the
    parent's when given)."""
    return RequestContext(
        ctx.request_id,
        ctx.kind,
        ctx.body if body is None else body,
        ctx.headers,
        chat=ctx.chat if chat is None else chat,
        embedding=ctx.embedding,
        alias=alias,
        caller=ctx.caller,
        candidates=candidates,
        attempts=ctx.attempts,
        started=ctx.started,
        response_headers=ctx.response_headers,
        notes=ctx.notes,
    )


def adopt(parent: RequestContext, child: RequestContext) -> None:
    """Make ``child``'s answer the parent's."""
    parent.deployment = child.deployment
    parent.result = child.result
    parent.stream = child.stream
    parent.usage = child.usage
    parent.first_token_at = child.first_token_at


def whole_answer(
    chat: ChatRequest, body: dict[str, Any], **changes: Any
) -> tuple[ChatRequest, dict[str, Any]]:
    """A non-streamed copy of a chat request with ``changes`` (e.g. ``logprobs=True``), as the
    typed request and the raw body (the two must agree: adapters read one or the other)."""
    raw = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
    raw.update(changes)
    typed = msgspec.structs.replace(chat, stream=None, stream_options=None, **changes)
    return typed, raw
