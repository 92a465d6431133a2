"""The packaged catalog parses, looks models up the ways deployments name them, and refuses bad
entries with errors that name the YAML path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import yaml

from pointsman.governance.catalog import DEFAULT_PATH, Catalog, CatalogError

SIMULATED = ("sim-small", "sim-large", "sim-flaky", "sim-instant", "sim-embed")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def parse(data: dict[str, Any]) -> Catalog:
    return Catalog.from_mapping(data, source="test.yaml")


def entry(**fields: Any) -> dict[str, Any]:
    base = {"source": "test", "input": 1, "output": 2, "context_window": 1000, "max_output": 100}
    return {**base, **fields}


def test_packaged_catalog_is_versioned_and_sourced(catalog: Catalog) -> None:
    assert catalog.version == yaml.safe_load(DEFAULT_PATH.read_text())["version"]
    assert len(catalog) >= 20
    for info in catalog:
        assert info.source, info.id
        assert info.catalog_version == catalog.version
        assert info.max_output <= info.context_window
    assert "# checked: " in DEFAULT_PATH.read_text()


def test_packaged_catalog_has_the_simulated_and_the_headline_models(catalog: Catalog) -> None:
    for name in (*SIMULATED, "gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3", "o4-mini"):
        assert catalog.lookup(name) is not None, name
    for name in ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", "gemini-2.5-pro"):
        assert catalog.lookup(name) is not None, name
    assert catalog.lookup("sim-small").input < catalog.lookup("sim-large").input  # type: ignore[union-attr]
    assert catalog.lookup("sim-embed").kind == "embedding"  # type: ignore[union-attr]


def test_prices_are_exact_decimals(catalog: Catalog) -> None:
    mini = catalog.lookup("gpt-4o-mini")
    assert mini is not None
    assert mini.cached_input == Decimal("0.075")
    assert mini.batch_discount == Decimal("0.5")
    pro = catalog.lookup("gemini-2.5-pro")
    assert pro is not None and pro.long_context is not None
    assert pro.long_context.threshold == 200_000
    assert (pro.long_context.input, pro.long_context.output) == (Decimal("2.5"), Decimal(15))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-4o", "openai/gpt-4o"),
        ("GPT-4o", "openai/gpt-4o"),
        ("openai/gpt-4o", "openai/gpt-4o"),
        ("gpt-4o-2024-08-06", "openai/gpt-4o"),  # listed alias
        ("o3-2099-01-01", "openai/o3"),  # unlisted snapshot: the undated entry
        ("claude-sonnet-4-20250514", "anthropic/claude-sonnet-4"),
        ("claude-haiku-4-5-latest", "anthropic/claude-haiku-4-5"),
        ("sim/sim-small", "simulated/sim-small"),  # config provider name as prefix
        (
            "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
        ),
        (
            "together/meta-llama/llama-3.3-70b-instruct-turbo",
            "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
        ),
    ],
)
def test_lookup_forms(catalog: Catalog, name: str, expected: str) -> None:
    info = catalog.lookup(name)
    assert info is not None and info.id == expected


@pytest.mark.parametrize("name", ["gpt-5-imaginary", "", "openai/", "/", "nobody/nothing", "sim"])
def test_unknown_models_give_none(catalog: Catalog, name: str) -> None:
    assert catalog.lookup(name) is None
    assert catalog.missing([(name, None), ("gpt-4o", "openai")]) == [name]


def test_capabilities(catalog: Catalog) -> None:
    gpt = catalog.lookup("gpt-4o")
    small = catalog.lookup("sim-small")
    o3 = catalog.lookup("o3")
    assert gpt is not None and small is not None and o3 is not None
    assert gpt.supports_vision and gpt.supports_tools and gpt.supports_json_schema
    assert not small.supports_vision
    assert o3.supports_reasoning and not gpt.supports_reasoning


def test_protocol_breaks_ties_between_providers() -> None:
    catalog = parse(
        {
            "version": "t1",
            "providers": {
                "groq": {"protocol": "openai", "models": {"shared": entry(input=1)}},
                "native": {"protocol": "native", "models": {"shared": entry(input=5)}},
            },
        },
    )
    assert catalog.lookup("shared").provider == "groq"  # type: ignore[union-attr]
    assert catalog.lookup("shared", "native").provider == "native"  # type: ignore[union-attr]
    assert catalog.lookup("native/shared").input == 5  # type: ignore[union-attr]


def test_overrides_change_prices_and_mark_the_version(catalog: Catalog) -> None:
    cheaper = {"providers": {"openai": {"models": {"gpt-4o": {"input": 2.0}}}}}
    custom = Catalog.load(overrides=cheaper)
    gpt = custom.lookup("gpt-4o")
    assert gpt is not None
    assert gpt.input == Decimal("2.0") and gpt.output == Decimal(10)  # merged, not replaced
    assert custom.version.startswith(catalog.version + "+") and len(custom.version) > len(
        catalog.version
    )
    assert gpt.catalog_version == custom.version
    assert Catalog.load(overrides=cheaper).version == custom.version  # deterministic
    assert catalog.lookup("gpt-4o").input == Decimal("2.5")  # type: ignore[union-attr]


def test_overrides_add_models_and_may_set_the_version() -> None:
    extra = {
        "version": "ours-7",
        "providers": {"vllm": {"protocol": "openai", "models": {"qwen-local": entry(input=0)}}},
    }
    custom = Catalog.load(overrides=extra)
    assert custom.version == "ours-7"
    assert custom.lookup("qwen-local").id == "vllm/qwen-local"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"input": "cheap"}, "providers.p.models.m.input: invalid decimal"),
        ({"output": "nan"}, "providers.p.models.m.output: expected a price >= 0"),
        ({"input": -1}, "providers.p.models.m.input: expected a price >= 0"),
        ({"colour": "red"}, "providers.p.models.m.colour: unknown setting"),
        ({"batch_discount": 1}, "providers.p.models.m.batch_discount: expected a fraction"),
        ({"context_window": 0}, "providers.p.models.m.context_window: expected"),
        (
            {"long_context": {"threshold": 5000, "input": 2, "output": 3}},
            "providers.p.models.m.long_context.threshold: must be below context_window",
        ),
        (
            {"long_context": {"threshold": 10, "input": -2, "output": 3}},
            "providers.p.models.m.long_context.input: expected a price >= 0",
        ),
        ({"name": "other"}, "providers.p.models.m.name: set by the catalog"),
    ],
)
def test_invalid_entries_name_their_path(fields: dict[str, Any], problem: str) -> None:
    data = {
        "version": "v",
        "providers": {"p": {"protocol": "openai", "models": {"m": entry(**fields)}}},
    }
    with pytest.raises(CatalogError) as caught:
        parse(data)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems
    assert caught.value.source == "test.yaml"


def test_missing_fields_and_sections_are_all_reported() -> None:
    data = {
        "providers": {
            "p": {"models": {"m": {"source": "x", "input": 1}}},
            "q": {"protocol": "openai", "models": {}},
        },
        "extra": 1,
    }
    with pytest.raises(CatalogError) as caught:
        parse(data)
    problems = caught.value.problems
    assert "version: required; a non-empty string such as '2026-11-21.1'" in problems
    assert any(p.startswith("extra: unknown section") for p in problems)
    assert any(p.startswith("providers.p.protocol: required") for p in problems)
    assert any(p.startswith("providers.p.models.m.output: required") for p in problems)
    assert any(p.startswith("providers.q.models: required") for p in problems)


def test_unreadable_file_is_a_catalog_error() -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        Catalog.load(DEFAULT_PATH.with_name("absent.yaml"))
    with pytest.raises(CatalogError, match="top level"):
        Catalog.from_mapping(["not", "a", "mapping"])
