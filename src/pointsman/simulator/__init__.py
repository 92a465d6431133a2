"""A simulated upstream LLM provider: a real HTTP server speaking the OpenAI, Anthropic
Messages and Gemini wire formats.

It stands in for real providers in the demo, the tests, chaos tests and benchmarks, and says
so everywhere (``x-simulated: true`` on every response, ``system_fingerprint:
"pointsman-simulated"``, ``owned_by: "pointsman-simulator"``). Answers are deterministic
functions of the prompt; latency and faults follow per-model :class:`Profile` settings, can be
changed live through ``/_sim/`` control endpoints, and can be forced per request with the
``x-sim-fault`` and ``x-sim-ttft-ms`` headers. Prompts containing the word "hard" get
low-confidence logprobs (see :mod:`.text`). The full guide is ``docs/simulator.md``.

Layout: :mod:`.profiles` (behaviour settings), :mod:`.answer` / :mod:`.text` /
:mod:`.schema_values` / :mod:`.embeddings` (what a model says, protocol-neutral),
:mod:`.faults` (what goes wrong and when), :mod:`.wire` (one module per wire protocol,
dispatched by path), :mod:`.control` (``/_sim/``), :mod:`.connection` (HTTP/1.1 on
``asyncio.Protocol`` + httptools), :mod:`.server` (:class:`SimServer`, :func:`run`).
"""

from pointsman.simulator.profiles import (
    BUILTIN_PROFILES,
    Outage,
    Profile,
    ProfileError,
    load_profiles,
)
from pointsman.simulator.server import SimServer, run

__all__ = [
    "BUILTIN_PROFILES",
    "Outage",
    "Profile",
    "ProfileError",
    "SimServer",
    "load_profiles",
    "run",
]
