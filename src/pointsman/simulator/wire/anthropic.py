"""The Anthropic Messages wire protocol: ``POST /v1/messages``.

Gates, in order: ``x-api-key`` (401 ``authentication_error``), the ``anthropic-version``
header (400), body decoding (400 naming the field), model lookup (404 ``not_found_error``),
request validation (400, see :mod:`.anthropic_requests`), context window (400 "prompt is too
long"), ``x-sim-filter``, then the fault draw (injected statuses with Anthropic's error types:
429 ``rate_limit_error``, 500 ``api_error``, 529 ``overloaded_error`` ...; dropped
connections; hangs). A prompt the filter refuses gets ``stop_reason: "refusal"`` and no
content, as Anthropic answers it.

With ``thinking`` enabled the answer starts with a thinking block whose signature the
simulator checks when the block comes back in a later turn. When a system prompt or tool
carries ``cache_control``, that prefix is reported as ``cache_read_input_tokens``.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import msgspec

from pointsman.simulator import text as textgen
from pointsman.simulator.answer import AnswerError, Choice, Prompt, answer
from pointsman.simulator.connection import Request
from pointsman.simulator.replies import AnyReply, Drop, Reply, StreamReply
from pointsman.simulator.routing import Route
from pointsman.simulator.state import SimState
from pointsman.simulator.wire import anthropic_render as render
from pointsman.simulator.wire import gates
from pointsman.simulator.wire.anthropic_requests import MessagesRequest, Parsed, to_prompt
from pointsman.simulator.wire.gates import Rejected, reject
from pointsman.simulator.wire.openai_requests import InvalidRequest

__all__ = ["ROUTES"]

_DECODER = msgspec.json.Decoder(MessagesRequest)
_STREAM_HEADERS = b"cache-control: no-cache\r\n"
THINKING_TOKENS = 16


def _error(status: int, message: str) -> Reply:
    return render.error_reply(status, message)


def _check_headers(state: SimState, request: Request) -> None:
    if state.api_key is not None:
        given = request.headers.get(b"x-api-key", b"")
        if given != state.api_key.encode():
            raise reject(state, "(unauthenticated)", 401, "invalid x-api-key", _error)
    if b"anthropic-version" not in request.headers:
        raise reject(state, "(invalid)", 400, "anthropic-version: header is required", _error)


def _decode(state: SimState, body: bytes) -> MessagesRequest:
    try:
        return _DECODER.decode(body)
    except msgspec.ValidationError as exc:
        message, _, at = str(exc).partition(" - at `$.")
        field = at.rstrip("`")
        if not field and "`" in message:
            field = message.split("`")[1]
        raise reject(state, "(invalid)", 400, f"{field}: {message}", _error) from None
    except msgspec.DecodeError as exc:
        raise reject(state, "(invalid)", 400, f"invalid JSON body: {exc}", _error) from None


def messages(state: SimState, request: Request) -> AnyReply:
    """``POST /v1/messages``: a message, or a stream of events."""
    try:
        return _messages(state, request)
    except Rejected as rejected:
        return rejected.reply


def _messages(state: SimState, request: Request) -> AnyReply:
    _check_headers(state, request)
    body = _decode(state, request.body)
    served = gates.profile(state, body.model, _error)
    try:
        parsed = to_prompt(body, served.output_tokens)
    except InvalidRequest as exc:
        raise reject(state, body.model, 400, str(exc), _error) from None
    if parsed.prompt_tokens > served.context_window:
        limit = served.context_window
        message = f"prompt is too long: {parsed.prompt_tokens} tokens > {limit} maximum"
        raise reject(state, body.model, 400, message, _error)
    filtered = gates.content_filter(state, request, body.model, _error)
    fate = gates.draw(state, served, request, _error)
    failed = gates.fault_reply(state, served, fate, _error)
    if failed is not None:
        return failed
    result = _answer(state, body, parsed, served.output_tokens, filtered)
    interval = 1 / served.tokens_per_s if served.tokens_per_s else 0.0
    if body.stream:
        head, paced, tail = render.stream_events(result)
        cut = served.disconnect_after_tokens if fate.disconnect else None
        state.stats.record(body.model, "disconnect" if fate.disconnect else "ok")
        return StreamReply(head, paced, tail, fate.ttft_s, interval, cut, _STREAM_HEADERS)
    if fate.disconnect:
        state.stats.record(body.model, "disconnect")
        return Drop(fate.ttft_s)
    state.stats.record(body.model, "ok")
    delay = fate.ttft_s + interval * result.output_tokens
    return Reply(200, render.message(result), delay_s=delay)


def _answer(
    state: SimState, body: MessagesRequest, parsed: Parsed, default: int, filtered: str | None
) -> render.Answer:
    rid = f"msg_sim{state.next_id():016d}"
    prompt = parsed.prompt
    if filtered == "prompt":
        choice = Choice(0, [], "content_filter")
        return render.Answer(rid, body.model, choice, parsed.prompt_tokens, 0, [])
    try:
        choice = answer(replace(prompt, stop=[]), default)[0]
    except AnswerError as exc:
        raise reject(state, body.model, 400, str(exc), _error) from None
    choice, stop_sequence = _apply_stops(choice, prompt)
    if filtered == "output":
        choice = gates.filter_output([choice])[0]
    thinking: list[str] = []
    if parsed.thinking:
        key = hashlib.blake2b(msgspec.json.encode(prompt.messages), digest_size=16).digest()
        thinking = list(textgen.word_tokens(key + b"/thinking", THINKING_TOKENS))
    tokens = (parsed.prompt_tokens, parsed.cached_tokens)
    return render.Answer(rid, body.model, choice, *tokens, thinking, stop_sequence)


def _apply_stops(choice: Choice, prompt: Prompt) -> tuple[Choice, str | None]:
    """Cut at the first stop sequence and name it, as ``stop_sequence`` reports it."""
    if not prompt.stop or not choice.tokens:
        return choice, None
    text = "".join(choice.tokens)
    found = [(text.find(s), n, s) for n, s in enumerate(prompt.stop) if s and s in text]
    if not found:
        return choice, None
    _, _, matched = min(found)
    tokens, _ = textgen.truncate(choice.tokens, None, [matched])
    return replace(choice, tokens=tokens, finish_reason="stop"), matched


ROUTES = (Route("POST", "/v1/messages", messages),)
