"""The provider contract, split by capability.

A provider module implements the capabilities its protocol has and nothing else: a class that
subclasses :class:`ChatProvider` can chat, one that also subclasses :class:`EmbeddingsProvider`
can embed, and so on. Callers test capabilities with ``isinstance``; there are no "unsupported"
stubs.

Every adapter speaks canonical shapes on its inner side: it receives a :class:`ChatCall` (the
validated OpenAI-shaped request plus the raw body) and returns OpenAI-shaped JSON bytes
(:class:`ChatResult`) or a :class:`ChatStream` of OpenAI ``chat.completion.chunk`` payloads.
Errors are raised as :mod:`pointsman.errors` ``Upstream*`` types, never as transport exceptions.

Lifecycle: ``start()`` is awaited inside the serving event loop before the first call (it opens
the pooled HTTP session); ``close()`` is awaited once, after the last call has finished.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pointsman.config import ProviderConfig
from pointsman.core.types import ChatRequest, EmbeddingRequest, Usage


@dataclass(slots=True)
class ChatCall:
    """One chat request as a provider receives it.

    ``body`` is the client's decoded OpenAI-shaped JSON (unknown fields included); adapters must
    not mutate it. ``model`` is the upstream model name of the chosen deployment.
    """

    request: ChatRequest
    body: dict[str, Any]
    model: str
    deployment: str  # "provider/model", for error messages


@dataclass(slots=True)
class ChatResult:
    """A finished non-streamed answer: OpenAI ``chat.completion`` JSON bytes plus what was read."""

    body: bytes
    usage: Usage
    finish_reason: str | None = None


class ChatStream(ABC):
    """A streamed answer: an async iterator of *batches* of OpenAI ``chat.completion.chunk``
    JSON payloads.

    Payloads are bytes without SSE framing. A batch holds the payloads that arrived together
    (one network read), never an empty list, so a burst costs one iteration and one write to the
    client instead of one per chunk. When iteration ends normally, ``usage`` and
    ``finish_reason`` are set. A failure mid-stream raises an ``Upstream*`` error from the
    iterator, after the batch of what arrived before it. ``aclose()`` releases the connection
    and is safe to call more than once.
    """

    usage: Usage | None = None
    finish_reason: str | None = None

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[list[bytes]]: ...

    @abstractmethod
    async def aclose(self) -> None: ...


@dataclass(slots=True)
class EmbeddingCall:
    request: EmbeddingRequest
    body: dict[str, Any]
    model: str
    deployment: str


@dataclass(slots=True)
class EmbeddingResult:
    body: bytes  # OpenAI "list" of embeddings, JSON
    usage: Usage = field(default_factory=Usage)


class Provider(ABC):
    """Base of every adapter: a named, configured connection to one upstream."""

    protocol: ClassVar[str]

    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.config = config

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open pooled connections. Called inside the serving event loop."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Called once, after the last call finished."""


class ChatProvider(Provider):
    @abstractmethod
    async def chat(self, call: ChatCall) -> ChatResult:
        """Answer non-streamed. Raises ``Upstream*`` errors."""

    @abstractmethod
    async def chat_stream(self, call: ChatCall) -> ChatStream:
        """Start a stream. Returns once the upstream accepted the request (status checked), so
        refusals raise here, before any byte could reach the client."""


class EmbeddingsProvider(Provider):
    @abstractmethod
    async def embeddings(self, call: EmbeddingCall) -> EmbeddingResult: ...


class ModelListProvider(Provider):
    @abstractmethod
    async def list_models(self) -> list[str]:
        """Upstream model ids (used by health checks and ``pointsman config check --probe``)."""
