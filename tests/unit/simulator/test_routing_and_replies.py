"""Dispatch by method and path, and the bytes of response heads."""

from __future__ import annotations

import json

from pointsman.simulator import BUILTIN_PROFILES
from pointsman.simulator.connection import Request
from pointsman.simulator.replies import AnyReply, Reply, chunk, error_reply, head
from pointsman.simulator.routing import Route, Router
from pointsman.simulator.state import SimState


def request(method: str, path: str) -> Request:
    return Request(method, path, "", {}, b"")


def named(name: str) -> Route:
    def handler(state: SimState, req: Request) -> AnyReply:
        return Reply(200, name.encode())

    return Route("GET", "/x" if name == "exact" else "/x/", handler, prefix=name != "exact")


def test_exact_then_prefix_then_405_then_404() -> None:
    deep = Route("GET", "/x/deep/", lambda s, r: Reply(200, b"deep"), prefix=True)
    router = Router(SimState(BUILTIN_PROFILES), [named("exact"), named("prefix"), deep])

    def body(method: str, path: str) -> tuple[int, bytes]:
        reply = router(request(method, path))
        assert isinstance(reply, Reply)
        return reply.status, reply.body

    assert body("GET", "/x") == (200, b"exact")
    assert body("GET", "/x/a") == (200, b"prefix")
    assert body("GET", "/x/deep/a") == (200, b"deep")  # the longest prefix wins
    assert body("POST", "/x")[0] == 405
    assert body("POST", "/x/a")[0] == 405
    status, payload = body("GET", "/y")
    assert status == 404 and json.loads(payload)["error"]["code"] == "not_found"


def test_head_framing() -> None:
    assert head(200, b"application/json", b"", 12, close=False) == (
        b"HTTP/1.1 200 OK\r\nserver: pointsman-simulator\r\nx-simulated: true\r\n"
        b"content-type: application/json\r\ncontent-length: 12\r\n\r\n"
    )
    streamed = head(200, b"text/event-stream", b"a: b\r\n", None, close=True)
    assert streamed.endswith(b"a: b\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n")
    assert head(599, b"x", b"", 0, close=False).startswith(b"HTTP/1.1 599 Unknown\r\n")
    assert chunk(b"hello") == b"5\r\nhello\r\n"


def test_error_reply_shape() -> None:
    reply = error_reply(429, "slow down", "requests", "rate_limit_exceeded", None, b"h: 1\r\n")
    assert reply.status == 429 and reply.headers == b"h: 1\r\n"
    assert json.loads(reply.body) == {
        "error": {
            "message": "slow down",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
