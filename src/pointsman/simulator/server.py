"""The simulated provider server: :class:`SimServer` (in-process) and :func:`run` (CLI).

Usable from tests inside a running event loop::

    async with SimServer() as sim:          # built-in profiles, port chosen by the OS
        client = openai.AsyncOpenAI(base_url=sim.base_url, api_key="x")

or as a process: ``python -m pointsman.simulator --port 8900``. Everything it serves is
labelled simulated: responses carry ``x-simulated: true``, completions
``system_fingerprint: "pointsman-simulated"``, models ``owned_by: "pointsman-simulator"``,
and start-up logs a line saying so.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from pointsman.simulator import control, wire
from pointsman.simulator.connection import HttpConnection
from pointsman.simulator.profiles import BUILTIN_PROFILES, Profile, load_profiles
from pointsman.simulator.routing import Router
from pointsman.simulator.state import SimState
from pointsman.simulator.stats import Stats

__all__ = ["SimServer", "run"]

log = logging.getLogger("pointsman.simulator")


class SimServer:
    """An HTTP server answering as the models in ``profiles`` (default: the built-ins).

    With ``api_key`` set, model endpoints require ``Authorization: Bearer <api_key>``.
    Not thread-safe: start, use and stop it from one event loop.
    """

    def __init__(
        self, profiles: Mapping[str, Profile] | None = None, api_key: str | None = None
    ) -> None:
        self.state = SimState(BUILTIN_PROFILES if profiles is None else profiles, api_key)
        self._router = Router(self.state, (*wire.routes(), *control.ROUTES))
        self._server: asyncio.Server | None = None
        self._connections: set[HttpConnection] = set()
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def profiles(self) -> dict[str, Profile]:
        """The served profiles by model name; assign entries to change behaviour live."""
        return self.state.profiles

    @property
    def stats(self) -> Stats:
        """Request counters per model and per outcome."""
        return self.state.stats

    @property
    def url(self) -> str:
        """``http://host:port`` once started."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ``http://host:port/v1``."""
        return self.url + "/v1"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host``:``port`` (0: any free port; read :attr:`port` afterwards)."""
        if self._server is not None:
            raise RuntimeError("SimServer is already started")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: HttpConnection(self._router, self._connections),
            host,
            port,
            backlog=2048,
            reuse_address=True,
        )
        self.host = host
        self.port = self._server.sockets[0].getsockname()[1]
        self.state.faults.reset()  # outage windows count from start
        log.info(
            "pointsman SIMULATED provider (no real model behind it) on %s, models: %s",
            self.url,
            ", ".join(self.profiles),
        )

    async def stop(self) -> None:
        """Stop listening and abort open connections (in-flight answers are cut)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for connection in list(self._connections):
            connection.close()
        await server.wait_closed()

    async def __aenter__(self) -> SimServer:
        await self.start(self.host, self.port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


async def _serve(server: SimServer, host: str, port: int) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await server.start(host, port)
    try:
        await stopping.wait()
    finally:
        log.info("pointsman simulator stopping")
        await server.stop()


def run(
    host: str = "127.0.0.1",
    port: int = 8900,
    profiles_file: str | Path | None = None,
    api_key: str | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, on uvloop when available. Blocks.

    ``profiles_file``: YAML profiles laid over the built-ins (see :func:`load_profiles`);
    raises :class:`~pointsman.simulator.profiles.ProfileError` before listening if invalid.
    """
    profiles = load_profiles(profiles_file) if profiles_file else dict(BUILTIN_PROFILES)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = SimServer(profiles, api_key)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        asyncio.run(_serve(server, host, port))
    else:
        uvloop.run(_serve(server, host, port))
