"""The Gemini API wire protocol: ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse``, and the model list ``GET /v1beta/models``.

Gates, in order: the API key (``x-goog-api-key`` header or ``?key=``; missing: 403
``PERMISSION_DENIED``, wrong: 400 ``INVALID_ARGUMENT`` with reason ``API_KEY_INVALID``, as
Google answers), the method in the path (404), body decoding (400), model lookup (404
``NOT_FOUND``), request validation (400, see :mod:`.gemini_requests`), context window (400
"The input token count ... exceeds the maximum"), ``x-sim-filter``, then the fault draw (429
``RESOURCE_EXHAUSTED``, 500 ``INTERNAL``, 503 ``UNAVAILABLE`` ..., dropped connections,
hangs). A prompt the filter refuses gets ``promptFeedback.blockReason: SAFETY`` and no
candidates; an answer it stops ends with ``finishReason: SAFETY``.

With ``thinkingConfig`` (budget not 0) answers start with a ``thought`` part, report
``thoughtsTokenCount``, and the first function call carries a ``thoughtSignature``. A system
instruction of at least 32 tokens is reported as ``cachedContentTokenCount`` (implicit
caching).
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, unquote

import msgspec

from pointsman.simulator import text as textgen
from pointsman.simulator.answer import AnswerError, answer
from pointsman.simulator.connection import Request
from pointsman.simulator.replies import AnyReply, Drop, Reply, StreamReply
from pointsman.simulator.routing import Route
from pointsman.simulator.state import SimState
from pointsman.simulator.wire import gates
from pointsman.simulator.wire import gemini_render as render
from pointsman.simulator.wire.gates import Rejected, reject
from pointsman.simulator.wire.gemini_requests import GenerateRequest, Parsed, to_prompt
from pointsman.simulator.wire.openai_requests import InvalidRequest

__all__ = ["ROUTES"]

PREFIX = "/v1beta/models/"
_DECODER = msgspec.json.Decoder(GenerateRequest)
_STREAM_HEADERS = b"cache-control: no-cache\r\n"
THINKING_TOKENS = 12
_UNREGISTERED = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


def _error(status: int, message: str) -> Reply:
    return render.error_reply(status, message)


def _check_key(state: SimState, request: Request, query: dict[str, list[str]]) -> None:
    if state.api_key is None:
        return
    given = request.headers.get(b"x-goog-api-key")
    keys = query.get("key") or []
    key = given.decode("latin-1") if given is not None else (keys[0] if keys else None)
    if key is None:
        raise reject(state, "(unauthenticated)", 403, _UNREGISTERED, _error)
    if key != state.api_key:
        state.stats.record("(unauthenticated)", "rejected_400")
        message = "API key not valid. Please pass a valid API key."
        raise Rejected(render.error_reply(400, message, "API_KEY_INVALID"))


def generate(state: SimState, request: Request) -> AnyReply:
    """``POST /v1beta/models/{model}:generateContent`` or ``:streamGenerateContent``."""
    try:
        return _generate(state, request)
    except Rejected as rejected:
        return rejected.reply


def _generate(state: SimState, request: Request) -> AnyReply:
    query = parse_qs(request.query)
    _check_key(state, request, query)
    model, _, method = unquote(request.path.removeprefix(PREFIX)).partition(":")
    if method not in ("generateContent", "streamGenerateContent"):
        raise reject(state, model, 404, f"unknown method {method!r} on {request.path}", _error)
    stream = method == "streamGenerateContent"
    if stream and query.get("alt") != ["sse"]:
        raise reject(state, model, 400, "the simulator streams with alt=sse only", _error)
    try:
        body = _DECODER.decode(request.body)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise reject(state, model, 400, f"Invalid JSON payload received. {exc}", _error) from None
    served = gates.profile(state, model, _error)
    try:
        parsed = to_prompt(body, served.output_tokens)
    except InvalidRequest as exc:
        raise reject(state, model, 400, str(exc), _error) from None
    if parsed.prompt_tokens > served.context_window:
        message = (
            f"The input token count ({parsed.prompt_tokens}) exceeds the maximum number of "
            f"tokens allowed ({served.context_window})."
        )
        raise reject(state, model, 400, message, _error)
    filtered = gates.content_filter(state, request, model, _error)
    fate = gates.draw(state, served, request, _error)
    failed = gates.fault_reply(state, served, fate, _error)
    if failed is not None:
        return failed
    result = _answer(state, model, parsed, served.output_tokens, filtered)
    interval = 1 / served.tokens_per_s if served.tokens_per_s else 0.0
    if filtered == "prompt":
        state.stats.record(model, "ok")
        body_bytes = render.blocked(result)
        if stream:
            event = b"data: " + body_bytes + b"\r\n\r\n"
            return StreamReply([], [], [event], fate.ttft_s, 0.0, None, _STREAM_HEADERS)
        return Reply(200, body_bytes, delay_s=fate.ttft_s)
    if stream:
        head, paced, tail = render.stream_events(result)
        cut = served.disconnect_after_tokens if fate.disconnect else None
        state.stats.record(model, "disconnect" if fate.disconnect else "ok")
        return StreamReply(head, paced, tail, fate.ttft_s, interval, cut, _STREAM_HEADERS)
    if fate.disconnect:
        state.stats.record(model, "disconnect")
        return Drop(fate.ttft_s)
    state.stats.record(model, "ok")
    tokens = sum(c.completion_tokens for c in result.choices) + len(result.thinking)
    return Reply(200, render.response(result), delay_s=fate.ttft_s + interval * tokens)


def _answer(
    state: SimState, model: str, parsed: Parsed, default: int, filtered: str | None
) -> render.Answer:
    rid = f"sim{state.next_id():016d}"
    if filtered == "prompt":
        return render.Answer(model, rid, [], parsed.prompt_tokens, 0, [])
    try:
        choices = answer(parsed.prompt, default)
    except AnswerError as exc:
        raise reject(state, model, 400, str(exc), _error) from None
    if filtered == "output":
        choices = gates.filter_output(choices)
    thinking: list[str] = []
    if parsed.thinking:
        key = hashlib.blake2b(msgspec.json.encode(parsed.prompt.messages), digest_size=16).digest()
        thinking = list(textgen.word_tokens(key + b"/thoughts", THINKING_TOKENS))
    tokens = (parsed.prompt_tokens, parsed.cached_tokens)
    return render.Answer(model, rid, choices, *tokens, thinking)


def list_models(state: SimState, request: Request) -> AnyReply:
    """``GET /v1beta/models``: one entry per served profile, as Gemini lists models."""
    try:
        _check_key(state, request, parse_qs(request.query))
    except Rejected as rejected:
        return rejected.reply
    methods = ["generateContent", "streamGenerateContent", "countTokens"]
    models = [
        {
            "name": f"models/{name}",
            "displayName": f"{name} (simulated)",
            "inputTokenLimit": profile.context_window,
            "supportedGenerationMethods": methods,
        }
        for name, profile in state.profiles.items()
    ]
    return Reply(200, msgspec.json.encode({"models": models}))


ROUTES = (
    Route("POST", PREFIX, generate, prefix=True),
    Route("GET", PREFIX.rstrip("/"), list_models),
)
