"""OpenAI request bodies: typed decoding and validation into protocol-neutral values.

Pure: raises :class:`InvalidRequest` (with the offending parameter) for a body that decodes
but makes no sense; fields the simulator does not use (temperature, user, ...) are ignored.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pointsman.simulator.answer import Prompt, ToolDef

__all__ = ["ChatRequest", "EmbeddingsRequest", "InvalidRequest", "embedding_inputs", "to_prompt"]

_MAX_N = 128
_MAX_STOPS = 4
_MAX_TOP_LOGPROBS = 20


class InvalidRequest(ValueError):
    """The request is well-formed JSON but invalid; ``param`` names the field."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


class StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class ChatRequest(msgspec.Struct):
    """The fields of a chat completion request that shape the simulated answer."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None


class EmbeddingsRequest(msgspec.Struct):
    """An embeddings request; ``input`` is checked by :func:`embedding_inputs`."""

    model: str
    input: Any
    dimensions: int | None = None
    encoding_format: str | None = None


def to_prompt(body: ChatRequest) -> Prompt:
    """The :class:`Prompt` for a decoded chat request. Raises :class:`InvalidRequest`."""
    if not body.messages:
        raise InvalidRequest("messages must contain at least one message", "messages")
    for i, entry in enumerate(body.messages):
        if not isinstance(entry.get("role"), str):
            raise InvalidRequest(f"messages[{i}].role is missing", f"messages[{i}].role")
    n = 1 if body.n is None else body.n
    if not 1 <= n <= _MAX_N:
        raise InvalidRequest(f"n must be between 1 and {_MAX_N} (got {n})", "n")
    param = "max_completion_tokens" if body.max_completion_tokens is not None else "max_tokens"
    max_tokens = body.max_completion_tokens if param == "max_completion_tokens" else body.max_tokens
    if max_tokens is not None and max_tokens < 1:
        raise InvalidRequest(f"{param} must be at least 1 (got {max_tokens})", param)
    stops = [body.stop] if isinstance(body.stop, str) else list(body.stop or ())
    if len(stops) > _MAX_STOPS:
        raise InvalidRequest(f"stop takes at most {_MAX_STOPS} sequences", "stop")
    top = body.top_logprobs or 0
    if not 0 <= top <= _MAX_TOP_LOGPROBS:
        message = f"top_logprobs must be between 0 and {_MAX_TOP_LOGPROBS} (got {top})"
        raise InvalidRequest(message, "top_logprobs")
    tools = _tools(body.tools or [])
    tool_choice, forced = _tool_choice(body.tool_choice)
    response_format, schema = _response_format(body.response_format)
    return Prompt(
        messages=body.messages,
        tools=tools,
        tool_choice=tool_choice,
        forced_tool=forced,
        parallel_tool_calls=body.parallel_tool_calls is not False,
        max_tokens=max_tokens,
        stop=stops,
        n=n,
        seed=body.seed,
        response_format=response_format,
        schema=schema,
        logprobs=bool(body.logprobs),
        top_logprobs=top,
    )


def _tools(raw: list[dict[str, Any]]) -> list[ToolDef]:
    tools = []
    for i, tool in enumerate(raw):
        function = tool.get("function")
        if tool.get("type", "function") != "function" or not isinstance(function, dict):
            raise InvalidRequest(f"tools[{i}] must be a function tool", f"tools[{i}]")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"tools[{i}].function.name is missing", f"tools[{i}].function")
        parameters = function.get("parameters") or {}
        if not isinstance(parameters, dict):
            message = f"tools[{i}].function.parameters must be a JSON schema object"
            raise InvalidRequest(message, f"tools[{i}].function.parameters")
        tools.append(ToolDef(name, parameters))
    return tools


def _tool_choice(raw: str | dict[str, Any] | None) -> tuple[str, str | None]:
    if raw is None:
        return "auto", None
    if isinstance(raw, str):
        if raw not in ("auto", "none", "required"):
            message = f"tool_choice must be 'auto', 'none', 'required' or a function (got {raw!r})"
            raise InvalidRequest(message, "tool_choice")
        return raw, None
    function = raw.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    if raw.get("type") != "function" or not isinstance(name, str):
        message = 'tool_choice object must be {"type": "function", "function": {"name": ...}}'
        raise InvalidRequest(message, "tool_choice")
    return "required", name


def _response_format(raw: dict[str, Any] | None) -> tuple[str, Any]:
    kind = "text" if raw is None else raw.get("type")
    if kind in ("text", "json_object"):
        return str(kind), None
    if kind == "json_schema":
        spec = raw.get("json_schema") if raw else None
        if not isinstance(spec, dict):
            message = "response_format.json_schema is required for type json_schema"
            raise InvalidRequest(message, "response_format")
        schema = spec.get("schema", {})
        if not isinstance(schema, dict | bool):
            message = "response_format.json_schema.schema must be a JSON schema"
            raise InvalidRequest(message, "response_format")
        return "json_schema", schema
    message = f"response_format.type must be text, json_object or json_schema (got {kind!r})"
    raise InvalidRequest(message, "response_format")


def embedding_inputs(raw: Any) -> list[str | list[int]]:
    """``input`` of an embeddings request as a list of strings or token-id lists.

    Accepts a string, a list of strings, a list of token ids, or a list of token-id lists.
    Raises :class:`InvalidRequest` for anything else, or for empty inputs.
    """
    if isinstance(raw, str) or (isinstance(raw, list) and raw and all(map(_is_int, raw))):
        raw = [raw]  # one input
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("input must be a non-empty string or array", "input")
    for i, item in enumerate(raw):
        if isinstance(item, str):
            if not item:
                raise InvalidRequest(f"input[{i}] is an empty string", "input")
        elif not (isinstance(item, list) and item and all(_is_int(t) for t in item)):
            message = f"input[{i}] must be a string or a non-empty array of token ids"
            raise InvalidRequest(message, "input")
    return raw


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
