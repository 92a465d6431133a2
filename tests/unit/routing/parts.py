"""A router, the reliability engine and the routing terminal over scripted in-memory providers,
built from a config as a user would write it (no sockets)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import msgspec

from pointsman.config import Config, parse_config
from pointsman.core.pipeline import Caller, RequestContext
from pointsman.core.types import ChatRequest
from pointsman.reliability.engine import Reliability
from pointsman.routing.router import Router, RouteStage
from pointsman.routing.terminal import RoutingTerminal
from tests.unit.reliability.fakes import FAST_RETRY, Clock, Scripted


@dataclass
class Parts:
    router: Router
    terminal: RoutingTerminal
    engine: Reliability
    providers: dict[str, Scripted]
    clock: Clock
    config: Config | None = None

    async def run(self, ctx: RequestContext) -> None:
        """Resolve and dispatch like the pipeline does, settling the request at the end."""
        stage = RouteStage(self.router)
        try:
            await stage.on_request(ctx)
            await self.terminal(ctx)
        except Exception as error:
            ctx.error = error  # type: ignore[assignment]
            raise
        finally:
            await stage.on_complete(ctx)


def build(
    models: dict[str, Any],
    providers: dict[str, Scripted] | None = None,
    routing: dict[str, Any] | None = None,
    sink: Any = None,
    seed: int = 7,
) -> Parts:
    providers = providers or {"p": Scripted("p")}
    data: dict[str, Any] = {
        "server": {"auth": "none"},
        "providers": {n: {"protocol": "openai", "base_url": f"http://{n}/v1"} for n in providers},
        "models": models,
        "reliability": {"retry": dict(FAST_RETRY)},
        "governance": {"enabled": False},
        "routing": routing or {},
    }
    config = parse_config(data, env={}, protocols=("openai",))
    clock = Clock()
    engine = Reliability(config, clock=clock, rng=random.Random(seed))
    router = Router(
        config, providers, board=engine.board, sink=sink, rng=random.Random(seed), clock=clock
    )
    terminal = RoutingTerminal(router, engine.dispatcher(config, router))
    return Parts(router, terminal, engine, providers, clock, config)


def chat(
    alias: str,
    text: str = "hello there",
    *,
    headers: dict[str, str] | None = None,
    ceiling: str | None = None,
    **fields: Any,
) -> RequestContext:
    """A chat request for ``alias`` from a key with the data-class ``ceiling``."""
    body = {"model": alias, "messages": [{"role": "user", "content": text}], **fields}
    request = msgspec.convert(body, ChatRequest)
    caller = Caller("key-1", "test key", data_class=ceiling)
    return RequestContext(
        "r1", "chat", body, headers or {}, chat=request, alias=alias, caller=caller
    )
