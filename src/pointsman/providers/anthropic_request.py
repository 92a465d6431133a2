"""Canonical (OpenAI-shaped) chat request → Anthropic Messages API request. Pure: no I/O.

What changes shape on the way:

* ``system``/``developer`` messages (wherever they are) → the top-level ``system`` blocks.
* consecutive messages of one role merge into one Anthropic message; ``tool`` messages become
  ``tool_result`` blocks of a user message (parallel results together, before any user text).
* assistant ``tool_calls`` → ``tool_use`` blocks (arguments decoded: Anthropic wants an object);
  ``thinking_blocks`` (the canonical extension) go first, verbatim, signatures intact (blocks
  another provider issued, tagged like ``gemini:...``, are left out).
* ``image_url`` parts → ``image`` blocks (base64 or URL source); PDF ``file`` parts →
  ``document`` blocks; ``cache_control`` on parts and tools is kept. Audio cannot be sent (422).
* ``tools`` → ``{name, description, input_schema}``; ``tool_choice`` auto/required/none/a
  function → ``auto``/``any``/``none``/``tool``; ``parallel_tool_calls: false`` →
  ``disable_parallel_tool_use``.
* ``max_tokens`` is required by Anthropic: the request's limit, else the provider's default.
  ``stop`` → ``stop_sequences``; ``temperature`` is clamped to Anthropic's 0..1; ``user`` →
  ``metadata.user_id``; ``top_k`` (extension) passes.
* reasoning: the ``thinking`` extension (Anthropic's own object) passes verbatim, else
  ``reasoning_effort`` low/medium/high becomes a thinking budget; ``max_tokens`` then grows by
  the budget, and sampling knobs Anthropic forbids with thinking are dropped.
* ``response_format`` JSON: natively as ``output_config.format`` (default), or, for models
  without structured outputs (``json_mode: tool``), as a forced tool whose input is the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from pointsman.errors import UnprocessableContentError
from pointsman.providers.media import parse_data_url

__all__ = ["JSON_TOOL", "AnthropicOptions", "AnthropicRequest", "to_anthropic"]

JSON_TOOL = "json_response"
THINKING_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384}
_decode = msgspec.json.decode


class AnthropicOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``providers.<name>.options`` for the ``anthropic`` protocol."""

    version: str = "2023-06-01"  # the anthropic-version header
    max_tokens: int = 4096  # sent when the request sets no output limit
    json_mode: Literal["native", "tool"] = "native"
    beta: list[str] = []  # anthropic-beta header values


@dataclass(slots=True)
class AnthropicRequest:
    """The body to send, and the name of the tool that carries a JSON answer (tool mode)."""

    body: dict[str, Any]
    json_tool: str | None = None


def to_anthropic(
    body: dict[str, Any], model: str, options: AnthropicOptions, stream: bool
) -> AnthropicRequest:
    """Translate a validated canonical request body. Raises :class:`UnprocessableContentError`
    for what Anthropic cannot express (``n`` > 1, audio, malformed tool-call arguments)."""
    if (body.get("n") or 1) > 1:
        raise UnprocessableContentError("anthropic answers one choice; n must be 1", param="n")
    system, messages = _conversation(body["messages"])
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or options.max_tokens
    out: dict[str, Any] = {"model": model, "max_tokens": limit, "messages": messages}
    if system:
        out["system"] = system
    if stream:
        out["stream"] = True
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("temperature") is not None:
        out["temperature"] = min(float(body["temperature"]), 1.0)
    for key in ("top_p", "top_k"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("user"):
        out["metadata"] = {"user_id": str(body["user"])}
    request = AnthropicRequest(out)
    _tools(body, out)
    _thinking(body, out)
    _json_mode(body, out, options, request)
    return request


# -- conversation ---------------------------------------------------------------------------


def _conversation(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system += [b for b in _blocks(message.get("content"), f"messages[{i}]") if b]
            continue
        if role == "assistant":
            blocks = _assistant_blocks(message, i)
            anthropic_role = "assistant"
        elif role == "tool":
            blocks = [_tool_result(message)]
            anthropic_role = "user"
        elif role == "user":
            blocks = _blocks(message.get("content"), f"messages[{i}]")
            anthropic_role = "user"
        else:
            raise UnprocessableContentError(
                f"anthropic has no equivalent of role '{role}'", param=f"messages[{i}].role"
            )
        if not blocks:
            continue  # Anthropic refuses empty messages
        if out and out[-1]["role"] == anthropic_role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": anthropic_role, "content": blocks})
    return system, out


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """Content (a string or OpenAI parts) → Anthropic content blocks, empty text dropped."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        block = _part(part, f"{where}.content[{j}]")
        if block is not None:
            if "cache_control" in part:
                block["cache_control"] = part["cache_control"]
            blocks.append(block)
    return blocks


def _part(part: dict[str, Any], where: str) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": part["text"]} if part.get("text") else None
    if kind == "refusal":
        return {"type": "text", "text": part["refusal"]} if part.get("refusal") else None
    if kind == "image_url":
        url = part["image_url"]["url"]
        inline = parse_data_url(url)
        if inline is not None:
            source = {"type": "base64", "media_type": inline.media_type, "data": inline.data}
            return {"type": "image", "source": source}
        return {"type": "image", "source": {"type": "url", "url": url}}
    if kind == "file":
        inline = parse_data_url(str(part["file"].get("file_data") or ""))
        if inline is not None:
            source = {"type": "base64", "media_type": inline.media_type, "data": inline.data}
            return {"type": "document", "source": source}
    raise UnprocessableContentError(
        f"anthropic cannot take a '{kind}' content part (only text, images and inline PDFs)",
        param=where,
    )


def _assistant_blocks(message: dict[str, Any], i: int) -> list[dict[str, Any]]:
    blocks = [block for block in message.get("thinking_blocks") or () if _anthropic_block(block)]
    blocks += _blocks(message.get("content"), f"messages[{i}]")
    for j, call in enumerate(message.get("tool_calls") or ()):
        function = call["function"]
        arguments = function.get("arguments") or "{}"
        try:
            parsed = _decode(arguments)
        except msgspec.DecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise UnprocessableContentError(
                "tool call arguments must be a JSON object for anthropic",
                param=f"messages[{i}].tool_calls[{j}].function.arguments",
            )
        blocks.append({"type": "tool_use", "id": call["id"], "name": function["name"]})
        blocks[-1]["input"] = parsed
    return blocks


def _anthropic_block(block: Any) -> bool:
    """A reasoning block Anthropic issued (others, e.g. ``gemini:``-tagged, stay behind)."""
    if not isinstance(block, dict) or block.get("type") not in ("thinking", "redacted_thinking"):
        return False
    return ":" not in str(block.get("signature", ""))  # Anthropic's are plain base64


def _tool_result(message: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
    content = message.get("content")
    if isinstance(content, str):
        if content:
            block["content"] = content
    elif content:
        block["content"] = _blocks(content, "tool")
    return block


# -- tools, reasoning, JSON -----------------------------------------------------------------


def _tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools:
        converted = []
        for tool in tools:
            function = tool["function"]
            entry = {"name": function["name"]}
            if function.get("description"):
                entry["description"] = function["description"]
            entry["input_schema"] = function.get("parameters") or {"type": "object"}
            if "cache_control" in tool:
                entry["cache_control"] = tool["cache_control"]
            converted.append(entry)
        out["tools"] = converted
    choice = body.get("tool_choice")
    spec: dict[str, Any] | None = None
    if isinstance(choice, dict):
        spec = {"type": "tool", "name": choice["function"]["name"]}
    elif choice in ("auto", "required", "none"):
        spec = {"type": {"auto": "auto", "required": "any", "none": "none"}[choice]}
    if body.get("parallel_tool_calls") is False and tools:
        spec = spec or {"type": "auto"}
        if spec["type"] != "none":
            spec["disable_parallel_tool_use"] = True
    if spec is not None and tools:
        out["tool_choice"] = spec


def _thinking(body: dict[str, Any], out: dict[str, Any]) -> None:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict):
        budget = THINKING_BUDGETS.get(str(body.get("reasoning_effort")))
        if budget is None:
            return
        thinking = {"type": "enabled", "budget_tokens": budget}
    out["thinking"] = thinking
    if thinking.get("type") == "disabled":
        return
    budget = int(thinking.get("budget_tokens") or 0)
    if budget and out["max_tokens"] <= budget:
        out["max_tokens"] += budget  # the request's limit was meant for the answer
    # Anthropic refuses these sampling settings while thinking.
    out.pop("temperature", None)
    out.pop("top_k", None)
    if out.get("top_p", 1.0) < 0.95:
        out.pop("top_p")


def _json_mode(
    body: dict[str, Any], out: dict[str, Any], options: AnthropicOptions, request: AnthropicRequest
) -> None:
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind not in ("json_object", "json_schema"):
        return
    schema: dict[str, Any] = {"type": "object"}
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}  # type: ignore[union-attr]
        schema = spec.get("schema") or schema
    if options.json_mode == "native":
        out["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        return
    tool = {"name": JSON_TOOL, "description": "Answer with this tool.", "input_schema": schema}
    out["tools"] = [*out.get("tools", ()), tool]
    if len(out["tools"]) == 1:  # with other tools offered, the model still chooses freely
        out["tool_choice"] = {"type": "tool", "name": JSON_TOOL}
    request.json_tool = JSON_TOOL
