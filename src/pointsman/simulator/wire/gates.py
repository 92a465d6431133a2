"""Gates and quirks every simulated chat protocol shares, with errors rendered per protocol.

A protocol module passes each chat request through the same gates as the OpenAI one (model
lookup, fault draw, injected failures) but renders refusals in its own format: it hands these
functions an :data:`ErrorRenderer`, ``(status, message) -> Reply``.

Two request headers steer provider behaviours that are not faults of the transport:

- ``x-sim-filter: prompt`` — the provider's safety system refuses the prompt (each protocol
  answers the way its provider does: OpenAI a 400 ``content_filter``, Anthropic a
  ``refusal`` stop with no content, Gemini ``promptFeedback.blockReason: SAFETY``);
  ``x-sim-filter: output`` — the answer starts, then is stopped by the filter (finish reason
  ``content_filter``, rendered per protocol).
- ``x-sim-malformed: truncated-json | broken-sse`` — a successful answer arrives malformed: a
  JSON body cut in half, or a stream whose next event is cut mid-JSON and which then ends.
  This is format-neutral and applies to every protocol (see :func:`malformable`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from pointsman.simulator.answer import Choice
from pointsman.simulator.connection import Request
from pointsman.simulator.faults import Draw, FaultHeaderError
from pointsman.simulator.profiles import Profile
from pointsman.simulator.replies import AnyReply, Hang, Reply, StreamReply
from pointsman.simulator.routing import Handler
from pointsman.simulator.state import SimState

__all__ = [
    "ErrorRenderer",
    "Rejected",
    "content_filter",
    "draw",
    "fault_reply",
    "filter_output",
    "malformable",
    "profile",
    "reject",
    "retry_headers",
]

ErrorRenderer = Callable[[int, str], Reply]
FILTERS = ("prompt", "output")
MALFORMED = ("truncated-json", "broken-sse")


class Rejected(Exception):
    """Carries an error reply out of a gate."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply


def reject(
    state: SimState, model: str, status: int, message: str, render: ErrorRenderer
) -> Rejected:
    """Count the refusal and build the exception carrying its reply."""
    state.stats.record(model, f"rejected_{status}")
    return Rejected(render(status, message))


def profile(state: SimState, model: str, render: ErrorRenderer) -> Profile:
    """The served profile of ``model``; a 404 otherwise."""
    found = state.profiles.get(model)
    if found is None:
        raise reject(state, model, 404, f"model: {model} is not served here", render)
    return found


def draw(state: SimState, served: Profile, request: Request, render: ErrorRenderer) -> Draw:
    """This request's fate (``x-sim-fault`` / ``x-sim-ttft-ms`` honoured)."""
    headers = request.headers
    try:
        return state.faults.draw(served, headers.get(b"x-sim-fault"), headers.get(b"x-sim-ttft-ms"))
    except FaultHeaderError as exc:
        raise reject(state, served.name, 400, str(exc), render) from None


def retry_headers(served: Profile) -> bytes:
    retry = served.retry_after_s
    return b"retry-after: %d\r\nretry-after-ms: %d\r\n" % (math.ceil(retry), int(retry * 1000))


def fault_reply(
    state: SimState, served: Profile, fate: Draw, render: ErrorRenderer
) -> AnyReply | None:
    """The reply for a failing draw (recorded in stats), or None when the request succeeds.
    Disconnects are left to the caller (a stream is cut mid-way, a plain answer dropped)."""
    if fate.hang:
        state.stats.record(served.name, "timeout")
        return Hang()
    status = fate.error
    if status is None:
        return None
    state.stats.record(served.name, f"error_{status}")
    if status == 429:
        message = f"Rate limit reached for {served.name} (simulated)."
    elif status >= 500:
        message = f"{served.name} is overloaded or unavailable (simulated {status})."
    else:
        message = f"Simulated client error {status}."
    reply = render(status, message)
    reply.headers += retry_headers(served)
    return reply


def content_filter(
    state: SimState, request: Request, model: str, render: ErrorRenderer
) -> str | None:
    """``"prompt"``, ``"output"`` or None, from ``x-sim-filter``; 400 for another value."""
    value = request.headers.get(b"x-sim-filter")
    if value is None:
        return None
    text = value.decode("latin-1").strip().lower()
    if text not in FILTERS:
        message = f"x-sim-filter must be one of {', '.join(FILTERS)} (got {text!r})"
        raise reject(state, model, 400, message, render)
    return text


def filter_output(choices: list[Choice]) -> list[Choice]:
    """The choices as a content filter stops them: a third of the text, then
    ``content_filter`` (tool calls are withheld)."""
    out = []
    for choice in choices:
        keep = max(1, len(choice.tokens) // 3)
        logprobs = choice.logprobs[:keep] if choice.logprobs is not None else None
        tokens = choice.tokens[:keep] or ["I"]
        out.append(replace(choice, tokens=tokens, tool_calls=[], logprobs=logprobs))
        out[-1].finish_reason = "content_filter"
    return out


def malformable(handler: Handler) -> Handler:
    """``handler`` with ``x-sim-malformed`` applied to its successful answers."""

    def wrapped(state: SimState, request: Request) -> AnyReply:
        reply = handler(state, request)
        how = request.headers.get(b"x-sim-malformed")
        if how is None:
            return reply
        return _malform(reply)

    return wrapped


def _malform(reply: AnyReply) -> AnyReply:
    if isinstance(reply, Reply) and reply.status == 200:
        reply.body = reply.body[: len(reply.body) // 2]
        return reply
    if isinstance(reply, StreamReply):
        events = [*reply.paced, *reply.tail]
        keep = max(1, len(reply.paced) // 3)
        broken = events[keep] if keep < len(events) else events[-1]
        cut = broken.rstrip(b"\n")
        reply.paced = [*reply.paced[:keep], cut[: max(8, len(cut) * 2 // 3)] + b"\n\n"]
        reply.tail = []
    return reply
