"""JSON Schema → the OpenAPI 3.0 subset Gemini's ``parameters`` / ``responseSchema`` accept.

Only needed with ``schema_format: openapi`` (models that predate ``parametersJsonSchema`` and
``responseJsonSchema``, which take JSON Schema as it is). Pure. What changes:

* ``$ref`` into ``$defs``/``definitions`` is inlined (recursive references are cut to an
  object, since the subset cannot express them);
* ``"type": ["string", "null"]`` → ``"type": "string", "nullable": true``; ``anyOf`` with a
  ``null`` member likewise; ``const`` → a one-value ``enum``;
* keywords outside the subset (``additionalProperties``, ``$schema``, ``default``,
  ``examples``, ``pattern`` ...) are dropped.
"""

from __future__ import annotations

from typing import Any

__all__ = ["to_openapi"]

_KEEP = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "items",
        "anyOf",
        "propertyOrdering",
    }
)
_MAX_DEPTH = 32


def to_openapi(schema: Any) -> Any:
    """``schema`` rewritten for Gemini's OpenAPI subset (a new object; the input is untouched)."""
    if not isinstance(schema, dict):
        return schema
    definitions = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    return _convert(schema, definitions, frozenset(), 0)


def _convert(node: Any, defs: dict[str, Any], seen: frozenset[str], depth: int) -> Any:
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return {"type": "object"} if depth > _MAX_DEPTH else node
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in seen or name not in defs:
            return {"type": "object"}
        return _convert(defs[name], defs, seen | {name}, depth + 1)
    out: dict[str, Any] = {}
    kind = node.get("type")
    if isinstance(kind, list):
        real = [k for k in kind if k != "null"]
        out["type"] = real[0] if real else "null"
        if len(real) < len(kind):
            out["nullable"] = True
    elif kind is not None:
        out["type"] = kind
    if "const" in node:
        out["enum"] = [node["const"]]
    variants = node.get("anyOf") or node.get("oneOf")
    if isinstance(variants, list):
        members = [v for v in variants if not (isinstance(v, dict) and v.get("type") == "null")]
        if len(members) < len(variants):
            out["nullable"] = True
        converted = [_convert(v, defs, seen, depth + 1) for v in members]
        if len(converted) == 1:
            out.update(converted[0])
        else:
            out["anyOf"] = converted
    for key, value in node.items():
        if key not in _KEEP or key in out or key == "anyOf":
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {k: _convert(v, defs, seen, depth + 1) for k, v in value.items()}
        elif key == "items":
            out[key] = _convert(value, defs, seen, depth + 1)
        else:
            out[key] = value
    return out
