"""Gemini ``GenerateContentResponse`` and errors → canonical shapes. Pure: no I/O.

* ``finishReason`` → ``finish_reason``: ``STOP`` → ``stop`` (``tool_calls`` when the candidate
  called functions), ``MAX_TOKENS`` → ``length``, the safety family (``SAFETY``,
  ``RECITATION``, ``BLOCKLIST``, ``PROHIBITED_CONTENT``, ``SPII``, ``IMAGE_SAFETY`` ...) →
  ``content_filter``; anything else → ``stop``.
* ``promptFeedback.blockReason`` (the prompt was refused, no candidates), and a
  safety stop before any output, are a :class:`ContentFilteredError` naming the reason.
* usage: ``promptTokenCount`` already includes ``cachedContentTokenCount`` (→
  ``cached_tokens``); ``toolUsePromptTokenCount`` is input too; ``thoughtsTokenCount`` is *not*
  in ``candidatesTokenCount``, so ``completion_tokens`` = candidates + thoughts and
  ``reasoning_tokens`` = thoughts.
* parts: text → ``content``; ``thought: true`` text → ``reasoning_content``; ``functionCall``
  → ``tool_calls`` (ids made up when Gemini sends none; arguments encoded as JSON text), its
  ``thoughtSignature`` → ``extra_content.google.thought_signature`` (as Google's own OpenAI
  compatibility layer carries it) and, tagged ``gemini:``, a ``thinking_blocks`` entry.
* errors ``{"error": {"code", "message", "status", "details"}}`` → the typed hierarchy (an
  ``API_KEY_INVALID`` reason is an auth failure even though Gemini answers 400).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from pointsman.core.types import Usage
from pointsman.errors import ContentFilteredError, UpstreamError, UpstreamProtocolError
from pointsman.providers.http import redact, status_error
from pointsman.providers.translated import completion_body

__all__ = [
    "Candidate",
    "GeminiResponse",
    "UsageMetadata",
    "blocked",
    "decode_response",
    "error_from_body",
    "finish_reason",
    "to_completion",
    "tool_call",
]

SAFETY_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
SIGNATURE_TAG = "gemini:"  # base64 never contains ":", so Anthropic's signatures never do
_encode = msgspec.json.encode


class UsageMetadata(msgspec.Struct, rename="camel"):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    cached_content_token_count: int = 0
    thoughts_token_count: int = 0
    tool_use_prompt_token_count: int = 0

    def to_usage(self) -> Usage:
        prompt = self.prompt_token_count + self.tool_use_prompt_token_count
        return Usage(
            prompt_tokens=prompt,
            completion_tokens=self.candidates_token_count + self.thoughts_token_count,
            cached_tokens=min(self.cached_content_token_count, prompt),
            reasoning_tokens=self.thoughts_token_count,
        )


class Content(msgspec.Struct):
    parts: list[dict[str, Any]] = []
    role: str = "model"


class Candidate(msgspec.Struct, rename="camel"):
    content: Content | None = None
    finish_reason: str | None = None
    index: int = 0


class PromptFeedback(msgspec.Struct, rename="camel"):
    block_reason: str | None = None


class GeminiResponse(msgspec.Struct, rename="camel"):
    candidates: list[Candidate] = []
    prompt_feedback: PromptFeedback | None = None
    usage_metadata: UsageMetadata | None = None
    model_version: str = ""
    response_id: str = ""


_decoder = msgspec.json.Decoder(GeminiResponse)


def decode_response(raw: bytes, deployment: str) -> GeminiResponse:
    """Decode one response (or stream event). Raises :class:`UpstreamProtocolError`."""
    try:
        return _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise UpstreamProtocolError(
            f"{deployment}: malformed answer from upstream ({error})", deployment=deployment
        ) from None


def blocked(reason: str, deployment: str) -> ContentFilteredError:
    return ContentFilteredError(
        f"{deployment}: the provider's safety filter blocked the request ({reason})",
        deployment=deployment,
    )


def finish_reason(reason: str | None, called_tools: bool) -> str | None:
    """Gemini's ``finishReason`` as a canonical finish reason (None while unfinished)."""
    if reason is None or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    if reason == "MAX_TOKENS":
        return "length"
    if reason in SAFETY_REASONS:
        return "content_filter"
    return "tool_calls" if called_tools else "stop"


def tool_call(part: dict[str, Any], call_id: str) -> dict[str, Any]:
    """A ``functionCall`` part as a canonical tool call (signature kept)."""
    function = part["functionCall"]
    arguments = _encode(function.get("args") or {}).decode()
    call: dict[str, Any] = {"id": function.get("id") or call_id, "type": "function"}
    call["function"] = {"name": function.get("name", ""), "arguments": arguments}
    if "thoughtSignature" in part:
        call["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return call


def signature_of(call: dict[str, Any]) -> str | None:
    """The thought signature a canonical tool call carries, if any."""
    google = (call.get("extra_content") or {}).get("google") or {}
    signature = google.get("thought_signature")
    return str(signature) if signature else None


def thinking_block(thoughts: str, signature: str) -> dict[str, Any]:
    """A canonical thinking block carrying a Gemini thought signature, tagged with its origin
    so that only the Gemini adapter replays it (clients that keep thinking blocks but not
    vendor fields, such as Anthropic-format ones, keep the signature this way)."""
    return {"type": "thinking", "thinking": thoughts, "signature": SIGNATURE_TAG + signature}


def to_completion(raw: bytes, deployment: str, created: int, rid: str) -> tuple[bytes, Usage, str]:
    """A whole ``generateContent`` answer → (canonical completion JSON, usage, finish reason).

    Raises :class:`ContentFilteredError` when the prompt was blocked or nothing was produced
    because of safety, :class:`UpstreamProtocolError` for a malformed answer.
    """
    response = decode_response(raw, deployment)
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason and not response.candidates:
        raise blocked(feedback.block_reason, deployment)
    if not response.candidates:
        raise UpstreamProtocolError(
            f"{deployment}: upstream answer has no candidates", deployment=deployment
        )
    choices = [_choice(c, rid, deployment) for c in response.candidates]
    usage = (response.usage_metadata or UsageMetadata()).to_usage()
    model = response.model_version
    return completion_body(rid, created, model, choices, usage), usage, choices[0]["finish_reason"]


def _choice(candidate: Candidate, rid: str, deployment: str) -> dict[str, Any]:
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in candidate.content.parts if candidate.content else ():
        if "functionCall" in part:
            calls.append(tool_call(part, f"call_{rid}_{candidate.index}_{len(calls)}"))
        elif part.get("thought"):
            thoughts.append(str(part.get("text", "")))
        elif "text" in part:
            texts.append(str(part["text"]))
    finish = finish_reason(candidate.finish_reason or "STOP", bool(calls))
    if finish == "content_filter" and not (texts or calls):
        raise blocked(candidate.finish_reason or "SAFETY", deployment)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    signature = next((signature_of(call) for call in calls if signature_of(call)), None)
    if signature is not None:
        message["thinking_blocks"] = [thinking_block("".join(thoughts), signature)]
    return {"index": candidate.index, "message": message, "logprobs": None, "finish_reason": finish}


class _ErrorBody(msgspec.Struct):
    code: int = 0
    message: str = ""
    status: str = ""
    details: list[dict[str, Any]] = []


class _ErrorEnvelope(msgspec.Struct):
    error: _ErrorBody | None = None


_error_decoder = msgspec.json.Decoder(_ErrorEnvelope)


def read_error(raw: bytes) -> _ErrorBody | None:
    """The error object of a Gemini error body or stream event, if that is what ``raw`` is."""
    try:
        return _error_decoder.decode(raw).error
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def error_from_body(
    status: int, raw: bytes, headers: Mapping[str, str], deployment: str, secret: str | None
) -> UpstreamError:
    """An HTTP error answer (or, with its own ``code``, a stream error event) → typed error."""
    error = read_error(raw)
    if error is None:
        message, kind = raw[:200].decode("utf-8", "replace"), None
    else:
        reasons = " ".join(str(d.get("reason", "")) for d in error.details)
        message, kind = error.message, f"{error.status} {reasons}".strip()
        status = error.code or status
    return status_error(
        status, redact(message, secret), deployment=deployment, headers=headers, kind=kind
    )
