"""One HTTP/1.1 server connection: an ``asyncio.Protocol`` driving ``httptools``.

Speed matters here (the simulator must outrun the gateway it tests), so the protocol parses
with httptools' C parser and writes pre-built response bytes; there is no ASGI layer.

Contract:

- Requests on a connection are answered strictly in order (keep-alive and pipelining). A
  reply with no delay is written synchronously inside the parser callback, without creating a
  task; a delayed, paced, dropped or hanging reply runs in one task per connection, and later
  requests wait in a queue (reading pauses while more than 32 wait).
- ``Connection: close`` (or HTTP/1.0 without keep-alive) closes the connection after the
  answer. Malformed HTTP gets a 400 and the connection closes; a body over the size limit
  gets a 413 and the connection closes. ``Expect: 100-continue`` is honoured; ``Upgrade``
  requests are answered in HTTP/1.1 (the upgrade is ignored).
- The app (a callable from :class:`Request` to a reply, see :mod:`.replies`) runs on the
  event loop thread. An exception in it becomes a 500 answer and is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import cast

import httptools

from pointsman.simulator.replies import (
    LAST_CHUNK,
    SSE,
    AnyReply,
    Drop,
    Hang,
    Reply,
    StreamReply,
    chunk,
    error_reply,
    head,
)

__all__ = ["App", "HttpConnection", "Request"]

log = logging.getLogger("pointsman.simulator")

MAX_BODY_BYTES = 64 * 1024 * 1024
_QUEUE_HIGH = 32
_QUEUE_LOW = 8
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_METHODS = {m.encode(): m for m in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")}


class Request:
    """A parsed request. Header names are lower-cased bytes; values are raw bytes."""

    __slots__ = ("body", "headers", "method", "path", "query")

    def __init__(
        self, method: str, path: str, query: str, headers: dict[bytes, bytes], body: bytes
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body


App = Callable[[Request], AnyReply]
# A queued item: a request and whether to keep the connection open after it, or the status
# of a protocol error to answer before closing.
_Item = tuple[Request, bool] | int


class HttpConnection(asyncio.Protocol):
    """Serves ``app`` on one connection; registers itself in ``registry`` while open."""

    def __init__(self, app: App, registry: set[HttpConnection]) -> None:
        self._app = app
        self._registry = registry
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: dict[bytes, bytes] = {}
        self._body: list[bytes] = []
        self._body_size = 0
        self._queue: deque[_Item] = deque()
        self._task: asyncio.Task[None] | None = None
        self._done = False  # accept no more requests: closing, closed or unparseable
        self._too_large = False
        self._paused = False
        self._writable: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._registry.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._done = True
        self._registry.discard(self)
        self._queue.clear()
        if self._task is not None:
            self._task.cancel()
        self._wake_writer()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._wake_writer()

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            # Upgrades (h2c, websocket) are not offered: the request was answered in HTTP/1.1
            # and, as RFC 9110 allows, the connection goes on in HTTP/1.1 with a fresh parser.
            offset = int(upgrade.args[0]) if upgrade.args else len(data)
            self._parser = httptools.HttpRequestParser(self)
            if offset < len(data):
                self.data_received(data[offset:])
        except httptools.HttpParserError:
            self._protocol_error(413 if self._too_large else 400)

    def close(self) -> None:
        """Abort the connection now (server shutdown)."""
        self._done = True
        if self._transport is not None:
            self._transport.abort()

    # -- httptools callbacks ----------------------------------------------------------------

    # No on_message_begin / on_headers_complete: every callback costs a Python call per request,
    # so the per-message state is reset in on_message_complete instead.

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        self._headers[name] = value
        if name == b"expect" and value.lower() == b"100-continue":
            self._continue()

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > MAX_BODY_BYTES:
            self._too_large = True
            raise ValueError("body too large")  # the parser stops; data_received answers 413
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._done:
            return
        path, _, query = self._url.partition(b"?")
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        method = self._parser.get_method()
        request = Request(
            _METHODS.get(method) or method.decode("latin-1"),
            path.decode("latin-1"),
            query.decode("latin-1") if query else "",
            self._headers,
            body,
        )
        keep_alive = self._parser.should_keep_alive()
        self._url = b""
        self._headers = {}
        self._body = []
        self._body_size = 0
        if self._task is None and not self._queue:
            self._dispatch(request, keep_alive)
        else:
            self._enqueue((request, keep_alive))

    def _continue(self) -> None:
        # Only when idle: a "100 Continue" must not land inside another answer's bytes.
        if self._task is None and not self._queue and self._transport is not None:
            self._transport.write(_CONTINUE)

    # -- answering --------------------------------------------------------------------------

    def _enqueue(self, item: _Item) -> None:
        self._queue.append(item)
        if len(self._queue) > _QUEUE_HIGH and not self._paused and self._transport:
            self._paused = True
            self._transport.pause_reading()

    def _protocol_error(self, status: int) -> None:
        if self._task is None and not self._queue:
            self._answer_error(status)
        else:
            self._enqueue(status)
            self._done = True  # parse no more; the queue still drains

    def _answer_error(self, status: int) -> None:
        message = "request body too large" if status == 413 else "malformed HTTP request"
        reply = error_reply(status, message, "invalid_request_error")
        self._write_reply(reply, keep_alive=False)

    def _dispatch(self, request: Request, keep_alive: bool) -> None:
        try:
            reply = self._app(request)
        except Exception:
            log.exception("simulator handler failed on %s %s", request.method, request.path)
            reply = error_reply(500, "simulator internal error", "server_error")
        if type(reply) is Reply and reply.delay_s <= 0:
            self._write_reply(reply, keep_alive)
        elif type(reply) is StreamReply and reply.ttft_s <= 0 and reply.interval_s <= 0:
            self._write_stream_now(reply, keep_alive)
        else:
            self._task = asyncio.get_running_loop().create_task(self._run(reply, keep_alive))

    def _write_reply(self, reply: Reply, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        close = not keep_alive
        transport.write(
            head(reply.status, reply.content_type, reply.headers, len(reply.body), close)
            + reply.body
        )
        if close:
            self._finish()

    def _write_stream_now(self, reply: StreamReply, keep_alive: bool) -> None:
        cut = reply.cut_after is not None
        if reply.cut_after is not None:
            events = [*reply.head, *reply.paced[: reply.cut_after]]
        else:
            events = [*reply.head, *reply.paced, *reply.tail]
        data = [head(200, SSE, reply.headers, None, not keep_alive)]
        data.extend(chunk(event) for event in events)
        if not cut:
            data.append(LAST_CHUNK)
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(data))
        if cut or not keep_alive:
            self._finish()

    def _finish(self) -> None:
        """Stop answering and close once the buffered bytes are sent."""
        self._done = True
        self._queue.clear()
        if self._transport is not None:
            self._transport.close()

    async def _run(self, reply: AnyReply, keep_alive: bool) -> None:
        try:
            if isinstance(reply, Hang):
                await asyncio.get_running_loop().create_future()  # until the connection ends
            elif isinstance(reply, Drop):
                await asyncio.sleep(reply.delay_s)
                self._finish()
            elif isinstance(reply, Reply):
                await asyncio.sleep(reply.delay_s)
                self._write_reply(reply, keep_alive)
            else:
                await self._stream(reply, keep_alive)
        except asyncio.CancelledError:
            return
        except Exception:  # a bug must not leave the connection hanging
            log.exception("simulator reply failed")
            self._finish()
            return
        self._task = None
        self._drain_queue()

    async def _stream(self, reply: StreamReply, keep_alive: bool) -> None:
        """Paced events go out on schedule; events already due (a busy loop, or no pacing)
        go out together in one write, so a late stream catches up instead of drifting."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(reply.ttft_s)
        start = loop.time()
        paced = reply.paced if reply.cut_after is None else reply.paced[: reply.cut_after]
        opening = b"".join(chunk(event) for event in reply.head)
        self._write(head(200, SSE, reply.headers, None, not keep_alive) + opening)
        sent = 0
        while sent < len(paced):
            wait = start + sent * reply.interval_s - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if self._writable is not None:
                await self._writable
            if self._transport is None or self._transport.is_closing():
                return
            due = len(paced)
            if reply.interval_s > 0:
                due = min(due, max(sent + 1, int((loop.time() - start) / reply.interval_s) + 1))
            self._write(b"".join(chunk(event) for event in paced[sent:due]))
            sent = due
        if reply.cut_after is not None:
            self._finish()
            return
        self._write(b"".join(chunk(event) for event in reply.tail) + LAST_CHUNK)
        if not keep_alive:
            self._finish()

    def _write(self, data: bytes) -> None:
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _wake_writer(self) -> None:
        waiter, self._writable = self._writable, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _drain_queue(self) -> None:
        while self._queue and self._task is None and self._transport is not None:
            if self._transport.is_closing():
                return
            item = self._queue.popleft()
            if isinstance(item, int):
                self._answer_error(item)
                return
            self._dispatch(*item)
        if self._paused and len(self._queue) < _QUEUE_LOW and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
