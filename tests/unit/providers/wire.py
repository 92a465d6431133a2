"""Helpers for the adapter tests: golden fixtures, and SSE bodies cut into arbitrary pieces.

``FakeContent``/``FakeResponse`` stand in for the two members of ``aiohttp.ClientResponse``
that the stream code reads (``content.iter_any()`` and ``release()``); no socket is involved.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pointsman.providers.http import sse_events
from pointsman.providers.translated import StreamTranslator

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str) -> bytes:
    return (GOLDEN / name).read_bytes()


class FakeContent:
    def __init__(self, data: bytes, piece: int) -> None:
        self.data, self.piece = data, piece

    async def iter_any(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.piece):
            yield self.data[start : start + self.piece]


class FakeResponse:
    def __init__(self, data: bytes, piece: int = 7) -> None:
        self.content = FakeContent(data, piece)
        self.released = 0

    def release(self) -> None:
        self.released += 1


async def events(data: bytes, piece: int = 7) -> list[tuple[bytes, bytes]]:
    """The SSE events of ``data``, read in ``piece``-byte network reads."""
    out: list[tuple[bytes, bytes]] = []
    async for batch in sse_events(FakeContent(data, piece)):  # type: ignore[arg-type]
        out += batch
    return out


def run(translator: StreamTranslator, pairs: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    """Feed every event (stopping at the end marker), then ``end()``; decoded payloads."""
    payloads: list[bytes] = []
    for event, data in pairs:
        payloads += translator.feed(event, data)
        if translator.done:
            break
    payloads += translator.end()
    return [json.loads(p) for p in payloads]


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


def arguments(chunks: list[dict[str, Any]]) -> dict[int, str]:
    """Tool-call arguments per call index, joined from the pieces."""
    joined: dict[int, str] = {}
    for delta in deltas(chunks):
        for call in delta.get("tool_calls") or ():
            joined[call["index"]] = joined.get(call["index"], "") + call["function"].get(
                "arguments", ""
            )
    return joined
