"""The two inbound clients of the suite, the official SDKs, behind one small interface.

A test says what to ask (:class:`Ask`) in a neutral way; :class:`OpenAIClient` (``openai`` SDK,
``/v1/chat/completions``) and :class:`AnthropicClient` (``anthropic`` SDK, ``/v1/messages``)
each build their own wire format, send it, and read the answer back into a :class:`Reply` (or
raise :class:`Failure`). Conversations are kept in each client's own format, so a turn the
model wrote goes back exactly as that SDK returned it (signatures and vendor fields included).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai

ANTHROPIC_MAX_TOKENS = 64  # Anthropic requires max_tokens; answers here are shorter or cut
THINKING = {"type": "enabled", "budget_tokens": 1024}
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


@dataclass
class Tool:
    name: str
    description: str
    schema: dict[str, Any]


@dataclass
class Ask:
    """What to ask, independent of the wire format."""

    stream: bool = False
    tools: list[Tool] | None = None
    tool_choice: str | None = None  # "auto", "required" or a tool name
    json_schema: dict[str, Any] | None = None
    stop: list[str] | None = None
    max_tokens: int | None = None
    thinking: bool = False


@dataclass
class Call:
    id: str
    name: str
    arguments: str
    pieces: int = 1  # argument chunks it arrived in


@dataclass
class Reply:
    text: str = ""
    reasoning: str = ""
    calls: list[Call] = field(default_factory=list)
    finish: str = ""  # canonical: stop, length, tool_calls, content_filter
    stop_sequence: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    message: dict[str, Any] = field(default_factory=dict)  # the turn, for the history
    text_chunks: int = 0


class Failure(Exception):
    """An error the client saw: its HTTP status (None mid-stream), kind and message."""

    def __init__(self, status: int | None, kind: str, message: str, mid_stream: bool) -> None:
        super().__init__(f"{status} {kind}: {message}")
        self.status, self.kind, self.message, self.mid_stream = status, kind, message, mid_stream
        self.headers: dict[str, str] = {}


@dataclass
class Conversation:
    system: str | None = None
    cache_system: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)


def _function(tool: Tool) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "parameters": tool.schema}


class OpenAIClient:
    name = "openai"

    def __init__(self, base_url: str, key: str) -> None:
        self.sdk = openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)

    def user(self, conv: Conversation, text: str) -> None:
        conv.messages.append({"role": "user", "content": text})

    def add_turn(self, conv: Conversation, reply: Reply, results: dict[str, str]) -> None:
        conv.messages.append(reply.message)
        for call in reply.calls:
            conv.messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": results[call.name]}
            )

    def _request(self, alias: str, conv: Conversation, ask: Ask) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if conv.system is not None:
            part: dict[str, Any] = {"type": "text", "text": conv.system}
            if conv.cache_system:
                part["cache_control"] = {"type": "ephemeral"}
            messages.append(
                {"role": "system", "content": [part] if conv.cache_system else conv.system}
            )
        kwargs: dict[str, Any] = {"model": alias, "messages": messages + conv.messages}
        if ask.tools:
            kwargs["tools"] = [
                {"type": "function", "function": _function(tool)} for tool in ask.tools
            ]
        if ask.tool_choice in ("auto", "required"):
            kwargs["tool_choice"] = ask.tool_choice
        elif ask.tool_choice:
            kwargs["tool_choice"] = {"type": "function", "function": {"name": ask.tool_choice}}
        if ask.json_schema is not None:
            spec = {"name": "answer", "schema": ask.json_schema}
            kwargs["response_format"] = {"type": "json_schema", "json_schema": spec}
        if ask.stop:
            kwargs["stop"] = ask.stop
        if ask.max_tokens:
            kwargs["max_tokens"] = ask.max_tokens
        if ask.thinking:
            kwargs["extra_body"] = {"thinking": THINKING}
        if ask.stream:
            kwargs["stream"] = True
            kwargs["stream_options"] = {"include_usage": True}
        return kwargs

    async def send(self, alias: str, conv: Conversation, ask: Ask) -> Reply:
        kwargs = self._request(alias, conv, ask)
        try:
            if ask.stream:
                return await self._stream(kwargs)
            response = await self.sdk.chat.completions.create(**kwargs)
        except openai.APIStatusError as error:
            failure = Failure(error.status_code, str(error.code), error.message, False)
            failure.headers = dict(error.response.headers)
            raise failure from None
        except openai.APIError as error:
            body = error.body if isinstance(error.body, dict) else {}
            raise Failure(None, str(body.get("code")), error.message, True) from None
        choice = response.choices[0]
        message = choice.message.model_dump(exclude_none=True)
        extra = choice.message.model_extra or {}
        calls = [
            Call(c.id, c.function.name, c.function.arguments)
            for c in choice.message.tool_calls or ()
            if getattr(c, "function", None) is not None
        ]
        reply = Reply(
            choice.message.content or "", str(extra.get("reasoning_content") or ""), calls
        )
        reply.finish, reply.message = str(choice.finish_reason), message
        reply.stop_sequence = (choice.model_extra or {}).get("stop_reason")
        self._usage(reply, response.usage)
        return reply

    async def _stream(self, kwargs: dict[str, Any]) -> Reply:
        reply = Reply()
        calls: dict[int, dict[str, Any]] = {}
        blocks: list[Any] = []
        stream = await self.sdk.chat.completions.create(**kwargs)
        async for chunk in stream:
            if chunk.usage is not None:
                self._usage(reply, chunk.usage)
            for choice in chunk.choices:
                delta = choice.delta
                extra = delta.model_extra or {}
                if delta.content:
                    reply.text += delta.content
                    reply.text_chunks += 1
                reply.reasoning += str(extra.get("reasoning_content") or "")
                blocks += extra.get("thinking_blocks") or []
                for piece in delta.tool_calls or ():
                    entry = calls.setdefault(piece.index, {"pieces": 0, "arguments": ""})
                    if piece.id:
                        entry["id"] = piece.id
                        entry["extra"] = piece.model_extra or {}
                    if piece.function and piece.function.name:
                        entry["name"] = piece.function.name
                    if piece.function and piece.function.arguments:
                        entry["arguments"] += piece.function.arguments
                        entry["pieces"] += 1
                if choice.finish_reason:
                    reply.finish = choice.finish_reason
                    reply.stop_sequence = (choice.model_extra or {}).get("stop_reason")
        reply.calls = [
            Call(c["id"], c["name"], c["arguments"], c["pieces"]) for c in calls.values()
        ]
        reply.message = {"role": "assistant", "content": reply.text or None}
        if reply.calls:
            reply.message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    **calls[index]["extra"],
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for index, call in zip(calls, reply.calls, strict=True)
            ]
        if blocks:
            reply.message["thinking_blocks"] = blocks
        return reply

    @staticmethod
    def _usage(reply: Reply, usage: Any) -> None:
        if usage is None:
            return
        reply.prompt_tokens, reply.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        details = usage.prompt_tokens_details
        reply.cached_tokens = (details.cached_tokens or 0) if details else 0

    async def close(self) -> None:
        await self.sdk.close()


class AnthropicClient:
    name = "anthropic"

    def __init__(self, base_url: str, key: str) -> None:
        self.sdk = anthropic.AsyncAnthropic(base_url=base_url, api_key=key, max_retries=0)

    def user(self, conv: Conversation, text: str) -> None:
        conv.messages.append({"role": "user", "content": text})

    def add_turn(self, conv: Conversation, reply: Reply, results: dict[str, str]) -> None:
        conv.messages.append(reply.message)
        blocks = [
            {"type": "tool_result", "tool_use_id": c.id, "content": results[c.name]}
            for c in reply.calls
        ]
        conv.messages.append({"role": "user", "content": blocks})

    def _request(self, alias: str, conv: Conversation, ask: Ask) -> dict[str, Any]:
        limit = ask.max_tokens or ANTHROPIC_MAX_TOKENS
        if ask.thinking:
            limit += THINKING["budget_tokens"]  # type: ignore[operator]
        kwargs: dict[str, Any] = {"model": alias, "max_tokens": limit, "messages": conv.messages}
        if conv.system is not None:
            block: dict[str, Any] = {"type": "text", "text": conv.system}
            if conv.cache_system:
                block["cache_control"] = {"type": "ephemeral"}
            kwargs["system"] = [block] if conv.cache_system else conv.system
        if ask.tools:
            kwargs["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.schema}
                for t in ask.tools
            ]
        if ask.tool_choice == "auto":
            kwargs["tool_choice"] = {"type": "auto"}
        elif ask.tool_choice == "required":
            kwargs["tool_choice"] = {"type": "any"}
        elif ask.tool_choice:
            kwargs["tool_choice"] = {"type": "tool", "name": ask.tool_choice}
        if ask.json_schema is not None:
            kwargs["output_config"] = {"format": {"type": "json_schema", "schema": ask.json_schema}}
        if ask.stop:
            kwargs["stop_sequences"] = ask.stop
        if ask.thinking:
            kwargs["thinking"] = THINKING
        return kwargs

    async def send(self, alias: str, conv: Conversation, ask: Ask) -> Reply:
        kwargs = self._request(alias, conv, ask)
        pieces: dict[int, int] = {}
        text_chunks = 0
        try:
            if ask.stream:
                async with self.sdk.messages.stream(**kwargs) as stream:
                    async for event in stream:
                        if event.type == "content_block_delta":
                            if event.delta.type == "input_json_delta" and event.delta.partial_json:
                                pieces[event.index] = pieces.get(event.index, 0) + 1
                            elif event.delta.type == "text_delta":
                                text_chunks += 1
                    message = await stream.get_final_message()
            else:
                message = await self.sdk.messages.create(**kwargs)
        except anthropic.APIStatusError as error:
            body = error.body if isinstance(error.body, dict) else {}
            kind = str((body.get("error") or {}).get("type"))
            mid = error.status_code == 200  # an error event after the stream started
            failure = Failure(None if mid else error.status_code, kind, error.message, mid)
            failure.headers = dict(error.response.headers)
            raise failure from None
        return self._reply(message, pieces, text_chunks)

    @staticmethod
    def _reply(message: Any, pieces: dict[int, int], text_chunks: int) -> Reply:
        reply = Reply(text_chunks=text_chunks)
        for index, block in enumerate(message.content):
            if block.type == "text":
                reply.text += block.text
            elif block.type == "thinking":
                reply.reasoning += block.thinking
            elif block.type == "tool_use":
                call = Call(block.id, block.name, json.dumps(block.input), pieces.get(index, 1))
                reply.calls.append(call)
        reply.finish = _FINISH.get(str(message.stop_reason), str(message.stop_reason))
        reply.stop_sequence = message.stop_sequence
        usage = message.usage
        cached = usage.cache_read_input_tokens or 0
        written = usage.cache_creation_input_tokens or 0
        reply.prompt_tokens = usage.input_tokens + cached + written
        reply.completion_tokens, reply.cached_tokens = usage.output_tokens, cached
        content = [block.model_dump(exclude_none=True) for block in message.content]
        reply.message = {"role": "assistant", "content": content}
        return reply

    async def close(self) -> None:
        await self.sdk.close()


Client = OpenAIClient | AnthropicClient
