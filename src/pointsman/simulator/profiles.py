"""Behaviour profiles of simulated models: latency, speed, faults, limits.

A :class:`Profile` describes how one simulated model behaves. The simulator serves one model per
profile, under the profile's name. Built-in profiles (:data:`BUILTIN_PROFILES`) cover the common
cases; :func:`load_profiles` reads more from YAML::

    profiles:
      sim-small:            # a built-in name: only the listed fields change
        ttft_ms: 10
      my-flaky:             # a new name: unlisted fields take the Profile defaults
        tokens_per_s: 80
        error_rates: {429: 0.2}
        outages: [{start_s: 30, end_s: 45}]

Every problem is reported as a :class:`ProfileError` naming the YAML path of the bad field and
the bad value, e.g. ``profiles.my-flaky.error_rates.429: must be between 0 and 1 (got 1.5)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

__all__ = [
    "BUILTIN_PROFILES",
    "Outage",
    "Profile",
    "ProfileError",
    "load_profiles",
    "profile_from_mapping",
    "update_profile",
]


class Outage(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A window, in seconds after server start (or the last reset), where every request fails
    with 503."""

    start_s: float
    end_s: float


class Profile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How one simulated model behaves. Immutable: change a model by replacing its profile.

    Latency: the first token comes after a lognormal delay with median ``ttft_ms`` and shape
    ``ttft_sigma`` (0 = always exactly ``ttft_ms``); then tokens arrive at ``tokens_per_s``
    (0 = all at once). Faults are drawn per request from a random generator seeded with
    ``seed``, so a given server replays the same sequence of faults and delays.
    """

    name: str
    ttft_ms: float = 0.0
    ttft_sigma: float = 0.0
    tokens_per_s: float = 0.0
    output_tokens: int = 48
    error_rates: dict[int, float] = {}
    retry_after_s: float = 1.0
    down: bool = False
    outages: list[Outage] = []
    disconnect_rate: float = 0.0
    disconnect_after_tokens: int = 5
    context_window: int = 32768
    embedding_dim: int = 256
    seed: int = 0

    @property
    def is_instant(self) -> bool:
        """True when no latency and no fault can ever be drawn (the fast path)."""
        return (
            self.ttft_ms == 0
            and self.tokens_per_s == 0
            and not self.error_rates
            and not self.down
            and not self.outages
            and self.disconnect_rate == 0
        )


class ProfileError(ValueError):
    """A profile file or update is invalid. The message names the field path and bad value."""


BUILTIN_PROFILES: Mapping[str, Profile] = {
    p.name: p
    for p in (
        Profile(name="sim-small", ttft_ms=30, ttft_sigma=0.2, tokens_per_s=250),
        Profile(
            name="sim-large", ttft_ms=150, ttft_sigma=0.2, tokens_per_s=60, context_window=128000
        ),
        Profile(
            name="sim-flaky",
            ttft_ms=30,
            ttft_sigma=0.2,
            tokens_per_s=200,
            error_rates={429: 0.10, 500: 0.05, 503: 0.05},
            disconnect_rate=0.05,
        ),
        Profile(name="sim-instant"),
        Profile(name="sim-embed", ttft_ms=5, embedding_dim=256),
    )
}

_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _lookup(raw: Any, msgspec_path: str) -> Any:
    """The value at a msgspec error path such as ``$.outages[0].end_s`` inside ``raw``.

    Stops at the deepest container it can reach (dictionary values are reported by msgspec as
    ``[...]``, without the key).
    """
    value = raw
    for key, index in _PATH_PART.findall(msgspec_path.removeprefix("$")):
        try:
            value = value[key] if key else value[int(index)]
        except (KeyError, IndexError, TypeError):
            break
    return value


def _convert(raw: Mapping[str, Any], where: str) -> Profile:
    try:
        return msgspec.convert(raw, Profile, str_keys=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        reason, _, at = message.partition(" - at `")
        at = at.rstrip("`")
        if at.startswith("key` in `"):  # a bad dictionary key: report the dictionary
            at = at.removeprefix("key` in `")
        if not at:
            field = re.search(r"field `([^`]+)`", message)
            at = f"$.{field.group(1)}" if field else "$"
        value = _lookup(raw, at)
        path = where + at.removeprefix("$")
        raise ProfileError(f"{path}: {reason} (got {value!r})") from None


def _check(profile: Profile, where: str, raw: Mapping[str, Any]) -> None:
    """Range checks msgspec types cannot express. Raises ProfileError on the first problem,
    quoting the value as written in ``raw`` when it is a top-level field."""

    def fail(field: str, value: object, reason: str) -> None:
        value = raw.get(field, value)
        raise ProfileError(f"{where}.{field}: {reason} (got {value!r})")

    for field in ("ttft_ms", "ttft_sigma", "tokens_per_s", "retry_after_s"):
        if getattr(profile, field) < 0:
            fail(field, getattr(profile, field), "must be >= 0")
    for field in ("output_tokens", "context_window", "embedding_dim"):
        if getattr(profile, field) < 1:
            fail(field, getattr(profile, field), "must be >= 1")
    if profile.disconnect_after_tokens < 0:
        fail("disconnect_after_tokens", profile.disconnect_after_tokens, "must be >= 0")
    if not 0 <= profile.disconnect_rate <= 1:
        fail("disconnect_rate", profile.disconnect_rate, "must be between 0 and 1")
    for status, rate in profile.error_rates.items():
        if not 400 <= status <= 599:
            fail(f"error_rates.{status}", status, "status must be an HTTP error (400-599)")
        if not 0 <= rate <= 1:
            fail(f"error_rates.{status}", rate, "must be between 0 and 1")
    if sum(profile.error_rates.values()) > 1:
        fail("error_rates", profile.error_rates, "probabilities must add up to at most 1")
    for i, outage in enumerate(profile.outages):
        if not 0 <= outage.start_s < outage.end_s:
            fail(f"outages[{i}]", msgspec.to_builtins(outage), "needs 0 <= start_s < end_s")


def profile_from_mapping(
    name: str, fields: Mapping[str, Any], base: Profile | None = None, where: str = ""
) -> Profile:
    """Build the profile ``name`` from ``fields`` laid over ``base`` (or the Profile defaults).

    ``where`` prefixes field paths in error messages (defaults to ``profiles.<name>``).
    Raises :class:`ProfileError` for unknown fields, wrong types and out-of-range values.
    """
    where = where or f"profiles.{name}"
    if not isinstance(fields, Mapping):
        raise ProfileError(f"{where}: must be a mapping of profile fields (got {fields!r})")
    if "name" in fields and fields["name"] != name:
        raise ProfileError(f"{where}.name: must match the profile key {name!r}")
    start = msgspec.to_builtins(base, str_keys=True) if base is not None else {}
    merged = {**start, **fields, "name": name}
    profile = _convert(merged, where)
    _check(profile, where, merged)
    return profile


def update_profile(profile: Profile, fields: Mapping[str, Any]) -> Profile:
    """``profile`` with ``fields`` changed, validated like a file entry. Raises ProfileError."""
    return profile_from_mapping(profile.name, fields, base=profile)


def load_profiles(path: str | Path) -> dict[str, Profile]:
    """The built-in profiles, plus and overridden by those in the YAML file at ``path``.

    A profile whose name is built in starts from the built-in one; any other starts from the
    :class:`Profile` defaults. Raises :class:`ProfileError` (message starting with the file
    path) when the file cannot be read or parsed or holds an invalid profile.
    """
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: cannot read profiles: {exc}") from None
    profiles = dict(BUILTIN_PROFILES)
    if document is None:
        return profiles
    if not isinstance(document, dict) or set(document) - {"profiles"}:
        raise ProfileError(
            f"{path}: expected a mapping with one key, 'profiles' (got {document!r})"
        )
    entries = document.get("profiles") or {}
    if not isinstance(entries, dict):
        raise ProfileError(f"{path}: profiles: must be a mapping of name -> fields")
    for name, fields in entries.items():
        if not isinstance(name, str) or not name:
            raise ProfileError(f"{path}: profiles: profile names must be strings (got {name!r})")
        try:
            profiles[name] = profile_from_mapping(name, fields or {}, base=profiles.get(name))
        except ProfileError as exc:
            raise ProfileError(f"{path}: {exc}") from None
    return profiles
