"""Anthropic Messages wire format inbound: ``POST /v1/messages`` and ``/v1/messages/count_tokens``.

Anthropic-SDK clients and Claude-style agents use any model behind Pointsman through these:
the request is translated to the canonical one (:mod:`.anthropic_inbound`), runs through the
same pipeline as an OpenAI request (auth takes ``x-api-key``), and the answer is translated
back (:mod:`.anthropic_outbound`). Errors come in Anthropic's format with the matching status.
``count_tokens`` answers Pointsman's own estimate (marked ``x-pointsman-estimated: true``)
without calling an upstream.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from pointsman.core.pipeline import RequestContext
from pointsman.core.tokens import estimate_prompt_tokens
from pointsman.core.types import ChatRequest
from pointsman.errors import NotFoundError, PermissionDeniedError, PointsmanError
from pointsman.gateway import Runtime
from pointsman.governance.auth import bearer_token
from pointsman.providers.base import ChatResult
from pointsman.server.anthropic_inbound import (
    count_tokens_request,
    messages,
    to_canonical,
    tools,
)
from pointsman.server.anthropic_outbound import AnthropicFramer, to_message
from pointsman.server.errors import anthropic_error_response
from pointsman.server.openai_routes import request_id
from pointsman.server.relay import relay
from pointsman.server.streaming import SSEResponse
from pointsman.server.wire import parse_json, read_body, validate

__all__ = ["AnthropicRoutes"]


class AnthropicRoutes:
    """Endpoints bound to a :class:`Runtime`; each request uses the gateway live when it began."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def messages(self, request: Request) -> Response:
        gateway = self.runtime.gateway
        rid = request_id(request)
        try:
            raw = parse_json(await read_body(request, gateway.config.server.max_body_bytes))
            body = to_canonical(raw)
            chat = validate(body, ChatRequest)
            ctx = RequestContext(rid, "chat", body, request.headers, chat=chat, alias=chat.model)
            await gateway.serve(ctx)
        except PointsmanError as error:
            return anthropic_error_response(error, rid)
        ctx.response_headers["x-request-id"] = ctx.response_headers["request-id"] = rid
        stops: list[str] = body.get("stop") or []
        if ctx.stream is not None:
            estimate = estimate_prompt_tokens(body["messages"], body.get("tools"))
            framer = AnthropicFramer("msg_" + rid, estimate, stops)
            return SSEResponse(relay(gateway, ctx, ctx.stream, framer), ctx.response_headers)
        result = ctx.result
        assert isinstance(result, ChatResult)
        try:
            payload = to_message(result.body, result.usage, stops)
        except PointsmanError as error:
            return anthropic_error_response(error, rid)
        return Response(payload, media_type="application/json", headers=ctx.response_headers)

    async def count_tokens(self, request: Request) -> Response:
        gateway = self.runtime.gateway
        try:
            caller = gateway.authenticate.identify(bearer_token(request.headers))
            raw = parse_json(await read_body(request, gateway.config.server.max_body_bytes))
            parsed = count_tokens_request(raw)
            if parsed.model not in gateway.routes.aliases:
                message = f"The model '{parsed.model}' does not exist"
                raise NotFoundError(message, param="model", code="model_not_found")
            if not caller.may_use(parsed.model):
                raise PermissionDeniedError(
                    f"This key may not use the model '{parsed.model}'", param="model"
                )
            converted: dict[str, Any] = {}
            tools(parsed.tools, None, converted)
            count = estimate_prompt_tokens(messages(parsed), converted.get("tools"))
        except PointsmanError as error:
            return anthropic_error_response(error)
        return Response(
            msgspec.json.encode({"input_tokens": count}),
            media_type="application/json",
            headers={"x-pointsman-estimated": "true"},
        )
