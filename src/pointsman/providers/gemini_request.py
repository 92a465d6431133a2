"""Canonical (OpenAI-shaped) chat request → Gemini ``generateContent`` request. Pure: no I/O.

What changes shape on the way:

* ``system``/``developer`` messages → ``systemInstruction``; ``assistant`` → role ``model``;
  consecutive turns of one role merge (Gemini wants them alternating).
* ``tool`` messages → ``functionResponse`` parts in a **user** turn (the role Gemini
  documents), named after the call they answer (Gemini matches by name and order); a result
  that is a JSON object is the ``response``, anything else is wrapped as ``{"result": ...}``.
* assistant ``tool_calls`` → ``functionCall`` parts (arguments decoded to an object), each with
  its ``thoughtSignature`` when the call carries ``extra_content.google.thought_signature``
  (the first call of a turn may take it from a ``gemini:``-tagged ``thinking_blocks`` entry).
* ``image_url``/``input_audio``/``file`` parts → ``inlineData`` (data URLs) or ``fileData``.
* ``tools`` → one ``functionDeclarations`` tool; ``tool_choice`` auto/required/none/a function
  → ``functionCallingConfig`` ``AUTO``/``ANY``/``NONE``/``ANY`` + ``allowedFunctionNames``.
* ``generationConfig``: ``temperature``, ``top_p``, ``top_k``, ``max_tokens`` →
  ``maxOutputTokens``, ``stop`` → ``stopSequences``, ``n`` → ``candidateCount``, ``seed``,
  presence/frequency penalties, JSON mode → ``responseMimeType: application/json`` with
  ``responseJsonSchema`` (or ``responseSchema`` for ``schema_format: openapi``); reasoning
  (``reasoning_effort`` or the ``thinking`` extension's budget) → ``thinkingConfig`` with
  ``includeThoughts``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from pointsman.errors import UnprocessableContentError
from pointsman.providers.gemini_schema import to_openapi
from pointsman.providers.media import guess_media_type, parse_data_url

__all__ = ["SKIP_SIGNATURE", "GeminiOptions", "to_gemini"]

THINKING_BUDGETS = {"minimal": 0, "none": 0, "low": 1024, "medium": 8192, "high": 24576}
SKIP_SIGNATURE = "skip_thought_signature_validator"  # Google's documented placeholder
SIGNATURE_TAG = "gemini:"  # marks a thinking block that carries a Gemini thought signature
_decode = msgspec.json.decode


class GeminiOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``providers.<name>.options`` for the ``gemini`` protocol."""

    schema_format: Literal["json_schema", "openapi"] = "json_schema"
    safety_settings: list[dict[str, Any]] = []
    # Send Google's placeholder signature on replayed function calls that have none (a
    # history from another provider); Gemini 3 refuses such calls otherwise.
    placeholder_signatures: bool = False


def to_gemini(body: dict[str, Any], options: GeminiOptions) -> dict[str, Any]:
    """Translate a validated canonical request body (the model goes in the URL, not here).

    Raises :class:`UnprocessableContentError` for tool-call arguments that are not a JSON
    object, roles Gemini has no place for, or content parts it cannot take.
    """
    system, contents = _conversation(body["messages"], options)
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    tools = body.get("tools")
    if tools:
        out["tools"] = [{"functionDeclarations": [_declaration(t, options) for t in tools]}]
        config = _tool_config(body.get("tool_choice"))
        if config is not None:
            out["toolConfig"] = {"functionCallingConfig": config}
    generation = _generation_config(body, options)
    if generation:
        out["generationConfig"] = generation
    if options.safety_settings:
        out["safetySettings"] = list(options.safety_settings)
    return out


# -- conversation ---------------------------------------------------------------------------


def _conversation(
    messages: list[dict[str, Any]], options: GeminiOptions
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool_call_id → function name
    for i, message in enumerate(messages):
        role = message.get("role")
        where = f"messages[{i}]"
        if role in ("system", "developer"):
            system += _parts(message.get("content"), where)
            continue
        if role == "assistant":
            parts = _model_parts(message, where, options, names)
            gemini_role = "model"
        elif role == "tool":
            name = names.get(str(message.get("tool_call_id")), "")
            if not name:
                raise UnprocessableContentError(
                    "a tool result must answer a tool call of an earlier assistant message",
                    param=f"{where}.tool_call_id",
                )
            parts = [{"functionResponse": {"name": name, "response": _response(message)}}]
            gemini_role = "user"
        elif role == "user":
            parts = _parts(message.get("content"), where)
            gemini_role = "user"
        else:
            raise UnprocessableContentError(
                f"gemini has no equivalent of role '{role}'", param=f"{where}.role"
            )
        if not parts:
            continue
        if contents and contents[-1]["role"] == gemini_role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": gemini_role, "parts": parts})
    return system, contents


def _parts(content: Any, where: str) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    out = []
    for j, part in enumerate(content):
        converted = _part(part, f"{where}.content[{j}]")
        if converted is not None:
            out.append(converted)
    return out


def _part(part: dict[str, Any], where: str) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind in ("text", "refusal"):
        text = part.get(kind)
        return {"text": text} if text else None
    if kind == "image_url":
        url = part["image_url"]["url"]
    elif kind == "file":
        url = str(part["file"].get("file_data") or "")
    elif kind == "input_audio":
        audio = part["input_audio"]
        return {"inlineData": {"mimeType": f"audio/{audio['format']}", "data": audio["data"]}}
    else:
        raise UnprocessableContentError(f"gemini cannot take a '{kind}' part", param=where)
    inline = parse_data_url(url)
    if inline is not None:
        return {"inlineData": {"mimeType": inline.media_type, "data": inline.data}}
    if url.startswith(("http://", "https://", "gs://")):
        return {"fileData": {"mimeType": guess_media_type(url), "fileUri": url}}
    raise UnprocessableContentError(f"gemini cannot fetch '{url[:40]}'", param=where)


def _model_parts(
    message: dict[str, Any], where: str, options: GeminiOptions, names: dict[str, str]
) -> list[dict[str, Any]]:
    parts = _parts(message.get("content"), where)
    for j, call in enumerate(message.get("tool_calls") or ()):
        function = call["function"]
        names[str(call.get("id"))] = function["name"]
        try:
            args = _decode(function.get("arguments") or "{}")
        except msgspec.DecodeError:
            args = None
        if not isinstance(args, dict):
            raise UnprocessableContentError(
                "tool call arguments must be a JSON object for gemini",
                param=f"{where}.tool_calls[{j}].function.arguments",
            )
        part: dict[str, Any] = {"functionCall": {"name": function["name"], "args": args}}
        google = (call.get("extra_content") or {}).get("google") or {}
        signature = google.get("thought_signature")
        if signature is None and j == 0:
            signature = _tagged_signature(message)
        if signature is None and j == 0 and options.placeholder_signatures:
            signature = SKIP_SIGNATURE
        if signature is not None:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _tagged_signature(message: dict[str, Any]) -> str | None:
    """A Gemini signature kept in ``thinking_blocks`` (by clients that drop vendor fields)."""
    for block in message.get("thinking_blocks") or ():
        signature = block.get("signature") if isinstance(block, dict) else None
        if isinstance(signature, str) and signature.startswith(SIGNATURE_TAG):
            return signature[len(SIGNATURE_TAG) :]
    return None


def _response(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    text = content or ""
    try:
        value = _decode(text)
    except msgspec.DecodeError:
        return {"result": text}
    return value if isinstance(value, dict) else {"result": value}


# -- tools and generation settings ----------------------------------------------------------


def _declaration(tool: dict[str, Any], options: GeminiOptions) -> dict[str, Any]:
    function = tool["function"]
    out: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        out["description"] = function["description"]
    parameters = function.get("parameters")
    if not parameters:
        return out
    if options.schema_format == "json_schema":
        out["parametersJsonSchema"] = parameters
    elif parameters.get("properties") != {}:  # the OpenAPI subset refuses empty objects
        out["parameters"] = to_openapi(parameters)
    return out


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if isinstance(choice, dict):
        return {"mode": "ANY", "allowedFunctionNames": [choice["function"]["name"]]}
    if choice in ("auto", "required", "none"):
        return {"mode": {"auto": "AUTO", "required": "ANY", "none": "NONE"}[choice]}
    return None


_SETTINGS = (
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("top_k", "topK"),
    ("seed", "seed"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
)


def _generation_config(body: dict[str, Any], options: GeminiOptions) -> dict[str, Any]:
    out: dict[str, Any] = {
        gemini: body[name] for name, gemini in _SETTINGS if body.get(name) is not None
    }
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit:
        out["maxOutputTokens"] = limit
    stop = body.get("stop")
    if stop:
        out["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    if (body.get("n") or 1) > 1:
        out["candidateCount"] = body["n"]
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind in ("json_object", "json_schema"):
        out["responseMimeType"] = "application/json"
        spec = response_format.get("json_schema") if response_format else None
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if schema:
            if options.schema_format == "json_schema":
                out["responseJsonSchema"] = schema
            else:
                out["responseSchema"] = to_openapi(schema)
    thinking = _thinking_budget(body)
    if thinking is not None:
        out["thinkingConfig"] = {"thinkingBudget": thinking, "includeThoughts": thinking != 0}
    return out


def _thinking_budget(body: dict[str, Any]) -> int | None:
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        if thinking.get("type") == "disabled":
            return 0
        budget = thinking.get("budget_tokens")
        return int(budget) if budget is not None else -1  # -1: Gemini decides (dynamic)
    return THINKING_BUDGETS.get(str(body.get("reasoning_effort")))
