"""Gemini ``generateContent`` request bodies → the protocol-neutral :class:`Prompt`. Pure.

Checks what the real API checks and a translating client could get wrong: roles are only
``user`` and ``model``; every turn has parts; a turn of ``functionResponse`` parts answers the
model turn just before it, with as many responses as it made calls, under the same names;
``temperature`` lies in 0..2; at most five ``stopSequences``. While thinking is on, the first
``functionCall`` of the model turn being answered must carry the ``thoughtSignature`` the
simulator gave it (or Google's documented placeholder), as Gemini 3 requires.

Contents are rebuilt in the OpenAI shape the answer generator reads (all-text turns become
strings; ``functionCall`` → ``tool_calls`` with ids by position; ``functionResponse`` → ``tool``
messages, a ``{"result": text}`` response unwrapped to its text).
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

__all__ = ["IMPLICIT_CACHE_MIN_TOKENS", "GenerateRequest", "Parsed", "sign", "to_prompt"]

IMPLICIT_CACHE_MIN_TOKENS = 32  # a system instruction this long is reported as cached
SKIP_SIGNATURE = "skip_thought_signature_validator"
_MAX_STOPS = 5


class GenerateRequest(msgspec.Struct, rename="camel"):
    contents: list[dict[str, Any]]
    system_instruction: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_config: dict[str, Any] | None = None
    generation_config: dict[str, Any] | None = None
    safety_settings: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class Parsed:
    prompt: Prompt
    thinking: bool
    prompt_tokens: int
    cached_tokens: int


def sign(name: str, args: Any) -> str:
    """The thought signature the simulator gives a function call."""
    data = b"pointsman-sim/" + name.encode() + msgspec.json.encode(args)
    return base64.b64encode(hashlib.blake2b(data, digest_size=18).digest()).decode()


def to_prompt(body: GenerateRequest, default_tokens: int) -> Parsed:
    """The prompt for a decoded request (``default_tokens``: the answer length when not cut).

    Raises :class:`InvalidRequest` naming the field.
    """
    config = body.generation_config or {}
    thinking = _thinking(config)
    messages: list[dict[str, Any]] = []
    system = _system(body.system_instruction)
    if system:
        messages.append({"role": "system", "content": system})
    if not body.contents:
        raise InvalidRequest("contents is not specified", "contents")
    answered = _answered_turn(body.contents)
    for i, content in enumerate(body.contents):
        messages += _turn(content, i, messages, thinking and i == answered)
    tools = _tools(body.tools or [])
    choice, forced = _tool_choice(body.tool_config)
    prompt = Prompt(messages=messages, tools=tools, tool_choice=choice, forced_tool=forced)
    _generation(config, prompt, default_tokens)
    prompt_tokens = estimate_prompt_tokens(messages, body.tools)
    cached = estimate_text_tokens(system or "")
    cached = cached if cached >= IMPLICIT_CACHE_MIN_TOKENS else 0
    return Parsed(prompt, thinking, prompt_tokens, min(cached, prompt_tokens))


def _thinking(config: dict[str, Any]) -> bool:
    thinking = config.get("thinkingConfig") or {}
    return bool(thinking) and thinking.get("thinkingBudget", -1) != 0


def _system(instruction: dict[str, Any] | None) -> str:
    if not instruction:
        return ""
    return "\n".join(str(p.get("text", "")) for p in instruction.get("parts") or ())


def _answered_turn(contents: list[dict[str, Any]]) -> int | None:
    """The index of the model turn whose calls the final turn answers, if it does."""
    last = contents[-1].get("parts") or []
    if len(contents) >= 2 and any("functionResponse" in p for p in last):
        return len(contents) - 2
    return None


def _turn(
    content: dict[str, Any], i: int, history: list[dict[str, Any]], needs_signature: bool
) -> list[dict[str, Any]]:
    role = content.get("role", "user")
    parts = content.get("parts")
    where = f"contents[{i}]"
    if role not in ("user", "model"):
        raise InvalidRequest(f"Please use a valid role: user, model. ({where}.role)", where)
    if not parts:
        raise InvalidRequest(f"{where}.parts: must not be empty", f"{where}.parts")
    if role == "model":
        return [_model_turn(parts, i, needs_signature)]
    responses = [p["functionResponse"] for p in parts if "functionResponse" in p]
    out = _responses(responses, i, history) if responses else []
    texts = [str(p["text"]) for p in parts if "text" in p]
    media = [p for p in parts if "inlineData" in p or "fileData" in p]
    if media:
        content_parts: list[dict[str, Any]] = [{"type": "text", "text": t} for t in texts]
        content_parts += [{"type": "image_url", "image_url": {"url": "sim://media"}} for _ in media]
        out.append({"role": "user", "content": content_parts})
    elif texts:
        out.append({"role": "user", "content": "\n".join(texts)})
    return out


def _model_turn(parts: list[dict[str, Any]], i: int, needs_signature: bool) -> dict[str, Any]:
    texts = [str(p["text"]) for p in parts if "text" in p and not p.get("thought")]
    calls = []
    for k, part in enumerate(p for p in parts if "functionCall" in p):
        call = part["functionCall"]
        args = call.get("args") or {}
        if (
            k == 0
            and needs_signature
            and part.get("thoughtSignature")
            not in (
                sign(str(call.get("name")), args),
                SKIP_SIGNATURE,
            )
        ):
            raise InvalidRequest(
                f"Function call is missing a thought_signature in functionCall parts "
                f"(contents[{i}].parts). Return the model's parts unchanged.",
                f"contents[{i}]",
            )
        function = {"name": call.get("name"), "arguments": msgspec.json.encode(args).decode()}
        calls.append({"id": f"call_g{i}_{k}", "type": "function", "function": function})
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        out["tool_calls"] = calls
    return out


def _responses(
    responses: list[dict[str, Any]], i: int, history: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    previous = history[-1] if history else {}
    calls = previous.get("tool_calls") or [] if previous.get("role") == "assistant" else []
    if len(calls) != len(responses):
        raise InvalidRequest(
            "Please ensure that the number of function response parts is equal to the number "
            f"of function call parts of the function call turn (contents[{i}]).",
            f"contents[{i}]",
        )
    out = []
    for call, response in zip(calls, responses, strict=True):
        if response.get("name") != call["function"]["name"]:
            raise InvalidRequest(
                f"contents[{i}]: functionResponse '{response.get('name')}' does not answer "
                f"functionCall '{call['function']['name']}'",
                f"contents[{i}]",
            )
        value = response.get("response") or {}
        result = value.get("result") if set(value) == {"result"} else value
        text = result if isinstance(result, str) else msgspec.json.encode(result).decode()
        out.append({"role": "tool", "tool_call_id": call["id"], "content": text})
    return out


def _tools(raw: list[dict[str, Any]]) -> list[ToolDef]:
    out = []
    for i, tool in enumerate(raw):
        for j, declaration in enumerate(tool.get("functionDeclarations") or ()):
            name = declaration.get("name")
            if not isinstance(name, str) or not name:
                where = f"tools[{i}].functionDeclarations[{j}].name"
                raise InvalidRequest(f"{where}: required", where)
            schema = declaration.get("parametersJsonSchema") or declaration.get("parameters")
            out.append(ToolDef(name, schema or {"type": "object", "properties": {}}))
    return out


def _tool_choice(config: dict[str, Any] | None) -> tuple[str, str | None]:
    calling = (config or {}).get("functionCallingConfig") or {}
    mode = calling.get("mode", "AUTO")
    if mode in ("AUTO", "MODE_UNSPECIFIED"):
        return "auto", None
    if mode == "NONE":
        return "none", None
    if mode in ("ANY", "VALIDATED"):
        allowed = calling.get("allowedFunctionNames") or []
        return "required", allowed[0] if len(allowed) == 1 else None
    raise InvalidRequest(f"toolConfig.functionCallingConfig.mode: unknown {mode!r}", "toolConfig")


def _generation(config: dict[str, Any], prompt: Prompt, default_tokens: int) -> None:
    temperature = config.get("temperature")
    if temperature is not None and not 0 <= temperature <= 2:
        raise InvalidRequest("generationConfig.temperature: must be in [0, 2]", "temperature")
    stops = config.get("stopSequences") or []
    if len(stops) > _MAX_STOPS:
        raise InvalidRequest(f"stopSequences: at most {_MAX_STOPS}", "stopSequences")
    prompt.stop = stops
    # maxOutputTokens is a ceiling, as in Gemini: only one shorter than the answer cuts it.
    limit = config.get("maxOutputTokens")
    prompt.max_tokens = limit if limit is not None and limit < default_tokens else None
    prompt.n = int(config.get("candidateCount") or 1)
    prompt.seed = config.get("seed")
    if config.get("responseMimeType") == "application/json":
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        prompt.response_format = "json_schema" if schema else "json_object"
        prompt.schema = schema
