"""Control endpoints under ``/_sim/``, for tests that steer the simulator while it runs.

- ``GET /_sim/profiles``: every served profile, by model name.
- ``PUT /_sim/profiles/{model}``: a JSON object of profile fields to change (e.g.
  ``{"down": true}``); creates the model from the defaults if it is not served yet. Answers the
  resulting profile, or 400 naming the bad field and value. Applies from the next request.
- ``GET /_sim/stats``: request counters (see :class:`~pointsman.simulator.stats.Stats`) and
  ``uptime_s``, the time since start or the last reset (the outage clock).
- ``POST /_sim/reset``: back to the profiles the server started with; counters cleared;
  outage clock and random generators restarted.

These endpoints need no API key: the simulator is a test double, meant for loopback use.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import msgspec

from pointsman.simulator.connection import Request
from pointsman.simulator.profiles import ProfileError, profile_from_mapping
from pointsman.simulator.replies import Reply, error_reply, json_reply
from pointsman.simulator.routing import Route
from pointsman.simulator.state import SimState

__all__ = ["ROUTES"]

PROFILES_PATH = "/_sim/profiles/"


def _profiles_json(state: SimState) -> dict[str, Any]:
    return {name: msgspec.to_builtins(p) for name, p in state.profiles.items()}


def list_profiles(state: SimState, request: Request) -> Reply:
    """Every served profile."""
    return json_reply(200, _profiles_json(state))


def put_profile(state: SimState, request: Request) -> Reply:
    """Change (or create) one model's profile from a JSON object of fields."""
    name = unquote(request.path.removeprefix(PROFILES_PATH))
    if not name or "/" in name:
        return error_reply(404, f"no simulated endpoint at {request.path}", "invalid_request_error")
    try:
        fields = msgspec.json.decode(request.body or b"{}")
    except msgspec.DecodeError as exc:
        return error_reply(400, f"body is not valid JSON: {exc}", "invalid_request_error")
    try:
        profile = profile_from_mapping(name, fields, state.profiles.get(name), where=name)
    except ProfileError as exc:
        return error_reply(400, str(exc), "invalid_request_error")
    state.profiles[name] = profile
    return json_reply(200, msgspec.to_builtins(profile))


def get_stats(state: SimState, request: Request) -> Reply:
    """Request counters and the outage clock."""
    return json_reply(200, {**state.stats.snapshot(), "uptime_s": state.faults.uptime_s()})


def reset(state: SimState, request: Request) -> Reply:
    """Restore the initial profiles; clear counters; restart clocks and generators."""
    state.reset()
    return json_reply(200, {"reset": True})


ROUTES = (
    Route("GET", "/_sim/profiles", list_profiles),
    Route("PUT", PROFILES_PATH, put_profile, prefix=True),
    Route("GET", "/_sim/stats", get_stats),
    Route("POST", "/_sim/reset", reset),
)
