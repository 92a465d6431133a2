"""Anthropic streaming events → canonical ``chat.completion.chunk`` payloads. Pure: no I/O.

Event flow (Anthropic's streaming reference): ``message_start``; per content block a
``content_block_start``, ``content_block_delta`` events and a ``content_block_stop``; one or
more ``message_delta`` (stop reason, cumulative usage); ``message_stop``. ``ping`` may come at
any time and is ignored, as are event types this version does not know (Anthropic's versioning
policy adds new ones). ``error`` events become typed errors.

Mapping: ``text_delta`` → ``content``; a ``tool_use`` block start → a ``tool_calls`` delta with
``id``, ``name`` and empty arguments, each ``input_json_delta`` → an arguments piece of the
same call (calls are numbered in order of appearance); ``thinking_delta`` →
``reasoning_content``; at the end of a thinking block its complete form, signature included,
is sent once as ``thinking_blocks`` (likewise ``redacted_thinking``); ``message_delta`` → the
closing chunk with ``finish_reason``; ``message_stop`` → the usage chunk (when asked for).
"""

from __future__ import annotations

from typing import Any

import msgspec

from pointsman.errors import UpstreamError, UpstreamProtocolError, UpstreamUnavailableError
from pointsman.providers.anthropic_response import (
    STOP_REASONS,
    AnthropicUsage,
    error_from_event,
    refusal,
)
from pointsman.providers.translated import ChunkWriter, StreamTranslator

__all__ = ["AnthropicStreamTranslator"]


class _Block(msgspec.Struct):
    type: str = ""
    id: str = ""
    name: str = ""
    text: str = ""
    thinking: str = ""
    signature: str = ""
    data: str = ""


class _Delta(msgspec.Struct):
    type: str = ""
    text: str = ""
    partial_json: str = ""
    thinking: str = ""
    signature: str = ""
    stop_reason: str | None = None
    stop_sequence: str | None = None


class _StartMessage(msgspec.Struct):
    id: str = ""
    model: str = ""
    usage: AnthropicUsage = msgspec.field(default_factory=AnthropicUsage)


class _Event(msgspec.Struct):
    type: str
    index: int = 0
    message: _StartMessage | None = None
    content_block: _Block | None = None
    delta: _Delta | None = None
    usage: AnthropicUsage | None = None


_event_decoder = msgspec.json.Decoder(_Event)


class AnthropicStreamTranslator(StreamTranslator):
    """One Anthropic stream's state: open blocks, tool-call numbering, usage so far.

    ``json_tool`` names the tool whose input is the answer (JSON tool mode): its argument
    pieces become ``content`` instead of a tool call.
    """

    def __init__(
        self,
        rid: str,
        created: int,
        model: str,
        deployment: str,
        *,
        include_usage: bool,
        json_tool: str | None = None,
        secret: str | None = None,
    ) -> None:
        self._writer = ChunkWriter(rid, created, model)
        self._deployment = deployment
        self._include_usage = include_usage
        self._json_tool = json_tool
        self._secret = secret
        self._usage = AnthropicUsage()
        self._blocks: dict[int, _Block] = {}  # open blocks by Anthropic index
        self._tool_numbers: dict[int, int] = {}  # Anthropic block index → tool-call index
        self._json_block: int | None = None
        self._emitted = False

    def feed(self, event: bytes, data: bytes) -> list[bytes]:
        try:
            parsed = _event_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            if event == b"error":
                raise error_from_event(data, self._deployment, self._secret) from None
            raise UpstreamProtocolError(
                f"{self._deployment}: malformed stream event from upstream",
                deployment=self._deployment,
            ) from None
        kind = parsed.type
        if kind == "content_block_delta" and parsed.delta is not None:
            return self._on_delta(parsed.index, parsed.delta)
        if kind == "content_block_start" and parsed.content_block is not None:
            return self._on_start(parsed.index, parsed.content_block)
        if kind == "content_block_stop":
            return self._on_stop(parsed.index)
        if kind == "message_start" and parsed.message is not None:
            self._usage.merge(parsed.message.usage)
            return []
        if kind == "message_delta":
            return self._on_message_delta(parsed)
        if kind == "message_stop":
            self.done = True
            self.usage = self._usage.to_usage()
            return [self._writer.usage(self.usage)] if self._include_usage else []
        if kind == "error":
            raise error_from_event(data, self._deployment, self._secret)
        return []  # ping, and event types added after this version

    def end(self) -> list[bytes]:
        if not self.done:
            raise UpstreamUnavailableError(
                f"{self._deployment}: stream ended before it was complete",
                deployment=self._deployment,
            )
        return []

    # -- events -----------------------------------------------------------------------------

    def _emit(self, delta: dict[str, Any]) -> list[bytes]:
        self._emitted = True
        return [self._writer.delta(delta)]

    def _on_start(self, index: int, block: _Block) -> list[bytes]:
        self._blocks[index] = block
        if block.type == "text":
            return self._emit({"content": block.text}) if block.text else []
        if block.type == "tool_use":
            if self._json_tool is not None and block.name == self._json_tool:
                self._json_block = index
                return []
            number = self._tool_numbers[index] = len(self._tool_numbers)
            call = {"index": number, "id": block.id, "type": "function"}
            call["function"] = {"name": block.name, "arguments": ""}
            return self._emit({"content": None, "tool_calls": [call]})
        if block.type == "thinking" and block.thinking:
            return self._emit({"reasoning_content": block.thinking})
        return []

    def _on_delta(self, index: int, delta: _Delta) -> list[bytes]:
        kind = delta.type
        if kind == "text_delta":
            return self._emit({"content": delta.text}) if delta.text else []
        if kind == "input_json_delta":
            if not delta.partial_json:
                return []
            if index == self._json_block:
                return self._emit({"content": delta.partial_json})
            number = self._tool_numbers.get(index)
            if number is None:
                raise self._malformed(f"arguments for block {index}, which is not a tool call")
            call = {"index": number, "function": {"arguments": delta.partial_json}}
            return self._emit({"tool_calls": [call]})
        block = self._blocks.get(index)
        if kind == "thinking_delta" and delta.thinking:
            if block is not None:
                block.thinking += delta.thinking
            return self._emit({"reasoning_content": delta.thinking})
        if kind == "signature_delta" and block is not None:
            block.signature = delta.signature  # a signature replaces, never appends
        return []  # citations and delta types added after this version

    def _on_stop(self, index: int) -> list[bytes]:
        block = self._blocks.pop(index, None)
        if block is None or block.type not in ("thinking", "redacted_thinking"):
            return []
        if block.type == "thinking":
            complete = {"type": "thinking", "thinking": block.thinking}
            complete["signature"] = block.signature
        else:
            complete = {"type": "redacted_thinking", "data": block.data}
        return self._emit({"thinking_blocks": [complete]})

    def _on_message_delta(self, event: _Event) -> list[bytes]:
        if event.usage is not None:
            self._usage.merge(event.usage)
        self.usage = self._usage.to_usage()
        delta = event.delta
        if delta is None or delta.stop_reason is None:
            return []
        finish = STOP_REASONS.get(delta.stop_reason, "stop")
        if self._json_block is not None and finish == "tool_calls" and not self._tool_numbers:
            finish = "stop"
        if finish == "content_filter" and not self._emitted:
            raise refusal(self._deployment)
        self.finish_reason = finish
        extra = {"stop_reason": delta.stop_sequence} if delta.stop_sequence else None
        closing = self._writer.finish(finish, extra=extra)
        return [closing] if self._emitted else [*self._emit({"content": ""}), closing]

    def _malformed(self, what: str) -> UpstreamError:
        return UpstreamProtocolError(
            f"{self._deployment}: malformed stream from upstream ({what})",
            deployment=self._deployment,
        )
