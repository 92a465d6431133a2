"""JSON generated from JSON schemas is valid against them."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointsman.simulator.schema_values import SchemaError, value_for

from .schema_check import errors

SCHEMAS: dict[str, Any] = {
    "weather": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 14},
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    "nested": {
        "type": "object",
        "properties": {
            "user": {
                "type": "object",
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "id": {"type": "string", "format": "uuid"},
                    "tags": {
                        "type": "array",
                        "items": {"type": "string", "minLength": 2, "maxLength": 5},
                        "minItems": 2,
                        "maxItems": 4,
                    },
                },
                "required": ["email", "id", "tags"],
            },
            "when": {"type": "string", "format": "date-time"},
            "ok": {"type": "boolean"},
            "nothing": {"type": "null"},
        },
        "required": ["user"],
    },
    "numbers": {
        "type": "object",
        "properties": {
            "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "even": {"type": "integer", "multipleOf": 2, "minimum": -9, "maximum": 9},
            "step": {"type": "number", "multipleOf": 0.5, "minimum": 1, "maximum": 3},
            "negative": {"type": "integer", "maximum": -5},
        },
    },
    "defaults_const_nullable": {
        "type": "object",
        "properties": {
            "mode": {"type": "string", "default": "fast"},
            "version": {"const": 3},
            "note": {"type": ["string", "null"]},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 10}]},
        },
        "required": ["mode", "version", "note", "maybe"],
    },
    "refs_and_combinators": {
        "$defs": {
            "point": {
                "type": "object",
                "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                "required": ["x", "y"],
            }
        },
        "type": "object",
        "properties": {
            "start": {"$ref": "#/$defs/point"},
            "path": {"type": "array", "items": {"$ref": "#/$defs/point"}, "minItems": 1},
            "shape": {
                "oneOf": [
                    {"type": "string", "enum": ["circle"]},
                    {"type": "integer", "minimum": 3},
                ]
            },
            "labelled": {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
                ]
            },
            "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
            "unique": {
                "type": "array",
                "items": {"enum": ["a", "b", "c"]},
                "uniqueItems": True,
                "minItems": 3,
            },
        },
        "required": ["start", "path", "shape", "labelled", "pair", "unique"],
    },
    "tree": {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["name"],
            }
        },
        "$ref": "#/$defs/node",
    },
    "untyped": {"properties": {"anything": {}, "also": True}, "required": ["anything", "also"]},
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=40, database=None, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_generated_values_are_valid(name: str, seed: int) -> None:
    schema = SCHEMAS[name]
    value = value_for(schema, random.Random(seed))
    assert errors(value, schema) == []


def test_all_properties_are_filled_in_and_defaults_used() -> None:
    value = value_for(SCHEMAS["weather"], random.Random(1))
    assert set(value) == {"city", "unit", "days"}
    value = value_for(SCHEMAS["defaults_const_nullable"], random.Random(1))
    assert value["mode"] == "fast" and value["version"] == 3
    assert isinstance(value["note"], str) and isinstance(value["maybe"], int)


def test_same_seed_same_value() -> None:
    schema = SCHEMAS["nested"]
    assert value_for(schema, random.Random(5)) == value_for(schema, random.Random(5))


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"$ref": "#/$defs/missing"}, "does not resolve"),
        ({"$ref": "http://example.com/schema"}, "only local"),
        ({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "loops"),
        (
            {
                "$defs": {
                    "n": {
                        "type": "object",
                        "properties": {"next": {"$ref": "#/$defs/n"}},
                        "required": ["next"],
                    }
                },
                "$ref": "#/$defs/n",
            },
            "deeper than",
        ),
        ({"type": "integer", "minimum": 5, "maximum": 4}, "empty range"),
        ({"type": "integer", "minimum": 1.2, "maximum": 1.8}, "no integer"),
        ({"type": "array", "items": {"enum": ["a"]}, "uniqueItems": True, "minItems": 2}, "unique"),
    ],
)
def test_unsatisfiable_schemas_raise(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        value_for(schema, random.Random(0))
