"""Generate a JSON value that is valid against a JSON Schema (the subset LLM APIs use).

Used for tool-call arguments and ``response_format: json_schema`` answers. Supported:
``type`` (also lists, e.g. ``["string", "null"]``), ``properties`` (required ones always,
optional ones too except below nesting depth 4, so recursive schemas stay finite),
``items`` / ``prefixItems``, ``minItems`` / ``maxItems``, ``uniqueItems``, ``enum``,
``const``, ``default`` (used as the value when present), ``anyOf`` / ``oneOf`` (first
non-null branch), ``allOf`` (merged), local ``$ref`` (``#/$defs/...``,
``#/definitions/...``), string ``format`` (date, date-time, time, email, uri, uuid, ipv4,
hostname), ``minLength`` / ``maxLength``, numeric bounds and ``multipleOf``. ``pattern`` is
not honoured. The value is a pure function of the schema and the random generator's state,
so a seeded generator makes it deterministic.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

from pointsman.simulator.text import VOCABULARY

__all__ = ["SchemaError", "value_for"]

_MAX_DEPTH = 12
_OPTIONAL_DEPTH = 4
_CITIES = ("Paris", "Lisbon", "Nairobi", "Osaka", "Toronto", "Lima", "Oslo", "Hanoi")
_NAMES = ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov")
# Property names that get a more natural string than random words.
_HINTS: dict[str, tuple[str, ...]] = {
    "city": _CITIES,
    "location": _CITIES,
    "place": _CITIES,
    "name": _NAMES,
    "author": _NAMES,
    "country": ("France", "Portugal", "Kenya", "Japan", "Canada", "Peru", "Norway"),
    "language": ("English", "French", "Japanese", "Swahili", "Portuguese"),
}


class SchemaError(ValueError):
    """The schema cannot be satisfied or uses an unresolvable ``$ref``."""


def value_for(schema: Any, rng: random.Random, root: Any = None) -> Any:
    """A value valid against ``schema`` (a JSON Schema mapping; ``True``/``{}`` allow anything).

    ``root`` is the document ``$ref`` pointers resolve against (defaults to ``schema``).
    Raises :class:`SchemaError` for a ``$ref`` that does not resolve or nesting deeper than 12.
    """
    return _Generator(rng, schema if root is None else root).value(schema, "", 0)


class _Generator:
    def __init__(self, rng: random.Random, root: Any) -> None:
        self._rng = rng
        self._root = root

    def value(self, schema: Any, name: str, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise SchemaError("schema nests deeper than 12 levels (recursive $ref?)")
        if schema is True or not isinstance(schema, Mapping):
            return self._string({}, name)
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "default" in schema:
            return schema["default"]
        if schema.get("enum"):
            return self._rng.choice(list(schema["enum"]))
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                branches = [b for b in schema[key] if not _is_null(self._resolve_any(b))]
                return self.value((branches or schema[key])[0], name, depth + 1)
        if schema.get("allOf"):
            return self.value(self._merge(schema), name, depth + 1)
        kind = _kind(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind == "integer":
            return self._integer(schema)
        if kind == "number":
            return self._number(schema)
        if kind == "boolean":
            return self._rng.random() < 0.5
        if kind == "null":
            return None
        return self._string(schema, name)

    def _resolve_any(self, schema: Any) -> Any:
        return self._resolve(schema) if isinstance(schema, Mapping) else schema

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while "$ref" in schema:
            ref = schema["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                raise SchemaError(f"only local $ref pointers are supported (got {ref!r})")
            target: Any = self._root
            for part in filter(None, ref[1:].split("/")):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, Mapping) or part not in target:
                    raise SchemaError(f"$ref {ref!r} does not resolve")
                target = target[part]
            if not isinstance(target, Mapping):
                raise SchemaError(f"$ref {ref!r} does not point at a schema")
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            seen += 1
            if seen > _MAX_DEPTH:
                raise SchemaError(f"$ref {ref!r} loops")
        return schema

    def _merge(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = self._resolve_any(part)
            if not isinstance(part, Mapping):
                continue
            for key, value in part.items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        return merged

    def _object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = schema.get("required") or ()
        out: dict[str, Any] = {}
        for key, sub in properties.items():
            # Optional properties stop deep down, so recursive schemas (trees) stay finite.
            if key in required or depth < _OPTIONAL_DEPTH:
                out[key] = self.value(sub, key, depth + 1)
        for key in required:
            if key not in out:  # required but not described: anything goes
                out[key] = self._string({}, key)
        return out

    def _array(self, schema: Mapping[str, Any], name: str, depth: int) -> list[Any]:
        prefix = list(schema.get("prefixItems") or ())
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, len(prefix), 3)))
        count = max(low, min(high, max(len(prefix), self._rng.randint(1, 3))))
        items = schema.get("items", {})
        out: list[Any] = []
        attempts = 0
        while len(out) < count and attempts < count * 10:
            attempts += 1
            index = len(out)
            sub = prefix[index] if index < len(prefix) else items
            value = self.value(sub, name, depth + 1)
            if schema.get("uniqueItems") and value in out:
                continue
            out.append(value)
        if len(out) < low:
            raise SchemaError(f"cannot make {low} unique items for {name or 'array'}")
        return out

    def _integer(self, schema: Mapping[str, Any]) -> int:
        low, high = _bounds(schema, 1)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            first, last = math.ceil(low / step), math.floor(high / step)
            if first > last:
                raise SchemaError(f"no multiple of {step} in [{low}, {high}]")
            return self._rng.randint(first, last) * step
        low_i, high_i = math.ceil(low), math.floor(high)
        if low_i > high_i:
            raise SchemaError(f"no integer in [{low}, {high}]")
        return self._rng.randint(low_i, high_i)

    def _number(self, schema: Mapping[str, Any]) -> float:
        low, high = _bounds(schema, 0.01)
        step = schema.get("multipleOf")
        if isinstance(step, int | float) and step > 0:
            first, last = math.ceil(low / step), math.floor(high / step)
            if first > last:
                raise SchemaError(f"no multiple of {step} in [{low}, {high}]")
            return float(self._rng.randint(first, last) * step)
        value = round(self._rng.uniform(low, high), 2)
        return min(max(value, low), high)

    def _string(self, schema: Mapping[str, Any], name: str) -> str:
        fmt = schema.get("format")
        rng = self._rng
        if fmt == "date-time":
            text = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z"
        elif fmt == "date":
            text = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        elif fmt == "time":
            text = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00"
        elif fmt == "email":
            text = f"{rng.choice(VOCABULARY)}@example.com"
        elif fmt in ("uri", "url"):
            text = f"https://example.com/{rng.choice(VOCABULARY)}"
        elif fmt == "uuid":
            text = "%08x-%04x-4%03x-8%03x-%012x" % tuple(  # noqa: UP031
                rng.getrandbits(bits) for bits in (32, 16, 12, 12, 48)
            )
        elif fmt == "ipv4":
            text = "192.0.2.%d" % rng.randint(1, 254)  # noqa: UP031
        elif fmt == "hostname":
            text = f"{rng.choice(VOCABULARY)}.example.com"
        else:
            hint = _HINTS.get(name.lower())
            if hint:
                text = rng.choice(hint)
            else:
                text = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 4)))
        low = int(schema.get("minLength", 0))
        if len(text) < low:
            text += "x" * (low - len(text))
        high = schema.get("maxLength")
        return text[: int(high)] if high is not None else text


def _is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def _kind(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
        return "number"
    return "string"


def _bounds(schema: Mapping[str, Any], epsilon: float) -> tuple[float, float]:
    """Inclusive bounds from minimum/maximum/exclusive*, defaulting to a 0..100 span."""
    low = schema.get("minimum")
    high = schema.get("maximum")
    if schema.get("exclusiveMinimum") is not None:
        low = schema["exclusiveMinimum"] + epsilon
    if schema.get("exclusiveMaximum") is not None:
        high = schema["exclusiveMaximum"] - epsilon
    if low is None:
        low = 0 if high is None or high >= 0 else high - 100
    if high is None:
        high = low + 100
    if low > high:
        raise SchemaError(f"empty range [{low}, {high}]")
    return float(low), float(high)
