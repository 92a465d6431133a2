"""The wire protocols the simulator speaks: one module per protocol, registered here.

A protocol module exports ``ROUTES``, a tuple of :class:`~pointsman.simulator.routing.Route`
for the paths it answers (OpenAI: ``/v1/chat/completions``, ``/v1/embeddings``,
``/v1/models``). It parses its own request bodies into the protocol-neutral
:class:`~pointsman.simulator.answer.Prompt`, draws the request's fate from
``state.faults``, records it in ``state.stats``, and renders answers and errors in its own
format. To add a protocol, write its module and add it to :data:`PROTOCOLS`; paths must not
collide with another protocol's. Every handler is wrapped by :func:`.gates.malformable`, so
``x-sim-malformed`` works the same for all protocols.
"""

from __future__ import annotations

from pointsman.simulator.routing import Route
from pointsman.simulator.wire import anthropic, gemini, openai
from pointsman.simulator.wire.gates import malformable

__all__ = ["PROTOCOLS", "routes"]

PROTOCOLS = (openai, anthropic, gemini)


def routes() -> tuple[Route, ...]:
    """Every route of every registered protocol."""
    return tuple(
        Route(route.method, route.path, malformable(route.handler), route.prefix)
        for protocol in PROTOCOLS
        for route in protocol.ROUTES
    )
