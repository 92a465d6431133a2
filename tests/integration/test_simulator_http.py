"""The simulator's HTTP/1.1 layer over raw sockets: keep-alive, pipelining, framing, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pointsman.simulator import SimServer, connection

from .simulator_fixtures import read_response, sim_server

__all__ = ["sim_server"]  # fixture used by parameter name

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def chat_request(
    model: str = "sim-instant", headers: dict[str, str] | None = None, **body: Any
) -> bytes:
    payload = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": "hi"}], **body}
    ).encode()
    lines = [
        "POST /v1/chat/completions HTTP/1.1",
        "Host: sim",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@pytest.fixture
async def conn(sim_server: SimServer) -> AsyncIterator[Conn]:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim_server.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        await writer.wait_closed()


async def closed(reader: asyncio.StreamReader) -> bool:
    return await asyncio.wait_for(reader.read(), timeout=2) == b""


async def test_keep_alive_serves_many_requests_on_one_connection(conn: Conn) -> None:
    reader, writer = conn
    for i in range(5):
        writer.write(chat_request(max_tokens=i + 1))
        status, headers, body = await read_response(reader)
        assert status == 200 and headers["x-simulated"] == "true"
        assert json.loads(body)["usage"]["completion_tokens"] == i + 1


async def test_pipelined_requests_are_answered_in_order(conn: Conn) -> None:
    reader, writer = conn
    # A delayed request, a streamed one, then instant ones, all in one packet: the instant
    # answers must wait for the earlier ones.
    writer.write(
        chat_request(max_tokens=1, headers={"x-sim-ttft-ms": "50"})
        + chat_request("sim-quick", max_tokens=2, stream=True)
        + chat_request(max_tokens=3)
        + chat_request(max_tokens=4)
    )
    first = json.loads((await read_response(reader))[2])
    status, headers, streamed = await read_response(reader)
    assert status == 200 and headers["content-type"] == "text/event-stream"
    assert streamed.endswith(b"data: [DONE]\n\n")
    third = json.loads((await read_response(reader))[2])
    fourth = json.loads((await read_response(reader))[2])
    counts = [r["usage"]["completion_tokens"] for r in (first, third, fourth)]
    assert counts == [1, 3, 4]


async def test_body_split_over_many_packets(conn: Conn) -> None:
    reader, writer = conn
    request = chat_request(max_tokens=2)
    for i in range(0, len(request), 7):
        writer.write(request[i : i + 7])
        await writer.drain()
        await asyncio.sleep(0)
    status, _, body = await read_response(reader)
    assert status == 200
    assert json.loads(body)["usage"]["completion_tokens"] == 2


async def test_connection_close_is_honoured(conn: Conn) -> None:
    reader, writer = conn
    writer.write(chat_request(headers={"Connection": "close"}))
    status, headers, _ = await read_response(reader)
    assert status == 200 and headers["connection"] == "close"
    assert await closed(reader)


async def test_malformed_http_gets_400_and_close(conn: Conn) -> None:
    reader, writer = conn
    writer.write(b"THIS IS NOT HTTP\r\n\r\n")
    status, _, body = await read_response(reader)
    assert status == 400
    assert json.loads(body)["error"]["type"] == "invalid_request_error"
    assert await closed(reader)


async def test_malformed_after_pipelined_request_answers_both(conn: Conn) -> None:
    reader, writer = conn
    writer.write(chat_request(max_tokens=1, headers={"x-sim-ttft-ms": "20"}) + b"GARBAGE\r\n\r\n")
    assert (await read_response(reader))[0] == 200
    assert (await read_response(reader))[0] == 400
    assert await closed(reader)


async def test_oversized_body_gets_413_and_close(
    conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "MAX_BODY_BYTES", 64)
    reader, writer = conn
    writer.write(chat_request(max_tokens=1))
    status, _, body = await read_response(reader)
    assert status == 413 and "too large" in json.loads(body)["error"]["message"]
    assert await closed(reader)


async def test_expect_continue(conn: Conn) -> None:
    reader, writer = conn
    request = chat_request(headers={"Expect": "100-continue"})
    head, _, body = request.partition(b"\r\n\r\n")
    writer.write(head + b"\r\n\r\n")
    assert await reader.readline() == b"HTTP/1.1 100 Continue\r\n"
    assert await reader.readline() == b"\r\n"
    writer.write(body)
    assert (await read_response(reader))[0] == 200


async def test_upgrade_is_ignored_and_the_connection_goes_on(conn: Conn) -> None:
    reader, writer = conn
    upgrade = b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMA\r\n"
    writer.write(b"GET /v1/models HTTP/1.1\r\nHost: sim\r\n" + upgrade + b"\r\n" + chat_request())
    status, _, body = await read_response(reader)
    assert status == 200 and json.loads(body)["object"] == "list"
    assert (await read_response(reader))[0] == 200


async def test_unknown_path_and_wrong_method(conn: Conn) -> None:
    reader, writer = conn
    writer.write(b"GET /v2/nothing HTTP/1.1\r\nHost: sim\r\n\r\n")
    status, _, body = await read_response(reader)
    assert status == 404 and json.loads(body)["error"]["message"]
    writer.write(b"GET /v1/chat/completions HTTP/1.1\r\nHost: sim\r\n\r\n")
    assert (await read_response(reader))[0] == 405


async def test_stop_cuts_open_connections(sim_server: SimServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim_server.port)
    writer.write(chat_request(headers={"x-sim-fault": "timeout"}))
    await writer.drain()
    await asyncio.sleep(0.05)
    await sim_server.stop()
    try:
        rest = await asyncio.wait_for(reader.read(), timeout=2)
    except ConnectionResetError:  # an abort may arrive as a reset
        rest = b""
    assert rest == b""
    writer.close()
    await writer.wait_closed()
