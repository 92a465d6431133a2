"""OpenAI wire format inbound: ``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/models``."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from pointsman.core.ids import new_id
from pointsman.core.pipeline import RequestContext
from pointsman.core.types import ChatRequest, EmbeddingRequest
from pointsman.errors import PointsmanError
from pointsman.gateway import Runtime
from pointsman.governance.auth import bearer_token
from pointsman.providers.base import ChatResult, ChatStream, EmbeddingResult
from pointsman.server.errors import openai_error_body, openai_error_response
from pointsman.server.relay import relay
from pointsman.server.streaming import SSEResponse
from pointsman.server.wire import parse_json, read_body, validate


def request_id(request: Request) -> str:
    return request.headers.get("x-request-id") or new_id()


class OpenAIRoutes:
    """Endpoints bound to a :class:`Runtime`; each request uses the gateway live when it began."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def chat_completions(self, request: Request) -> Response:
        gateway = self.runtime.gateway
        rid = request_id(request)
        try:
            body = parse_json(await read_body(request, gateway.config.server.max_body_bytes))
            chat = validate(body, ChatRequest)
            ctx = RequestContext(rid, "chat", body, request.headers, chat=chat, alias=chat.model)
            await gateway.serve(ctx)
        except PointsmanError as error:
            return openai_error_response(error, rid)
        ctx.response_headers["x-request-id"] = rid
        if ctx.stream is not None:
            return SSEResponse(relay(gateway, ctx, ctx.stream, OPENAI_SSE), ctx.response_headers)
        result = ctx.result
        assert isinstance(result, ChatResult)
        return Response(result.body, media_type="application/json", headers=ctx.response_headers)

    async def embeddings(self, request: Request) -> Response:
        gateway = self.runtime.gateway
        rid = request_id(request)
        try:
            body = parse_json(await read_body(request, gateway.config.server.max_body_bytes))
            embedding = validate(body, EmbeddingRequest)
            ctx = RequestContext(
                rid, "embeddings", body, request.headers, embedding=embedding, alias=embedding.model
            )
            await gateway.serve(ctx)
        except PointsmanError as error:
            return openai_error_response(error, rid)
        result = ctx.result
        assert isinstance(result, EmbeddingResult)
        ctx.response_headers["x-request-id"] = rid
        return Response(result.body, media_type="application/json", headers=ctx.response_headers)

    async def models(self, request: Request) -> Response:
        gateway = self.runtime.gateway
        try:
            caller = gateway.authenticate.identify(bearer_token(request.headers))
        except PointsmanError as error:
            return openai_error_response(error)
        data = [
            {"id": alias, "object": "model", "created": 0, "owned_by": "pointsman"}
            for alias in gateway.routes.aliases
            if caller.may_use(alias)
        ]
        body = msgspec.json.encode({"object": "list", "data": data})
        return Response(body, media_type="application/json")


class OpenAIFramer:
    """OpenAI SSE framing: ``data: <chunk>`` events, ``data: [DONE]`` at the end, and an
    error object as the last event of a stream cut short."""

    def batch(self, payloads: list[bytes]) -> bytes:
        return b"".join([b"data: " + payload + b"\n\n" for payload in payloads])

    def end(self, stream: ChatStream) -> bytes:
        return b"data: [DONE]\n\n"

    def error(self, error: PointsmanError) -> bytes:
        return b"data: " + openai_error_body(error) + b"\n\n"


OPENAI_SSE = OpenAIFramer()
