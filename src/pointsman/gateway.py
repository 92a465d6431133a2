"""One config snapshot made live: providers, route table and pipeline, with reload semantics.

A :class:`Gateway` is immutable once started. A reload builds a new one, swaps it in atomically
(:class:`Runtime`), and retires the old one: requests already running keep the snapshot they
started with, and the old providers' connections close when the last of them has finished.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pointsman.cache.service import ResponseCache
from pointsman.config import Config, ConfigError, load_config
from pointsman.core.pipeline import Pipeline, RequestContext, Stage
from pointsman.governance.auth import Authenticate
from pointsman.observe.service import Observability
from pointsman.providers.base import Provider
from pointsman.providers.registry import build_provider
from pointsman.reliability.engine import Reliability
from pointsman.routing.router import Router, RouteStage
from pointsman.routing.terminal import RoutingTerminal

if TYPE_CHECKING:
    from pointsman.governance.service import Governance

log = logging.getLogger("pointsman")


class Gateway:
    def __init__(
        self,
        config: Config,
        governance: Governance | None = None,
        reliability: Reliability | None = None,
        observability: Observability | None = None,
        response_cache: ResponseCache | None = None,
    ) -> None:
        self.config = config
        self.providers: dict[str, Provider] = {
            name: build_provider(name, spec) for name, spec in config.providers.items()
        }
        # Breakers and health outlive a snapshot: the Runtime passes the process's engine.
        self.reliability = reliability if reliability is not None else Reliability(config)
        # The router is the snapshot's route table with constraints and policies: every place
        # that picks deployments (resolve, downgrade, the walk's fallbacks) goes through it.
        self.routes = self.router = Router(
            config,
            self.providers,
            board=self.reliability.board,
            sink=governance.writer.submit if governance is not None else None,
        )
        keys = governance.keys if governance is not None else None
        self.authenticate = Authenticate(config.server, keys)
        gates, spend = governance.stages(config, self.routes) if governance else ([], [])
        # The order of the pipeline, and why (see core/pipeline.py for the hook contract):
        #   observe      first, so its completion runs last and sees every outcome
        #   authenticate who is calling
        #   resolve      alias -> ordered candidate deployments (constraints, then policy)
        #   gates        budget downgrade, accounting, rate limits
        #   cache        a hit short-circuits here: no reservation, no dispatch
        #   spend        the budget reservation of the worst-case cost
        #   (dispatcher) the attempt loop
        observe: list[Stage] = (
            [observability.stage(config, self.routes)]
            if observability is not None and config.observe.enabled
            else []
        )
        cache = response_cache.stage(config, self.routes) if response_cache is not None else []
        stages: list[Stage] = [
            *observe,
            self.authenticate,
            RouteStage(self.router),
            *gates,
            *cache,
            *spend,
        ]
        dispatcher = self.reliability.dispatcher(config, self.routes)
        self.pipeline = Pipeline(stages, RoutingTerminal(self.router, dispatcher))
        self.inflight = 0
        self.ready = False
        self._retired = False
        self._closing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for provider in self.providers.values():
            await provider.start()
        self.reliability.start(self, self.config, self.providers)
        self.ready = True

    async def close(self) -> None:
        self.ready = False
        await self.router.close()  # shadow calls still running
        await self.reliability.stop(self)
        for provider in self.providers.values():
            await provider.close()

    async def serve(self, ctx: RequestContext) -> None:
        """Run the pipeline for ``ctx`` as an in-flight request of this snapshot.

        A non-streamed answer (or a refusal) is completed and released here. A stream stays in
        flight until whoever relays it calls :meth:`release` when it ends, so a reload never
        closes the providers under a running stream. Raises the pipeline's ``PointsmanError``.
        """
        self.inflight += 1
        try:
            await self.pipeline.run(ctx)
        except BaseException:
            self.leave()  # run() already completed the context
            raise
        if ctx.stream is None:
            await self.release(ctx)

    async def release(self, ctx: RequestContext) -> None:
        """Complete ``ctx`` (post-hooks, idempotent) and leave the in-flight count."""
        try:
            await self.pipeline.complete(ctx)
        finally:
            self.leave()

    def leave(self) -> None:
        self.inflight -= 1
        if self._retired and self.inflight == 0 and self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self.close())

    async def retire(self) -> None:
        """Stop taking requests; close once the in-flight ones have finished."""
        self._retired = True
        if self.inflight == 0 and self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self.close())
        if self._closing is not None:
            await self._closing


class Runtime:
    """Holds the live :class:`Gateway` and swaps it on reload."""

    def __init__(self, config: Config, path: str | Path | None = None) -> None:
        self.governance: Governance | None = None
        if config.governance.enabled:
            # SQLAlchemy and the store load only when governance is on
            from pointsman.governance.service import Governance

            self.governance = Governance(config)
        shared = self.governance.state if self.governance is not None else None
        self.reliability = Reliability(config, shared if shared and shared.shared else None)
        self.observe = Observability(config, self.governance, self.reliability)
        # Entries, connections and the embedding model outlive a snapshot, like governance.
        self.cache = ResponseCache(config)
        self.gateway = Gateway(
            config, self.governance, self.reliability, self.observe, response_cache=self.cache
        )
        self.path = path
        self.reloads = 0

    async def reload(self) -> bool:
        """Re-read the config file. Returns False (and keeps serving) when the new one is bad."""
        if self.path is None:
            log.warning("reload requested but the gateway was not started from a config file")
            return False
        try:
            config = load_config(self.path)
        except ConfigError as error:
            log.error("config reload refused; still serving the previous config\n%s", error)
            return False
        fresh = Gateway(
            config, self.governance, self.reliability, self.observe, response_cache=self.cache
        )
        await fresh.start()
        if self.governance is not None:
            self.governance.configure(config)
        self.observe.configure(config)
        self.cache.configure(config)
        old, self.gateway = self.gateway, fresh
        self.reloads += 1
        log.info("config reloaded from %s (%d aliases)", self.path, len(config.models))
        asyncio.get_running_loop().create_task(old.retire())
        return True
