"""Anthropic Messages request bodies → the protocol-neutral :class:`Prompt`. Pure.

Checks what the real API checks and a translating client could get wrong: ``max_tokens`` is
required, ``temperature`` lies in 0..1, roles alternate between ``user`` and ``assistant``
only, ``thinking.budget_tokens`` is at least 1024 and below ``max_tokens``, every
``tool_result`` answers a ``tool_use`` of the turn before, and thinking blocks come back
unchanged: each carries the signature the simulator minted for its text, and while thinking is
on, an assistant turn that used tools must start with its thinking block.

Messages are rebuilt in the OpenAI shape the answer generator reads: the system prompt and
all-text content become strings (as an OpenAI client writes them), ``tool_use`` blocks become
``tool_calls``, ``tool_result`` blocks become ``tool`` messages.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec

from pointsman.core.tokens import estimate_prompt_tokens, estimate_text_tokens
from pointsman.simulator.answer import Prompt, ToolDef
from pointsman.simulator.wire.openai_requests import InvalidRequest

__all__ = ["MessagesRequest", "Parsed", "sign", "to_prompt"]

MIN_THINKING_BUDGET = 1024


class MessagesRequest(msgspec.Struct):
    model: str
    messages: list[dict[str, Any]]
    max_tokens: int
    system: str | list[dict[str, Any]] | None = None
    stream: bool | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    output_config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


@dataclass(slots=True)
class Parsed:
    prompt: Prompt
    thinking: bool
    prompt_tokens: int
    cached_tokens: int  # the prefix marked with cache_control (system and tools)


def sign(thinking: str) -> str:
    """The signature the simulator gives a thinking block's text."""
    digest = hashlib.blake2b(b"pointsman-sim/" + thinking.encode(), digest_size=24).digest()
    return base64.b64encode(digest).decode()


def to_prompt(body: MessagesRequest, default_tokens: int) -> Parsed:
    """The prompt for a decoded request. Raises :class:`InvalidRequest` naming the field."""
    if body.max_tokens < 1:
        raise InvalidRequest("max_tokens: must be at least 1", "max_tokens")
    if body.temperature is not None and not 0 <= body.temperature <= 1:
        raise InvalidRequest("temperature: range: 0..1", "temperature")
    if not body.messages:
        raise InvalidRequest("messages: at least one message is required", "messages")
    thinking = _thinking(body)
    system = _text_of(body.system, "system") if body.system else None
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for i, message in enumerate(body.messages):
        messages += _message(message, i, thinking, i == len(body.messages) - 2)
    _check_tool_results(messages)
    tools = [_tool(t, i) for i, t in enumerate(body.tools or ())]
    choice, forced, parallel = _tool_choice(body.tool_choice)
    response_format, schema = "text", None
    output_format = (body.output_config or {}).get("format")
    if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
        response_format, schema = "json_schema", output_format.get("schema") or {}
    prompt = Prompt(
        messages=messages,
        tools=tools,
        tool_choice=choice,
        forced_tool=forced,
        parallel_tool_calls=parallel,
        # max_tokens is a ceiling here (Anthropic requires one): only a short one cuts.
        max_tokens=body.max_tokens if body.max_tokens < default_tokens else None,
        stop=list(body.stop_sequences or ()),
        response_format=response_format,
        schema=schema,
    )
    prompt_tokens = estimate_prompt_tokens(messages, body.tools)
    return Parsed(prompt, thinking, prompt_tokens, min(_cached(body), prompt_tokens))


def _thinking(body: MessagesRequest) -> bool:
    config = body.thinking or {}
    if config.get("type") != "enabled":
        return config.get("type") == "adaptive"
    budget = config.get("budget_tokens")
    if not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
        message = f"thinking.budget_tokens: must be at least {MIN_THINKING_BUDGET}"
        raise InvalidRequest(message, "thinking.budget_tokens")
    if budget >= body.max_tokens:
        message = "`max_tokens` must be greater than `thinking.budget_tokens`"
        raise InvalidRequest(message, "max_tokens")
    return True


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for j, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise InvalidRequest(f"{where}.{j}: expected a text block", f"{where}.{j}")
        texts.append(str(block.get("text", "")))
    return "\n".join(texts)


def _message(message: dict[str, Any], i: int, thinking: bool, answers_tools: bool) -> list[Any]:
    role = message.get("role")
    content = message.get("content")
    where = f"messages.{i}"
    if role not in ("user", "assistant"):
        raise InvalidRequest(f"{where}.role: must be 'user' or 'assistant'", f"{where}.role")
    if isinstance(content, str) or (
        isinstance(content, list) and all(b.get("type") == "text" for b in content)
    ):
        if not content:
            raise InvalidRequest(f"{where}: content must be non-empty", f"{where}.content")
        return [{"role": role, "content": _text_of(content, f"{where}.content")}]
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}.content: must be a string or blocks", f"{where}.content")
    if role == "assistant":
        return [_assistant(content, where, thinking and answers_tools)]
    return _user(content, where)


def _assistant(content: list[dict[str, Any]], where: str, needs_thinking: bool) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        kind = block.get("type")
        if kind == "thinking" and block.get("signature") != sign(str(block.get("thinking"))):
            raise InvalidRequest(
                f"{where}.content.{j}: Invalid `signature` in `thinking` block",
                f"{where}.content.{j}",
            )
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            arguments = msgspec.json.encode(block.get("input", {})).decode()
            function = {"name": block.get("name"), "arguments": arguments}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
    first = content[0].get("type") if content else None
    if calls and needs_thinking and first not in ("thinking", "redacted_thinking"):
        raise InvalidRequest(
            f"{where}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
            f"`{first}`. When `thinking` is enabled, a final `assistant` message must start "
            "with a thinking block.",
            f"{where}.content.0",
        )
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        out["tool_calls"] = calls
    return out


def _user(content: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        kind = block.get("type")
        if kind == "tool_result":
            result = block.get("content", "")
            text = (
                result
                if isinstance(result, str)
                else _text_of(
                    [b for b in result if b.get("type") == "text"], f"{where}.content.{j}"
                )
            )
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text})
        elif kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind in ("image", "document"):
            parts.append({"type": "image_url", "image_url": {"url": "sim://" + kind}})
        else:
            raise InvalidRequest(f"{where}.content.{j}.type: unknown block type {kind!r}", where)
    if parts and all(p["type"] == "text" for p in parts):
        out.append({"role": "user", "content": "\n".join(p["text"] for p in parts)})
    elif parts:
        out.append({"role": "user", "content": parts})
    return out


def _check_tool_results(messages: list[dict[str, Any]]) -> None:
    offered: set[str] = set()
    for message in messages:
        if message["role"] == "assistant":
            offered = {str(call["id"]) for call in message.get("tool_calls") or ()}
        elif message["role"] == "tool" and message["tool_call_id"] not in offered:
            raise InvalidRequest(
                f"unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{message['tool_call_id']}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message.",
                "messages",
            )


def _tool(tool: dict[str, Any], i: int) -> ToolDef:
    name = tool.get("name")
    schema = tool.get("input_schema")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"tools.{i}.name: Field required", f"tools.{i}.name")
    if not isinstance(schema, dict):
        raise InvalidRequest(f"tools.{i}.input_schema: Field required", f"tools.{i}.input_schema")
    return ToolDef(name, schema)


def _tool_choice(raw: dict[str, Any] | None) -> tuple[str, str | None, bool]:
    if raw is None:
        return "auto", None, True
    kind = raw.get("type")
    parallel = not raw.get("disable_parallel_tool_use", False)
    if kind == "auto":
        return "auto", None, parallel
    if kind == "any":
        return "required", None, parallel
    if kind == "none":
        return "none", None, parallel
    if kind == "tool" and isinstance(raw.get("name"), str):
        return "required", raw["name"], parallel
    raise InvalidRequest("tool_choice: must be auto, any, tool (with name) or none", "tool_choice")


def _cached(body: MessagesRequest) -> int:
    cached = 0
    if isinstance(body.system, list) and any("cache_control" in b for b in body.system):
        cached += estimate_text_tokens(_text_of(body.system, "system"))
    if body.tools and any("cache_control" in t for t in body.tools):
        cached += estimate_text_tokens(str(body.tools))
    return cached
