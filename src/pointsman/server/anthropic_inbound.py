"""Anthropic Messages requests → the canonical (OpenAI-shaped) request body. Pure: no I/O.

The body is first validated against the Messages API shape (msgspec; an error names the field,
e.g. ``messages[0].content[1].type``), then rewritten:

* ``system`` → a ``system`` message (a single plain block becomes a string);
* ``user`` blocks → content parts (images as ``image_url``, base64 PDFs as ``file``, plain-text
  documents as text); ``tool_result`` blocks → ``tool`` messages, placed before the user's own
  content of that turn (images inside a result follow as a user message);
* ``assistant`` blocks → ``content``, ``tool_calls`` (``tool_use`` input encoded as JSON text)
  and the canonical extensions ``reasoning_content`` and ``thinking_blocks`` (verbatim);
* ``tools``/``tool_choice`` → OpenAI tools (``any`` → ``required``, ``tool`` → the named
  function, ``disable_parallel_tool_use`` → ``parallel_tool_calls: false``);
* ``max_tokens``, ``stop_sequences`` → ``stop``, ``temperature``, ``top_p``, ``top_k``,
  ``metadata.user_id`` → ``user``, ``thinking`` (kept verbatim), ``output_config.format`` →
  ``response_format`` (``json_schema``), ``output_config.effort`` → ``reasoning_effort``;
* ``stream`` → ``stream`` with ``stream_options.include_usage`` (the closing ``message_delta``
  reports usage).

``cache_control`` markers stay on the parts and tools they mark. Server tools and file
references have no canonical form and are refused (422).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct

from pointsman.errors import UnprocessableContentError
from pointsman.server.wire import validate

__all__ = [
    "CountTokensRequest",
    "MessagesRequest",
    "count_tokens_request",
    "messages",
    "to_canonical",
]

T = TypeVar("T")

_encode = msgspec.json.encode
_EFFORT = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}


class Base64Source(Struct, tag="base64", tag_field="type"):
    media_type: str
    data: str


class URLSource(Struct, tag="url", tag_field="type"):
    url: str


class PlainTextSource(Struct, tag="text", tag_field="type"):
    data: str
    media_type: str = "text/plain"


class FileSource(Struct, tag="file", tag_field="type"):
    file_id: str


class TextBlock(Struct, tag="text", tag_field="type"):
    text: str
    cache_control: dict[str, Any] | None = None


class ImageBlock(Struct, tag="image", tag_field="type"):
    source: Base64Source | URLSource | FileSource
    cache_control: dict[str, Any] | None = None


class DocumentBlock(Struct, tag="document", tag_field="type"):
    source: Base64Source | URLSource | PlainTextSource | FileSource
    title: str | None = None
    cache_control: dict[str, Any] | None = None


class ToolUseBlock(Struct, tag="tool_use", tag_field="type"):
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(Struct, tag="tool_result", tag_field="type"):
    tool_use_id: str
    content: str | list[TextBlock | ImageBlock | DocumentBlock] | None = None
    is_error: bool | None = None


class ThinkingBlock(Struct, tag="thinking", tag_field="type"):
    thinking: str
    signature: str


class RedactedThinkingBlock(Struct, tag="redacted_thinking", tag_field="type"):
    data: str


Block = (
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock
)


class MessageParam(Struct):
    role: Literal["user", "assistant"]
    content: str | list[Block]


class ToolParam(Struct):
    name: str
    input_schema: dict[str, Any] | None = None
    description: str | None = None
    type: str | None = None
    cache_control: dict[str, Any] | None = None


class ToolChoice(Struct):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class Metadata(Struct):
    user_id: str | None = None


class MessagesRequest(Struct):
    """The ``POST /v1/messages`` body, as far as Pointsman reads it."""

    model: str
    max_tokens: Annotated[int, Meta(ge=1)]
    messages: Annotated[list[MessageParam], Meta(min_length=1)]
    system: str | list[TextBlock] | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    temperature: Annotated[float, Meta(ge=0, le=1)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    top_k: Annotated[int, Meta(ge=0)] | None = None
    tools: list[ToolParam] | None = None
    tool_choice: ToolChoice | None = None
    thinking: dict[str, Any] | None = None
    metadata: Metadata | None = None
    output_config: dict[str, Any] | None = None


class CountTokensRequest(Struct):
    """The ``POST /v1/messages/count_tokens`` body: a request without ``max_tokens``."""

    model: str
    messages: Annotated[list[MessageParam], Meta(min_length=1)]
    system: str | list[TextBlock] | None = None
    tools: list[ToolParam] | None = None
    thinking: dict[str, Any] | None = None


def to_canonical(raw: dict[str, Any]) -> dict[str, Any]:
    """A decoded Messages request body → the canonical request body.

    Raises :class:`~pointsman.errors.InvalidRequestError` naming the field for a body that is
    not a valid Messages request, :class:`UnprocessableContentError` for what has no
    canonical form.
    """
    request = _validate(raw, MessagesRequest)
    body: dict[str, Any] = {"model": request.model, "messages": messages(request)}
    body["max_tokens"] = request.max_tokens
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if request.stop_sequences:
        body["stop"] = request.stop_sequences
    for key in ("temperature", "top_p", "top_k", "thinking"):
        value = getattr(request, key)
        if value is not None:
            body[key] = value
    if request.metadata is not None and request.metadata.user_id:
        body["user"] = request.metadata.user_id
    tools(request.tools, request.tool_choice, body)
    _output_config(request.output_config or {}, body)
    return body


_BLOCK_TYPES = "text, image, document, tool_use, tool_result, thinking, redacted_thinking"


def _validate(raw: dict[str, Any], schema: type[T]) -> T:
    try:
        return validate(raw, schema)
    except UnprocessableContentError as error:  # worded for OpenAI content parts: reword
        raise UnprocessableContentError(
            f"Unsupported content block type at '{error.param}'; supported: {_BLOCK_TYPES}",
            param=error.param,
        ) from None


def count_tokens_request(raw: dict[str, Any]) -> CountTokensRequest:
    """Validate a ``count_tokens`` body. Raises like :func:`to_canonical`."""
    return _validate(raw, CountTokensRequest)


def messages(request: MessagesRequest | CountTokensRequest) -> list[dict[str, Any]]:
    """The canonical messages of a request, its system prompt first."""
    out: list[dict[str, Any]] = []
    system = request.system
    if isinstance(system, str) and system:
        out.append({"role": "system", "content": system})
    elif system:
        out.append({"role": "system", "content": _parts(system, "system")})
    for i, message in enumerate(request.messages):
        where = f"messages[{i}]"
        if isinstance(message.content, str):
            out.append({"role": message.role, "content": message.content})
        elif message.role == "assistant":
            out.append(_assistant(message.content))
        else:
            out += _user(message.content, where)
    return out


def _parts(blocks: list[Any], where: str) -> str | list[dict[str, Any]]:
    """User-side blocks → a string (one plain text block) or content parts."""
    if len(blocks) == 1 and isinstance(blocks[0], TextBlock) and not blocks[0].cache_control:
        return blocks[0].text
    parts = []
    for j, block in enumerate(blocks):
        part = _part(block, f"{where}.content[{j}]")
        if getattr(block, "cache_control", None):
            part["cache_control"] = block.cache_control
        parts.append(part)
    return parts


def _part(block: Any, where: str) -> dict[str, Any]:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    source = block.source
    if isinstance(block, DocumentBlock) and isinstance(source, PlainTextSource):
        return {"type": "text", "text": source.data}
    if isinstance(source, Base64Source):
        url = f"data:{source.media_type};base64,{source.data}"
        if isinstance(block, ImageBlock):
            return {"type": "image_url", "image_url": {"url": url}}
        return {"type": "file", "file": {"file_data": url, "filename": block.title or "document"}}
    if isinstance(source, URLSource) and isinstance(block, ImageBlock):
        return {"type": "image_url", "image_url": {"url": source.url}}
    raise UnprocessableContentError(
        "Pointsman cannot forward file references or URL documents; send the data inline",
        param=where,
    )


def _user(blocks: list[Any], where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    own: list[Any] = []
    for j, block in enumerate(blocks):
        if isinstance(block, ToolResultBlock):
            out += _tool_result(block, f"{where}.content[{j}]")
        elif isinstance(block, TextBlock | ImageBlock | DocumentBlock):
            own.append(block)
        else:
            raise UnprocessableContentError(
                f"a user message cannot hold a '{type(block).__name__}'",
                param=f"{where}.content[{j}]",
            )
    if own:
        out.append({"role": "user", "content": _parts(own, where)})
    return out


def _tool_result(block: ToolResultBlock, where: str) -> list[dict[str, Any]]:
    content = block.content
    if content is None or isinstance(content, str):
        text = content or ""
        media: list[Any] = []
    else:
        text = "".join(b.text for b in content if isinstance(b, TextBlock))
        media = [b for b in content if not isinstance(b, TextBlock)]
    out: list[dict[str, Any]] = [{"role": "tool", "tool_call_id": block.tool_use_id}]
    out[0]["content"] = text
    if media:  # OpenAI tool results are text; pictures a tool returned follow as user content
        out.append({"role": "user", "content": [_part(b, where) for b in media]})
    return out


def _assistant(blocks: list[Any]) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    thinking: list[dict[str, Any]] = []
    for block in blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            function = {"name": block.name, "arguments": _encode(block.input).decode()}
            calls.append({"id": block.id, "type": "function", "function": function})
        elif isinstance(block, ThinkingBlock | RedactedThinkingBlock):
            thinking.append(msgspec.to_builtins(block))
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["reasoning_content"] = "".join(b.get("thinking", "") for b in thinking)
        message["thinking_blocks"] = thinking
    if message["content"] is None and not calls:
        message["content"] = ""
    return message


def tools(params: list[ToolParam] | None, choice: ToolChoice | None, body: dict[str, Any]) -> None:
    """Set ``tools``, ``tool_choice`` and ``parallel_tool_calls`` of ``body``."""
    if params:
        converted = []
        for i, tool in enumerate(params):
            if tool.input_schema is None:
                raise UnprocessableContentError(
                    f"server tool '{tool.type or tool.name}' cannot be routed through Pointsman",
                    param=f"tools[{i}]",
                )
            function: dict[str, Any] = {"name": tool.name, "parameters": tool.input_schema}
            if tool.description:
                function["description"] = tool.description
            converted.append({"type": "function", "function": function})
            if tool.cache_control:
                converted[-1]["cache_control"] = tool.cache_control
        body["tools"] = converted
    if choice is None:
        return
    if choice.type == "tool":
        body["tool_choice"] = {"type": "function", "function": {"name": choice.name or ""}}
    else:
        body["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[choice.type]
    if choice.disable_parallel_tool_use:
        body["parallel_tool_calls"] = False


def _output_config(config: dict[str, Any], body: dict[str, Any]) -> None:
    output_format = config.get("format")
    if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
        schema = output_format.get("schema") or {}
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema},
        }
    effort = _EFFORT.get(str(config.get("effort")))
    if effort is not None:
        body["reasoning_effort"] = effort
