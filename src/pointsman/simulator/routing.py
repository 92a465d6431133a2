"""Dispatch of requests to handlers by method and path.

A :class:`Route` binds a method and an exact path (or, with ``prefix=True``, every path that
starts with it, for paths that carry parameters such as ``/v1/models/{id}``) to a handler.
Exact routes are looked up first, in one dictionary access; then prefix routes, longest
first. A path that matches with another method gets 405; no match gets 404.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pointsman.simulator.connection import Request
from pointsman.simulator.replies import AnyReply, error_reply
from pointsman.simulator.state import SimState

__all__ = ["Handler", "Route", "Router"]

Handler = Callable[[SimState, Request], AnyReply]


@dataclass(frozen=True, slots=True)
class Route:
    """``handler`` answers ``method`` on ``path`` (or on paths under it when ``prefix``)."""

    method: str
    path: str
    handler: Handler
    prefix: bool = False


class Router:
    """Finds the handler for a request and calls it with the shared state."""

    def __init__(self, state: SimState, routes: Iterable[Route]) -> None:
        self._state = state
        self._exact: dict[tuple[str, str], Handler] = {}
        self._prefixes: list[Route] = []
        for route in routes:
            if route.prefix:
                self._prefixes.append(route)
                continue
            if (route.method, route.path) in self._exact:
                raise ValueError(f"two handlers for {route.method} {route.path}")
            self._exact[route.method, route.path] = route.handler
        self._prefixes.sort(key=lambda r: len(r.path), reverse=True)
        self._paths = {path for _, path in self._exact}

    def __call__(self, request: Request) -> AnyReply:
        """The handler's reply for ``request``, or a 404/405 error reply."""
        handler = self._exact.get((request.method, request.path))
        if handler is not None:
            return handler(self._state, request)
        path_known = request.path in self._paths
        for route in self._prefixes:
            if request.path.startswith(route.path):
                if route.method == request.method:
                    return route.handler(self._state, request)
                path_known = True
        if path_known:
            return error_reply(
                405, f"{request.method} is not allowed on {request.path}", "invalid_request_error"
            )
        return error_reply(
            404, f"no simulated endpoint at {request.path}", "invalid_request_error", "not_found"
        )
