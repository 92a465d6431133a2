"""Profiles: built-ins, YAML loading over them, and errors that name the path and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from pointsman.simulator.profiles import (
    BUILTIN_PROFILES,
    Outage,
    Profile,
    ProfileError,
    load_profiles,
    update_profile,
)


def test_builtins() -> None:
    assert set(BUILTIN_PROFILES) == {
        "sim-small",
        "sim-large",
        "sim-flaky",
        "sim-instant",
        "sim-embed",
    }
    small, large = BUILTIN_PROFILES["sim-small"], BUILTIN_PROFILES["sim-large"]
    assert (small.ttft_ms, small.tokens_per_s) == (30, 250)
    assert (large.ttft_ms, large.tokens_per_s, large.context_window) == (150, 60, 128000)
    flaky = BUILTIN_PROFILES["sim-flaky"]
    assert flaky.error_rates == {429: 0.10, 500: 0.05, 503: 0.05}
    assert flaky.disconnect_rate == 0.05
    assert BUILTIN_PROFILES["sim-instant"].is_instant
    assert not small.is_instant


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profiles.yaml"
    path.write_text(text)
    return path


def test_load_merges_over_builtins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
profiles:
  sim-small:
    ttft_ms: 10
  my-model:
    tokens_per_s: 80
    error_rates: {429: 0.2}
    outages: [{start_s: 30, end_s: 45}]
""",
    )
    profiles = load_profiles(path)
    assert profiles["sim-small"].ttft_ms == 10
    assert profiles["sim-small"].tokens_per_s == 250  # kept from the built-in
    mine = profiles["my-model"]
    assert mine == Profile(
        name="my-model",
        tokens_per_s=80,
        error_rates={429: 0.2},
        outages=[Outage(start_s=30, end_s=45)],
    )
    assert set(profiles) == {*BUILTIN_PROFILES, "my-model"}


def test_empty_file_gives_builtins(tmp_path: Path) -> None:
    assert load_profiles(write(tmp_path, "")) == dict(BUILTIN_PROFILES)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("profiles:\n  m:\n    ttft_ms: -5\n", "profiles.m.ttft_ms: must be >= 0 (got -5)"),
        (
            "profiles:\n  m:\n    ttft_ms: soon\n",
            "profiles.m.ttft_ms: Expected `float`, got `str` (got 'soon')",
        ),
        (
            "profiles:\n  m:\n    colour: red\n",
            "profiles.m.colour: Object contains unknown field `colour` (got 'red')",
        ),
        (
            "profiles:\n  m:\n    error_rates: {429: 1.5}\n",
            "profiles.m.error_rates.429: must be between 0 and 1 (got 1.5)",
        ),
        (
            "profiles:\n  m:\n    error_rates: {200: 0.1}\n",
            "profiles.m.error_rates.200: status must be an HTTP error",
        ),
        (
            "profiles:\n  m:\n    error_rates: {429: 0.6, 500: 0.6}\n",
            "profiles.m.error_rates: probabilities must add up to at most 1",
        ),
        (
            "profiles:\n  m:\n    error_rates: {oops: 0.1}\n",
            "profiles.m.error_rates: Expected `int`, got `str` (got {'oops': 0.1})",
        ),
        (
            "profiles:\n  m:\n    outages: [{start_s: 5, end_s: 2}]\n",
            "profiles.m.outages[0]: needs 0 <= start_s < end_s",
        ),
        (
            "profiles:\n  m:\n    outages: [{start_s: 1, end_s: x}]\n",
            "profiles.m.outages[0].end_s: Expected `float`, got `str` (got 'x')",
        ),
        (
            "profiles:\n  m:\n    disconnect_rate: 2\n",
            "profiles.m.disconnect_rate: must be between 0 and 1 (got 2)",
        ),
        (
            "profiles:\n  m:\n    output_tokens: 0\n",
            "profiles.m.output_tokens: must be >= 1 (got 0)",
        ),
        ("profiles:\n  m: 7\n", "profiles.m: must be a mapping of profile fields (got 7)"),
        ("profiles:\n  m:\n    name: other\n", "profiles.m.name: must match the profile key 'm'"),
        ("models: {}\n", "expected a mapping with one key, 'profiles'"),
        ("profiles: [a, b]\n", "profiles: must be a mapping of name -> fields"),
        ("profiles: {m: {ttft_ms: [}\n", "cannot read profiles"),
    ],
)
def test_errors_name_the_path_and_value(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ProfileError) as caught:
        load_profiles(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read profiles"):
        load_profiles(tmp_path / "absent.yaml")


def test_update_profile_validates_and_keeps_other_fields() -> None:
    small = BUILTIN_PROFILES["sim-small"]
    down = update_profile(small, {"down": True})
    assert down.down and down.ttft_ms == small.ttft_ms
    rates = update_profile(small, {"error_rates": {"429": 0.5}})  # JSON keys are strings
    assert rates.error_rates == {429: 0.5}
    with pytest.raises(ProfileError, match=r"sim-small\.retry_after_s: must be >= 0"):
        update_profile(small, {"retry_after_s": -1})
