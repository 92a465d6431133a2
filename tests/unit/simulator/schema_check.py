"""A small JSON Schema checker for the keywords the simulator generates from (test helper).

Independent of the generator on purpose: it re-reads the schema rules rather than reusing the
generator's code, so a generator bug cannot hide behind a shared mistake.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_FORMATS = {
    "date": r"\d{4}-\d{2}-\d{2}",
    "date-time": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
    "time": r"\d{2}:\d{2}:\d{2}",
    "email": r"[^@\s]+@[^@\s]+\.[a-z]+",
    "uri": r"https?://\S+",
    "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "ipv4": r"(\d{1,3}\.){3}\d{1,3}",
}
_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[kind])


def errors(value: Any, schema: Any, root: Any = None, path: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema``, as ``"path: reason"`` strings."""
    root = schema if root is None else root
    if schema is True or schema == {}:
        return []
    out: list[str] = []
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        out += errors(value, target, root, path)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_type_ok(value, k) for k in kinds):
            return [f"{path}: {value!r} is not {kinds}"]
    if "const" in schema and value != schema["const"]:
        out.append(f"{path}: {value!r} != const")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} not in enum")
    if "anyOf" in schema and all(errors(value, s, root, path) for s in schema["anyOf"]):
        out.append(f"{path}: matches no anyOf branch")
    if "oneOf" in schema:
        matches = sum(not errors(value, s, root, path) for s in schema["oneOf"])
        if matches != 1:
            out.append(f"{path}: matches {matches} oneOf branches")
    for sub in schema.get("allOf", ()):
        out += errors(value, sub, root, path)
    if isinstance(value, dict):
        out += _object(value, schema, root, path)
    elif isinstance(value, list):
        out += _array(value, schema, root, path)
    elif isinstance(value, str):
        out += _string(value, schema, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out += _number(value, schema, path)
    return out


def _object(value: Mapping[str, Any], schema: Any, root: Any, path: str) -> list[str]:
    out = [f"{path}: missing {key}" for key in schema.get("required", ()) if key not in value]
    properties = schema.get("properties", {})
    for key, item in value.items():
        if key in properties:
            out += errors(item, properties[key], root, f"{path}.{key}")
        elif schema.get("additionalProperties") is False:
            out.append(f"{path}: unexpected {key}")
    return out


def _array(value: list[Any], schema: Any, root: Any, path: str) -> list[str]:
    out = []
    if len(value) < schema.get("minItems", 0):
        out.append(f"{path}: fewer than minItems")
    if len(value) > schema.get("maxItems", len(value)):
        out.append(f"{path}: more than maxItems")
    if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
        out.append(f"{path}: items not unique")
    prefix = schema.get("prefixItems", [])
    for i, item in enumerate(value):
        sub = prefix[i] if i < len(prefix) else schema.get("items", {})
        out += errors(item, sub, root, f"{path}[{i}]")
    return out


def _string(value: str, schema: Any, path: str) -> list[str]:
    out = []
    if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 10**9):
        out.append(f"{path}: length {len(value)} out of bounds")
    fmt = schema.get("format")
    if fmt in _FORMATS and not re.fullmatch(_FORMATS[fmt], value):
        out.append(f"{path}: {value!r} is not a {fmt}")
    return out


def _number(value: float, schema: Any, path: str) -> list[str]:
    out = []
    if "minimum" in schema and value < schema["minimum"]:
        out.append(f"{path}: {value} < minimum")
    if "maximum" in schema and value > schema["maximum"]:
        out.append(f"{path}: {value} > maximum")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        out.append(f"{path}: {value} <= exclusiveMinimum")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        out.append(f"{path}: {value} >= exclusiveMaximum")
    step = schema.get("multipleOf")
    if step and abs(value / step - round(value / step)) > 1e-9:
        out.append(f"{path}: {value} is not a multiple of {step}")
    return out
