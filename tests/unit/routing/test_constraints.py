"""Constraints, table-tested: data class, capabilities, long output, context fit."""

from __future__ import annotations

import math

import msgspec
import pytest

from pointsman.core.types import ChatRequest
from pointsman.errors import InvalidRequestError, PermissionDeniedError
from pointsman.governance.catalog import Catalog
from pointsman.routing.constraints import (
    Needs,
    chat_needs,
    data_class_of,
    declared_class,
    violation,
)
from pointsman.routing.settings import RoutingSettings

CATALOG = Catalog.load()
SMALL = CATALOG.lookup("sim-small")  # 32,768-token window, 8,192 output, tools + JSON schema
LARGE = CATALOG.lookup("sim-large")  # 128k window, images
FLAKY = CATALOG.lookup("sim-flaky")  # tools, no JSON schema
EMBED = CATALOG.lookup("sim-embed")
REACH = RoutingSettings().reach()


@pytest.mark.parametrize(
    ("request_class", "deployment_class", "allowed"),
    [
        ("public", "closed_api", True),
        ("internal", "closed_api", True),
        ("internal", "managed_open", True),
        ("regulated", "closed_api", False),
        ("regulated", "managed_open", False),
        ("regulated", "self_hosted", True),
        ("regulated", "air_gapped", True),
        ("restricted", "self_hosted", False),
        ("restricted", "air_gapped", True),
    ],
)
def test_default_data_class_matrix(
    request_class: str, deployment_class: str, allowed: bool
) -> None:
    found = violation(Needs(request_class), deployment_class, SMALL, REACH)
    assert (found is None) is allowed
    if not allowed:
        assert found is not None and found[0] == "data_class"
        assert f"{request_class} data may not reach a {deployment_class}" in found[1]


def test_data_class_holds_even_for_models_the_catalog_does_not_know() -> None:
    assert violation(Needs("regulated"), "closed_api", None, REACH) is not None
    assert (
        violation(Needs("public", tools=True, output_tokens=10**9), "closed_api", None, REACH)
        is None
    )


def test_the_matrix_is_configurable() -> None:
    reach = RoutingSettings(data_classes={"internal": ["self_hosted", "air_gapped"]}).reach()
    assert violation(Needs("internal"), "closed_api", SMALL, reach) is not None
    assert violation(Needs("public"), "closed_api", SMALL, reach) is None


def test_a_more_sensitive_class_may_not_reach_more() -> None:
    problems = RoutingSettings(data_classes={"restricted": ["closed_api"]}).problems()
    assert problems and problems[0].startswith(
        "routing.data_classes.restricted: reaches closed_api"
    )
    assert RoutingSettings().problems() == []


@pytest.mark.parametrize(
    ("needs", "info", "reason"),
    [
        (Needs("public", tools=True), SMALL, None),
        (Needs("public", json_schema=True), FLAKY, "capability"),
        (Needs("public", images=True), SMALL, "capability"),
        (Needs("public", images=True), LARGE, None),
        (Needs("public", audio=True), LARGE, "capability"),
        (Needs("public", output_tokens=8192), SMALL, None),
        (Needs("public", output_tokens=8193), SMALL, "output"),
        (Needs("public", kind="embeddings"), EMBED, None),
        (Needs("public", kind="embeddings"), SMALL, "capability"),
        (Needs("public"), EMBED, "capability"),
    ],
)
def test_capabilities(needs: Needs, info: object, reason: str | None) -> None:
    found = violation(needs, "closed_api", info, REACH)  # type: ignore[arg-type]
    assert (found[0] if found else None) == reason


@pytest.mark.parametrize(
    ("prompt", "output", "fits"),
    [
        (26_000, 1_000, True),  # 27,000 x 1.2 = 32,400 <= 32,768
        (27_000, 400, False),  # 27,400 x 1.2 = 32,880 > 32,768
        (27_306, 0, True),  # 32,767.2 -> 32,768 fits exactly
        (27_307, 0, False),  # 32,768.4 -> 32,769 does not
        (20_000, 8_000, False),  # the 20 % buffer applies to the requested output too
    ],
)
def test_context_fit_with_a_20_percent_buffer(prompt: int, output: int, fits: bool) -> None:
    needs = Needs("public", prompt_tokens=prompt, output_tokens=output or None)
    assert fits is (math.ceil((prompt + output) * 1.2) <= 32_768)  # the table is right
    found = violation(needs, "closed_api", SMALL, REACH)
    assert (found is None) is fits
    if not fits:
        assert found is not None and found[0] == "context" and "32768-token window" in found[1]


def test_request_data_class() -> None:
    assert data_class_of(None, None, "ceiling") == "public"  # no ceiling: public
    assert data_class_of(None, "regulated", "ceiling") == "regulated"  # cautious default
    assert data_class_of(None, "regulated", "public") == "public"
    assert data_class_of("Internal", "regulated", "ceiling") == "internal"  # may declare lower
    assert data_class_of(None, "bogus", "ceiling") == "restricted"  # unknown ceiling: strictest
    with pytest.raises(PermissionDeniedError) as above:
        data_class_of("restricted", "regulated", "ceiling")
    assert above.value.code == "data_class_above_ceiling" and above.value.status == 403
    with pytest.raises(InvalidRequestError) as unknown:
        data_class_of("secret", None, "ceiling")
    assert "public, internal, regulated, restricted" in unknown.value.message


def _chat(**fields: object) -> ChatRequest:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    return msgspec.convert(body, ChatRequest)


def test_declared_class_header_wins_over_metadata() -> None:
    chat = _chat(metadata={"data_class": "internal"})
    assert declared_class({}, chat) == "internal"
    assert declared_class({"x-pointsman-data-class": "regulated"}, chat) == "regulated"
    assert declared_class({}, _chat()) is None


def test_chat_needs_reads_what_the_request_uses() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}
    audio = {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}
    chat = _chat(
        messages=[{"role": "user", "content": [{"type": "text", "text": "x"}, image, audio]}],
        tools=[{"type": "function", "function": {"name": "f"}}],
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
        max_completion_tokens=77,
    )
    needs = chat_needs(chat, "internal", 123)
    assert needs == Needs("internal", "chat", 123, 77, True, True, True, True)
    assert chat_needs(_chat(), "public", 5) == Needs("public", prompt_tokens=5)
