"""Constraints: may this deployment serve this request at all? Checked before any policy.

A deployment that fails one is never chosen, for the requested alias or for any fallback:

* **data class** (first, and never overridden): the request's class (``public`` < ``internal`` <
  ``regulated`` < ``restricted``) may reach only some deployment classes (``closed_api``,
  ``managed_open``, ``self_hosted``, ``air_gapped``); see ``routing.settings.DEFAULT_REACH``. A
  request declares its class with the ``x-pointsman-data-class`` header or ``metadata.data_class``;
  a class above the key's ceiling is refused (403);
* **capabilities** the request needs: tools, JSON schema, images, audio (the catalog's entry);
* **long output**: the requested output cap must not exceed the model's maximum output;
* **context fit**: (estimated input tokens + requested output) x 1.2 must fit the model's window.

Models the catalog does not know pass the capability and size checks (the upstream then decides;
only the data class, which is the deployment's own setting, is always enforced). Everything here
is pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pointsman.core.types import AudioPart, ChatRequest, ImagePart
from pointsman.errors import InvalidRequestError, PermissionDeniedError
from pointsman.governance.catalog import ModelInfo
from pointsman.routing.settings import DATA_CLASSES

DATA_CLASS_HEADER = "x-pointsman-data-class"
CONTEXT_BUFFER = 1.2  # estimates run low for some tokenizers; 20 % keeps the call from failing
RANK = {name: i for i, name in enumerate(DATA_CLASSES)}
Kind = Literal["chat", "embeddings"]


@dataclass(frozen=True, slots=True)
class Needs:
    """What a request needs of a deployment."""

    data_class: str
    kind: Kind = "chat"
    prompt_tokens: int = 0
    output_tokens: int | None = None  # the requested cap; None: the model's default
    tools: bool = False
    json_schema: bool = False
    images: bool = False
    audio: bool = False


def data_class_of(declared: str | None, ceiling: str | None, undeclared: str) -> str:
    """The request's data class.

    ``declared``: what the request says (None: nothing); ``ceiling``: the key's highest class
    (None: no ceiling); ``undeclared``: ``ceiling`` or ``public`` (routing.undeclared).
    Raises :class:`InvalidRequestError` for an unknown class and :class:`PermissionDeniedError`
    for a class above the key's ceiling.
    """
    known = ", ".join(DATA_CLASSES)
    if ceiling is not None and ceiling not in RANK:
        ceiling = DATA_CLASSES[-1]  # a key stored with an unknown value: the most sensitive
    if declared is None:
        return ceiling if undeclared == "ceiling" and ceiling is not None else DATA_CLASSES[0]
    value = declared.strip().lower()
    if value not in RANK:
        raise InvalidRequestError(
            f"Unknown data class '{declared}'; known: {known}",
            param="metadata.data_class",
            code="invalid_data_class",
        )
    if ceiling is not None and RANK[value] > RANK[ceiling]:
        raise PermissionDeniedError(
            f"This key may send data up to class '{ceiling}'; the request declares '{value}'",
            param="metadata.data_class",
            code="data_class_above_ceiling",
        )
    return value


def declared_class(headers: Mapping[str, str], chat: ChatRequest | None) -> str | None:
    """The class the request declares: the header wins over ``metadata.data_class``."""
    value = headers.get(DATA_CLASS_HEADER)
    if value is None and chat is not None and chat.metadata:
        value = chat.metadata.get("data_class")
    return value or None


def chat_needs(chat: ChatRequest, data_class: str, prompt_tokens: int) -> Needs:
    """What a chat request needs: tools, JSON schema, media parts, its sizes."""
    images = audio = False
    for message in chat.messages:
        content = message.content
        if isinstance(content, list):
            for part in content:
                images = images or isinstance(part, ImagePart)
                audio = audio or isinstance(part, AudioPart)
    fmt = chat.response_format
    return Needs(
        data_class=data_class,
        prompt_tokens=prompt_tokens,
        output_tokens=chat.output_limit,
        tools=bool(chat.tools),
        json_schema=fmt is not None and fmt.type == "json_schema",
        images=images,
        audio=audio,
    )


def violation(
    needs: Needs, data_class: str, info: ModelInfo | None, reach: Mapping[str, frozenset[str]]
) -> tuple[str, str] | None:
    """None when a deployment of class ``data_class`` serving the model ``info`` (None: not in
    the catalog) may take the request; else ``(reason, detail)``, reason one of ``data_class``,
    ``capability``, ``output``, ``context``."""
    if data_class not in reach.get(needs.data_class, ()):
        return "data_class", f"{needs.data_class} data may not reach a {data_class} deployment"
    if info is None:
        return None
    if needs.kind == "embeddings":
        return None if info.kind == "embedding" else ("capability", "not an embedding model")
    if info.kind != "chat":
        return "capability", "not a chat model"
    lacks = [
        name
        for name, needed, has in (
            ("tools", needs.tools, info.supports_tools),
            ("JSON schema", needs.json_schema, info.supports_json_schema),
            ("images", needs.images, "image" in info.input_modalities),
            ("audio", needs.audio, "audio" in info.input_modalities),
        )
        if needed and not has
    ]
    if lacks:
        return "capability", f"no {' or '.join(lacks)} support"
    output = needs.output_tokens
    if output is not None and info.max_output and output > info.max_output:
        return "output", f"asks {output} output tokens; the model gives at most {info.max_output}"
    required = math.ceil((needs.prompt_tokens + (output or 0)) * CONTEXT_BUFFER)
    if required > info.context_window:
        return "context", (
            f"~{needs.prompt_tokens} input + {output or 0} output tokens + 20 % exceed its "
            f"{info.context_window}-token window"
        )
    return None
