"""A lean ASGI response for server-sent events.

Starlette's ``StreamingResponse`` runs an anyio task group per response and passes every body
chunk through its exception-handling wrappers; on the streaming hot path that costs more than
the rest of the gateway. This response sends each batch of events as one body message and
watches for the client going away with one plain task: when it has gone, the stream stops
pulling from the upstream (which stops paying for tokens nobody reads).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class SSEResponse(Response):
    """Streams ``body`` (already SSE-framed bytes) with status 200.

    ``body`` is an async generator; it is always closed (``aclose``), so its ``finally``
    blocks (accounting, connection release) run whether the stream completed, failed, or the
    client disconnected.
    """

    def __init__(self, body: AsyncGenerator[bytes, None], headers: Mapping[str, str]) -> None:
        # Deliberately not calling Response.__init__: nothing here is rendered up front.
        self.status_code = 200
        self.background = None
        self.stream = body
        self.raw_headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"text/event-stream"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: dict[str, Any] = {
            "type": "http.response.start",
            "status": 200,
            "headers": self.raw_headers,
        }
        await send(start)
        gone = asyncio.ensure_future(_until_disconnect(receive))
        try:
            async for data in self.stream:
                if gone.done():
                    return
                await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()
            await self.stream.aclose()
