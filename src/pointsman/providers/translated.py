"""What adapters for non-OpenAI protocols share: writing canonical answers, translating streams.

An adapter whose upstream speaks another wire format (Anthropic, Gemini) answers in canonical
OpenAI shapes by building them here:

* :class:`ChunkWriter` encodes ``chat.completion.chunk`` payloads for one streamed answer;
  :func:`completion_body` encodes a whole ``chat.completion``; :func:`usage_json` renders a
  :class:`~pointsman.core.types.Usage` the way OpenAI does (cache and reasoning details
  included).
* :class:`StreamTranslator` is the pure, per-protocol state machine that turns upstream SSE
  events into canonical chunk payloads; :class:`TranslatedStream` drives one over a live HTTP
  response and fulfils the :class:`~pointsman.providers.base.ChatStream` contract (batches,
  final ``usage``/``finish_reason``, ``Upstream*`` errors mid-stream).

Canonical extensions a translated answer may carry (see ``docs/architecture.md``):
``reasoning_content`` (thinking text, on messages and deltas), ``thinking_blocks`` (the
provider's raw reasoning blocks with their signatures, complete, so that a client can send them
back verbatim), ``extra_content.google.thought_signature`` on tool calls, and ``stop_reason``
on a choice (the stop sequence that ended it, as vLLM reports it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec

from pointsman.core.tokens import estimate_prompt_tokens
from pointsman.core.types import Usage
from pointsman.errors import UpstreamError, UpstreamUnavailableError
from pointsman.providers.base import ChatCall, ChatStream
from pointsman.providers.http import sse_events

__all__ = [
    "ChunkWriter",
    "StreamTranslator",
    "TranslatedStream",
    "completion_body",
    "usage_json",
]

_encode = msgspec.json.encode


def usage_json(usage: Usage) -> dict[str, Any]:
    """``usage`` in OpenAI's shape; detail objects appear only when they have something."""
    out: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached_tokens or usage.cache_write_tokens:
        details = {"cached_tokens": usage.cached_tokens}
        if usage.cache_write_tokens:
            details["cache_write_tokens"] = usage.cache_write_tokens  # Pointsman extension
        out["prompt_tokens_details"] = details
    if usage.reasoning_tokens:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return out


def completion_body(
    rid: str, created: int, model: str, choices: list[dict[str, Any]], usage: Usage
) -> bytes:
    """A canonical ``chat.completion`` JSON body."""
    return _encode(
        {
            "id": rid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": choices,
            "usage": usage_json(usage),
        }
    )


class ChunkWriter:
    """Encodes the ``chat.completion.chunk`` payloads of one answer around a shared envelope.

    The first delta of each choice carries ``role: "assistant"`` (OpenAI sends it in the first
    chunk); translators therefore emit no chunk before there is content, so a stream fails
    over cleanly when the upstream errors before its first token.
    """

    __slots__ = ("_prefix", "_started")

    def __init__(self, rid: str, created: int, model: str) -> None:
        envelope = _encode(
            {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model}
        )
        self._prefix = envelope[:-1] + b',"choices":['
        self._started: set[int] = set()

    def delta(self, delta: dict[str, Any], index: int = 0, finish: str | None = None) -> bytes:
        """One chunk with ``delta`` for choice ``index`` (and its finish reason, if given)."""
        if index not in self._started:
            self._started.add(index)
            delta = {"role": "assistant", **delta}
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._prefix + _encode(choice) + b"]}"

    def finish(self, reason: str, index: int = 0, extra: dict[str, Any] | None = None) -> bytes:
        """The closing chunk of choice ``index``: empty delta, ``finish_reason``, extras."""
        choice: dict[str, Any] = {"index": index, "delta": {}, "logprobs": None}
        choice["finish_reason"] = reason
        if extra:
            choice.update(extra)
        return self._prefix + _encode(choice) + b"]}"

    def usage(self, usage: Usage) -> bytes:
        """The usage-only chunk OpenAI sends last with ``stream_options.include_usage``."""
        return self._prefix + b'],"usage":' + _encode(usage_json(usage)) + b"}"


class StreamTranslator(ABC):
    """Turns one upstream stream's SSE events into canonical chunk payloads. Pure: no I/O.

    ``feed`` is called once per event, in order, and returns the payloads it produced (often
    none); it raises an ``Upstream*`` error when the event is an error or is malformed. Once
    ``done`` is true the upstream has sent its end marker and no more events are read. ``end``
    is called once the body has ended (or after ``done``) and returns the last payloads; it
    raises :class:`UpstreamUnavailableError` when the answer was cut short. ``usage`` and
    ``finish_reason`` are final after ``end``.
    """

    usage: Usage | None = None
    finish_reason: str | None = None
    done: bool = False

    @abstractmethod
    def feed(self, event: bytes, data: bytes) -> list[bytes]: ...

    @abstractmethod
    def end(self) -> list[bytes]: ...


class TranslatedStream(ChatStream):
    """A :class:`ChatStream` over a live SSE response, translated by a :class:`StreamTranslator`.

    Yields one batch per network read that produced payloads (never an empty batch). When the
    upstream sent no usage, usage is estimated from the request and the streamed text length.
    """

    def __init__(
        self, response: aiohttp.ClientResponse, translator: StreamTranslator, call: ChatCall
    ) -> None:
        self._response = response
        self._translator = translator
        self._call = call
        self.completion_chars = 0

    async def __aiter__(self) -> AsyncIterator[list[bytes]]:
        translator = self._translator
        deployment = self._call.deployment
        try:
            async for events in sse_events(self._response.content):
                batch: list[bytes] = []
                for event, data in events:
                    try:
                        batch += translator.feed(event, data)
                    except UpstreamError:
                        if batch:  # what arrived before the failure still reaches the client
                            yield batch
                        raise
                    if translator.done:
                        break
                if batch:
                    self.completion_chars += sum(map(len, batch))
                    yield batch
                if translator.done:
                    break
            tail = translator.end()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise UpstreamUnavailableError(
                f"{deployment}: connection lost mid-stream ({type(error).__name__})",
                deployment=deployment,
            ) from error
        finally:
            self._response.release()
        if tail:
            yield tail
        self.finish_reason = translator.finish_reason
        self.usage = translator.usage or Usage(
            prompt_tokens=estimate_prompt_tokens(
                self._call.body["messages"], self._call.body.get("tools")
            ),
            completion_tokens=(self.completion_chars // 3 + 3) // 4,  # JSON framing ≈ 2/3
            estimated=True,
        )

    async def aclose(self) -> None:
        self._response.release()
