"""The OpenAI wire protocol: ``POST /v1/chat/completions``, ``POST /v1/embeddings``,
``GET /v1/models`` and ``GET /v1/models/{id}``.

Every request goes through the same gates, in order: API key (401 ``invalid_api_key``),
body decoding (400 naming the field), model lookup (404 ``model_not_found``), request
validation (400), context window (400 ``context_length_exceeded``), then the fault draw
(injected 429/5xx with ``Retry-After``, dropped connection, or no answer at all). Errors use
OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import msgspec

from pointsman.core.tokens import estimate_prompt_tokens, estimate_text_tokens
from pointsman.simulator.answer import AnswerError, answer
from pointsman.simulator.connection import Request
from pointsman.simulator.embeddings import embed, to_base64
from pointsman.simulator.faults import Draw, FaultHeaderError
from pointsman.simulator.profiles import Profile
from pointsman.simulator.replies import (
    AnyReply,
    Drop,
    Hang,
    Reply,
    StreamReply,
    error_reply,
    json_reply,
)
from pointsman.simulator.routing import Route
from pointsman.simulator.state import SimState
from pointsman.simulator.wire import gates
from pointsman.simulator.wire import openai_render as render
from pointsman.simulator.wire.openai_requests import (
    ChatRequest,
    EmbeddingsRequest,
    InvalidRequest,
    embedding_inputs,
    to_prompt,
)

__all__ = ["OWNED_BY", "ROUTES"]

OWNED_BY = "pointsman-simulator"
_CHAT = msgspec.json.Decoder(ChatRequest)
_EMBEDDINGS = msgspec.json.Decoder(EmbeddingsRequest)
_STREAM_HEADERS = b"cache-control: no-cache\r\n"
_MAX_DIMENSIONS = 8192


class _Rejected(Exception):
    """Carries an error reply out of a gate."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply


def _reject(
    state: SimState,
    model: str,
    status: int,
    message: str,
    code: str | None = None,
    param: str | None = None,
) -> _Rejected:
    state.stats.record(model, f"rejected_{status}")
    type_ = "invalid_request_error" if status < 500 else "server_error"
    return _Rejected(error_reply(status, message, type_, code, param))


def _check_key(state: SimState, request: Request) -> None:
    if state.api_key is None:
        return
    given = request.headers.get(b"authorization", b"")
    if request.headers.get(b"x-api-key") == state.api_key.encode():
        return  # Anthropic-style auth: GET /v1/models is also Anthropic's model list
    if given != b"Bearer " + state.api_key.encode():
        shown = given.removeprefix(b"Bearer ").decode("latin-1")
        hint = f"Incorrect API key provided: {shown[:4]}***." if shown else "No API key provided."
        raise _reject(state, "(unauthenticated)", 401, hint, "invalid_api_key")


def _decode(state: SimState, decoder: msgspec.json.Decoder[Any], body: bytes) -> Any:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        message, _, at = str(exc).partition(" - at `$.")
        param = at.rstrip("`") or _missing_field(message)
        raise _reject(
            state, "(invalid)", 400, f"Invalid request body: {exc}", None, param
        ) from None
    except msgspec.DecodeError as exc:
        raise _reject(state, "(invalid)", 400, f"Request body is not valid JSON: {exc}") from None


def _missing_field(message: str) -> str | None:
    _, _, rest = message.partition("field `")
    return rest.split("`", 1)[0] or None


def _profile(state: SimState, model: str) -> Profile:
    profile = state.profiles.get(model)
    if profile is None:
        message = f"The model `{model}` does not exist or you do not have access to it."
        raise _reject(state, model, 404, message, "model_not_found", "model")
    return profile


def _draw(state: SimState, profile: Profile, request: Request) -> Draw:
    headers = request.headers
    try:
        return state.faults.draw(
            profile, headers.get(b"x-sim-fault"), headers.get(b"x-sim-ttft-ms")
        )
    except FaultHeaderError as exc:
        raise _reject(state, profile.name, 400, str(exc)) from None


def _fault_reply(state: SimState, profile: Profile, draw: Draw) -> AnyReply | None:
    """The reply for a failing draw (recorded in stats), or None when the request succeeds."""
    model = profile.name
    if draw.hang:
        state.stats.record(model, "timeout")
        return Hang()
    status = draw.error
    if status is None:
        return None
    state.stats.record(model, f"error_{status}")
    retry = profile.retry_after_s
    headers = b"retry-after: %d\r\nretry-after-ms: %d\r\n" % (math.ceil(retry), int(retry * 1000))
    if status == 429:
        headers += (
            b"x-ratelimit-limit-requests: 1000\r\nx-ratelimit-remaining-requests: 0\r\n"
            b"x-ratelimit-reset-requests: %gs\r\nx-ratelimit-limit-tokens: 100000\r\n"
            b"x-ratelimit-remaining-tokens: 0\r\nx-ratelimit-reset-tokens: %gs\r\n"
        ) % (retry, retry)
        message = f"Rate limit reached for {model} (simulated). Please try again in {retry:g}s."
        return error_reply(429, message, "requests", "rate_limit_exceeded", None, headers)
    if status == 503:
        message = f"The model {model} is currently unavailable (simulated outage)."
        return error_reply(503, message, "server_error", "service_unavailable", None, headers)
    if status >= 500:
        message = "The server had an error while processing your request (simulated)."
        return error_reply(status, message, "server_error", None, None, headers)
    message = f"Simulated client error {status}."
    return error_reply(status, message, "invalid_request_error", None, None, headers)


_FILTERED = "The response was filtered due to the prompt triggering content management policy."


def _invalid(status: int, message: str) -> Reply:
    return error_reply(status, message, "invalid_request_error")


def chat_completions(state: SimState, request: Request) -> AnyReply:
    """``POST /v1/chat/completions``: a completion or a stream of chunks."""
    try:
        return _chat(state, request)
    except (_Rejected, gates.Rejected) as rejected:
        return rejected.reply


def _chat(state: SimState, request: Request) -> AnyReply:
    _check_key(state, request)
    body: ChatRequest = _decode(state, _CHAT, request.body)
    profile = _profile(state, body.model)
    try:
        prompt = to_prompt(body)
    except InvalidRequest as exc:
        raise _reject(state, body.model, 400, str(exc), None, exc.param) from None
    prompt_tokens = estimate_prompt_tokens(body.messages, body.tools)
    if prompt_tokens > profile.context_window:
        message = (
            f"This model's maximum context length is {profile.context_window} tokens. "
            f"However, your messages resulted in {prompt_tokens} tokens. "
            "Please reduce the length of the messages."
        )
        raise _reject(state, body.model, 400, message, "context_length_exceeded", "messages")
    draw = _draw(state, profile, request)
    failed = _fault_reply(state, profile, draw)
    if failed is not None:
        return failed
    filtered = gates.content_filter(state, request, body.model, _invalid)
    if filtered == "prompt":  # what Azure OpenAI answers when its filter flags the prompt
        raise _reject(state, body.model, 400, _FILTERED, "content_filter", "prompt")
    try:
        choices = answer(prompt, profile.output_tokens)
    except AnswerError as exc:
        raise _reject(state, body.model, 400, str(exc), None, exc.param) from None
    if filtered == "output":
        choices = gates.filter_output(choices)
    rid = f"chatcmpl-sim{state.next_id():012d}"
    created = int(time.time())
    interval = 1 / profile.tokens_per_s if profile.tokens_per_s else 0.0
    completion_tokens = sum(c.completion_tokens for c in choices)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        head, paced, tail = render.stream_events(
            rid, created, body.model, choices, prompt_tokens, completion_tokens, include_usage
        )
        cut = profile.disconnect_after_tokens if draw.disconnect else None
        state.stats.record(body.model, "disconnect" if draw.disconnect else "ok")
        return StreamReply(head, paced, tail, draw.ttft_s, interval, cut, _STREAM_HEADERS)
    if draw.disconnect:
        state.stats.record(body.model, "disconnect")
        return Drop(draw.ttft_s)
    state.stats.record(body.model, "ok")
    payload = render.completion(rid, created, body.model, choices, prompt_tokens, completion_tokens)
    return Reply(200, payload, delay_s=draw.ttft_s + interval * completion_tokens)


def embeddings(state: SimState, request: Request) -> AnyReply:
    """``POST /v1/embeddings``: deterministic unit vectors (see :mod:`..embeddings`)."""
    try:
        return _embeddings(state, request)
    except _Rejected as rejected:
        return rejected.reply


def _embeddings(state: SimState, request: Request) -> AnyReply:
    _check_key(state, request)
    body: EmbeddingsRequest = _decode(state, _EMBEDDINGS, request.body)
    profile = _profile(state, body.model)
    try:
        inputs = embedding_inputs(body.input)
    except InvalidRequest as exc:
        raise _reject(state, body.model, 400, str(exc), None, exc.param) from None
    dim = body.dimensions if body.dimensions is not None else profile.embedding_dim
    if not 1 <= dim <= _MAX_DIMENSIONS:
        message = f"dimensions must be between 1 and {_MAX_DIMENSIONS} (got {dim})"
        raise _reject(state, body.model, 400, message, None, "dimensions")
    if body.encoding_format not in (None, "float", "base64"):
        message = f"encoding_format must be 'float' or 'base64' (got {body.encoding_format!r})"
        raise _reject(state, body.model, 400, message, None, "encoding_format")
    counts = [estimate_text_tokens(i) if isinstance(i, str) else len(i) for i in inputs]
    if max(counts) > profile.context_window:
        message = (
            f"This model's maximum context length is {profile.context_window} tokens, "
            f"however you requested {max(counts)} tokens in one input."
        )
        raise _reject(state, body.model, 400, message, "context_length_exceeded", "input")
    draw = _draw(state, profile, request)
    failed = _fault_reply(state, profile, draw)
    if failed is not None:
        return failed
    if draw.disconnect:
        state.stats.record(body.model, "disconnect")
        return Drop(draw.ttft_s)
    as_base64 = body.encoding_format == "base64"
    data = []
    for index, item in enumerate(inputs):
        vector = embed(item, dim)
        value: list[float] | str = to_base64(vector) if as_base64 else vector
        data.append({"object": "embedding", "index": index, "embedding": value})
    usage = {"prompt_tokens": sum(counts), "total_tokens": sum(counts)}
    payload = {"object": "list", "data": data, "model": body.model, "usage": usage}
    state.stats.record(body.model, "ok")
    reply = json_reply(200, payload)
    reply.delay_s = draw.ttft_s
    return reply


def _model_entry(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": OWNED_BY}


def list_models(state: SimState, request: Request) -> AnyReply:
    """``GET /v1/models``: one entry per served profile, owned by ``pointsman-simulator``."""
    try:
        _check_key(state, request)
    except _Rejected as rejected:
        return rejected.reply
    return json_reply(200, {"object": "list", "data": [_model_entry(n) for n in state.profiles]})


def get_model(state: SimState, request: Request) -> AnyReply:
    """``GET /v1/models/{id}``: one model, or 404 ``model_not_found``."""
    try:
        _check_key(state, request)
        name = request.path.removeprefix("/v1/models/")
        _profile(state, name)
    except _Rejected as rejected:
        return rejected.reply
    return json_reply(200, _model_entry(name))


ROUTES = (
    Route("POST", "/v1/chat/completions", chat_completions),
    Route("POST", "/v1/embeddings", embeddings),
    Route("GET", "/v1/models", list_models),
    Route("GET", "/v1/models/", get_model, prefix=True),
)
