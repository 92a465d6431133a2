"""What a simulated model answers: text, JSON or tool calls, independent of the wire format.

Each wire protocol module turns its request into a :class:`Prompt` (messages in the OpenAI
shape, which is also what ``pointsman.core.tokens`` measures) and renders the
:class:`Choice` list that :func:`answer` returns.

Rules, in order:

1. Tools are offered, ``tool_choice`` is not ``"none"`` and the last message is not a tool
   result: call tools. A forced tool is called alone; otherwise every offered tool whose name
   appears (as a word) in the last user message is called, in order of appearance, or the first
   tool when none is named; ``parallel_tool_calls=False`` keeps only the first call. Arguments
   are generated from each tool's JSON schema. Finish reason ``"tool_calls"``.
2. ``response_format`` asks for JSON: a JSON object (``json_object``) or a value valid against
   the given schema (``json_schema``), cut into 4-character tokens.
3. The last messages are tool results: a sentence quoting each result, then generated words.
4. Otherwise: words chosen by a hash of the messages, the seed and the choice index. The answer
   has ``max_tokens`` tokens when set (finish ``"length"``) or the profile's default length.

``max_tokens`` and ``stop`` apply to every text answer (see :func:`text.truncate`).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from pointsman.core.tokens import estimate_text_tokens
from pointsman.simulator import text as textgen
from pointsman.simulator.schema_values import SchemaError, value_for

__all__ = ["AnswerError", "Choice", "Prompt", "ToolCall", "ToolDef", "answer", "message_text"]

_RESULT_CHARS = 300  # how much of a tool result the follow-up answer quotes


class AnswerError(ValueError):
    """The request cannot be answered; ``param`` names the offending request field."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class ToolDef:
    """A function the model may call: its name and JSON schema for the arguments."""

    name: str
    parameters: Mapping[str, Any]


@dataclass(slots=True)
class Prompt:
    """A chat request, reduced to what shapes the answer. ``messages`` are OpenAI-shaped."""

    messages: Sequence[Mapping[str, Any]]
    tools: Sequence[ToolDef] = ()
    tool_choice: str = "auto"  # "auto" | "required" | "none"
    forced_tool: str | None = None
    parallel_tool_calls: bool = True
    max_tokens: int | None = None
    stop: Sequence[str] = ()
    n: int = 1
    seed: int | None = None
    response_format: str = "text"  # "text" | "json_object" | "json_schema"
    schema: Any = None
    logprobs: bool = False
    top_logprobs: int = 0


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call: ``arguments`` is JSON text; ``pieces`` joined give ``arguments``."""

    id: str
    name: str
    arguments: str
    pieces: list[str]


@dataclass(slots=True)
class Choice:
    """One generated choice. ``tokens`` is empty for a tool-calling choice."""

    index: int
    tokens: list[str]
    finish_reason: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    logprobs: list[textgen.TokenLogprob] | None = None

    @property
    def content(self) -> str | None:
        """The message text; None for a choice that only calls tools."""
        if self.tool_calls and not self.tokens:
            return None
        return "".join(self.tokens)

    @property
    def completion_tokens(self) -> int:
        """Tokens emitted: one per text token, tool arguments by the shared text estimate."""
        return len(self.tokens) + sum(estimate_text_tokens(c.arguments) for c in self.tool_calls)


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message whose content is a string or a list of content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def answer(prompt: Prompt, default_tokens: int) -> list[Choice]:
    """The ``prompt.n`` choices for ``prompt``; ``default_tokens`` is the length of a plain
    answer when ``max_tokens`` is not set. Deterministic in the prompt.

    Raises :class:`AnswerError` for a forced tool that is not offered or a schema that cannot
    be satisfied.
    """
    base = _prompt_key(prompt)
    calls = _tools_to_call(prompt)
    out: list[Choice] = []
    for index in range(prompt.n):
        key = base + index.to_bytes(2, "little")
        if calls:
            tool_calls = [_tool_call(key, i, tool) for i, tool in enumerate(calls)]
            out.append(Choice(index, [], "tool_calls", tool_calls))
            continue
        tokens, finish = _text(key, prompt, default_tokens)
        logprobs = None
        if prompt.logprobs:
            hard = textgen.is_hard(_last_text(prompt.messages, "user"))
            logprobs = textgen.token_logprobs(key, tokens, hard, prompt.top_logprobs)
        out.append(Choice(index, tokens, finish, logprobs=logprobs))
    return out


def _prompt_key(prompt: Prompt) -> bytes:
    digest = hashlib.blake2b(msgspec.json.encode(prompt.messages), digest_size=16)
    if prompt.seed is not None:
        digest.update(b"/seed/%d" % prompt.seed)
    return digest.digest()


def _last_text(messages: Sequence[Mapping[str, Any]], role: str) -> str:
    for message in reversed(messages):
        if message.get("role") == role:
            return message_text(message)
    return ""


def _tools_to_call(prompt: Prompt) -> list[ToolDef]:
    if not prompt.tools or prompt.tool_choice == "none":
        return []
    if prompt.messages and prompt.messages[-1].get("role") == "tool":
        return []
    by_name = {tool.name: tool for tool in prompt.tools}
    if prompt.forced_tool is not None:
        if prompt.forced_tool not in by_name:
            raise AnswerError(
                f"tool_choice names function {prompt.forced_tool!r}, which is not in tools",
                "tool_choice",
            )
        return [by_name[prompt.forced_tool]]
    said = _last_text(prompt.messages, "user")
    found: list[tuple[int, ToolDef]] = []
    for tool in prompt.tools:
        match = re.search(rf"(?<![\w-]){re.escape(tool.name)}(?![\w-])", said)
        if match:
            found.append((match.start(), tool))
    chosen = [tool for _, tool in sorted(found, key=lambda f: f[0])] or [prompt.tools[0]]
    return chosen if prompt.parallel_tool_calls else chosen[:1]


def _tool_call(key: bytes, position: int, tool: ToolDef) -> ToolCall:
    call_key = hashlib.blake2b(key + tool.name.encode(), digest_size=16).digest()
    rng = random.Random(int.from_bytes(call_key, "little"))
    schema = tool.parameters or {"type": "object", "properties": {}}
    try:
        arguments = value_for(schema, rng)
    except SchemaError as exc:
        raise AnswerError(f"tools[{tool.name}].parameters: {exc}", "tools") from None
    if not isinstance(arguments, dict):
        raise AnswerError(f"tools[{tool.name}].parameters must describe an object", "tools")
    text = msgspec.json.encode(arguments).decode()
    call_id = "call_" + hashlib.blake2b(call_key + bytes([position]), digest_size=12).hexdigest()
    return ToolCall(call_id, tool.name, text, textgen.pieces(text, call_key))


def _text(key: bytes, prompt: Prompt, default_tokens: int) -> tuple[list[str], str]:
    """Text tokens and finish reason for a non-tool choice."""
    finish = "stop"
    if prompt.response_format in ("json_object", "json_schema"):
        body = _json_text(key, prompt)
        tokens = [body[i : i + 4] for i in range(0, len(body), 4)]
    elif prompt.messages and prompt.messages[-1].get("role") == "tool":
        lead = textgen.text_tokens(_tool_results_sentence(prompt.messages))
        words = textgen.word_tokens(key, max(default_tokens - len(lead), 8))
        tokens = [*lead, *(" " + word.lstrip() for word in words)]
    else:
        tokens = list(textgen.word_tokens(key, prompt.max_tokens or default_tokens))
        if prompt.max_tokens is not None:
            finish = "length"
    tokens, cut = textgen.truncate(tokens, prompt.max_tokens, prompt.stop)
    return tokens, cut or finish


def _json_text(key: bytes, prompt: Prompt) -> str:
    rng = random.Random(int.from_bytes(key, "little"))
    if prompt.response_format == "json_schema":
        try:
            value = value_for(prompt.schema if prompt.schema is not None else {}, rng)
        except SchemaError as exc:
            raise AnswerError(
                f"response_format.json_schema.schema: {exc}", "response_format"
            ) from None
    else:
        value = {
            "answer": "".join(textgen.word_tokens(key, 12)),
            "confidence": round(rng.uniform(0.5, 0.99), 2),
        }
    return msgspec.json.encode(value).decode()


def _tool_results_sentence(messages: Sequence[Mapping[str, Any]]) -> str:
    """ "The get_weather tool returned: {...}." for each trailing tool-result message."""
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or ():
            if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
                names[str(call.get("id"))] = str(call["function"].get("name", "tool"))
    results: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        name = names.get(str(message.get("tool_call_id")), "tool")
        result = message_text(message)[:_RESULT_CHARS]
        results.append(f"The {name} tool returned: {result}.")
    return " ".join(reversed(results))
