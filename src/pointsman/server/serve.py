"""Running the gateway under uvicorn: one worker in-process, or several under a supervisor.

With several workers, SIGHUP goes to the supervisor, which validates the file first and only
then forwards SIGHUP to every worker; each worker swaps its config atomically. A bad file is
refused and logged while every worker keeps serving the old one (uvicorn's own supervisor would
restart the workers instead, crash-looping them on a bad file).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from pathlib import Path

import uvicorn
from uvicorn.supervisors import Multiprocess

from pointsman.app import CONFIG_ENV, create_app
from pointsman.config import Config, ConfigError, load_config

log = logging.getLogger("pointsman")


class _ValidatingSupervisor(Multiprocess):
    def __init__(self, config: uvicorn.Config, path: Path, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets=sockets)
        self.path = path

    def handle_hup(self) -> None:
        try:
            load_config(self.path)
        except ConfigError as error:
            log.error("config reload refused; workers keep the previous config\n%s", error)
            return
        for process in self.processes:
            if process.pid is not None:
                os.kill(process.pid, signal.SIGHUP)


def serve(config: Config, path: Path, host: str, port: int, workers: int) -> None:
    """Serve until SIGINT/SIGTERM. Blocks."""
    common = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "log_level": "info",
        "timeout_graceful_shutdown": 30,
    }
    if workers == 1:
        app = create_app(config, config_path=path)
        uvicorn.Server(uvicorn.Config(app, **common)).run()  # type: ignore[arg-type]
        return
    os.environ[CONFIG_ENV] = str(path)
    uv_config = uvicorn.Config(
        "pointsman.app:create_app_from_env",
        factory=True,
        workers=workers,
        **common,  # type: ignore[arg-type]
    )
    _ValidatingSupervisor(uv_config, path, sockets=[uv_config.bind_socket()]).run()
