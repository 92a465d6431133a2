"""Throughput of the simulated provider: small non-streaming chat requests per second.

Starts ``python -m pointsman.simulator`` in a subprocess pinned to one CPU core, then drives
it over HTTP/1.1 keep-alive from another core: with ``wrk`` when it is installed (a small Lua
script posts the chat body), otherwise with a multi-connection aiohttp client. Prints the
requests per second and checks that every answer was a 200. It also prints the server's CPU
time per request (from /proc), which stays meaningful when other processes share the machine
and the wall-clock figure drops. A single Python client process cannot saturate the server,
so with the aiohttp fallback the requests/s figure is the client's limit; read the CPU figure.

    python benchmarks/simulator_throughput.py [--duration 10] [--connections 64]

Run it on a machine with at least two cores; the figure is for ONE server core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BODY = {
    "model": "sim-instant",
    "messages": [{"role": "user", "content": "Say hello to the benchmark."}],
    "max_tokens": 16,
}
PATH = "/v1/chat/completions"
LUA = """wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cores() -> tuple[int, int]:
    """(server core, client core): two distinct cores this process may use."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        sys.exit("need at least two CPU cores: one for the server, one for the client")
    return available[0], available[1]


def _pin(core: int) -> None:
    os.sched_setaffinity(0, {core})


def _start_server(port: int, core: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "pointsman.simulator", "--port", str(port)]
    server = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=lambda: _pin(core)
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1) as r:
                if r.status == 200 and r.headers.get("x-simulated") == "true":
                    return server
        except OSError:
            time.sleep(0.1)
        if server.poll() is not None:
            break
    server.kill()
    error = server.stderr.read().decode() if server.stderr else ""
    sys.exit(f"simulator did not start:\n{error}")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_wrk(url: str, duration: float, connections: int, core: int) -> tuple[float, int]:
    """(requests/s, non-2xx answers) measured by wrk."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA.format(body=json.dumps(BODY)))
    try:
        command = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration:g}s",
            "-s",
            script.name,
            url,
        ]
        out = subprocess.run(
            command, capture_output=True, text=True, check=True, preexec_fn=lambda: _pin(core)
        ).stdout
    finally:
        Path(script.name).unlink()
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rate is None:
        sys.exit(f"could not read wrk output:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    if errors:
        print(errors.group(0))
    return float(rate.group(1)), int(bad.group(1)) if bad else 0


async def _aiohttp_load(url: str, duration: float, connections: int) -> tuple[float, int]:
    import aiohttp

    body = json.dumps(BODY).encode()
    headers = {"content-type": "application/json"}
    done = bad = 0
    stop_at = time.monotonic() + duration

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done, bad
        while time.monotonic() < stop_at:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                done += 1
                bad += response.status != 200

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(worker(session) for _ in range(connections)))
        elapsed = time.monotonic() - started
    return done / elapsed, bad


def main() -> int:
    """Run the benchmark; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--client", choices=("auto", "wrk", "aiohttp"), default="auto")
    parser.add_argument("--json", type=Path, help="also write the result to this JSON file")
    args = parser.parse_args()

    server_core, client_core = _cores()
    port = _free_port()
    url = f"http://127.0.0.1:{port}{PATH}"
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "aiohttp"
    server = _start_server(port, server_core)
    cpu_before = _cpu_seconds(server.pid)
    try:
        if client == "wrk":
            rate, bad = _run_wrk(url, args.duration, args.connections, client_core)
        else:
            _pin(client_core)
            rate, bad = asyncio.run(_aiohttp_load(url, args.duration, args.connections))
        cpu_s = _cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=10)
    cpu_us = cpu_s / (rate * args.duration) * 1e6 if rate else float("nan")
    result = {
        "benchmark": "simulator_throughput",
        "client": client,
        "connections": args.connections,
        "duration_s": args.duration,
        "server_cores": 1,
        "requests_per_s": round(rate, 1),
        "server_cpu_us_per_request": round(cpu_us, 2),
        "non_2xx": bad,
    }
    print(f"simulator: {rate:,.0f} requests/s on one core ({client}, {args.connections} conns)")
    print(
        f"server CPU: {cpu_us:.1f} us/request "
        f"(= {1e6 / cpu_us:,.0f} requests/s per fully used core)"
    )
    if client == "aiohttp":
        print("note: the aiohttp client, not the server, limits requests/s; install wrk")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if bad:
        print(f"error: {bad} answers were not 200", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
