"""Embedders for the semantic cache: text in, unit-length float32 rows out.

Three kinds (``cache.semantic.embedder``):

* ``local``: all-MiniLM-L6-v2 run on this machine (:mod:`pointsman.cache.minilm`; the
  ``semantic`` extra). Offline, ~ms per text, the precision the shipped threshold is tuned for.
* ``hashing``: word unigram and bigram feature hashing (the simulator's ``sim-embed`` method).
  No model and no dependency; it measures word overlap, so its precision on paraphrases is
  that of word overlap (about 0.5 on QQP): fit for tests and trials, not for production.
* any other name: an embeddings alias of this gateway, called through its own providers
  (:class:`GatewayEmbedder`), e.g. an OpenAI or a vLLM embedding model.

The cosine similarity of two texts is the dot product of their rows.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache

import msgspec
import numpy as np
import numpy.typing as npt

from pointsman.core.types import EmbeddingRequest
from pointsman.errors import PointsmanError, UpstreamProtocolError
from pointsman.providers.base import EmbeddingCall, EmbeddingsProvider
from pointsman.routing.table import RouteTable

__all__ = ["Embedder", "GatewayEmbedder", "HashingEmbedder", "Vectors", "unit_rows"]

Vectors = npt.NDArray[np.float32]


def unit_rows(matrix: npt.NDArray[np.floating]) -> Vectors:
    """``matrix`` as float32 rows of length 1 (a zero row stays zero)."""
    rows = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms == 0, 1, norms)).astype(np.float32)


class Embedder(ABC):
    """Turns texts into unit vectors. ``name`` identifies the model: vectors of different
    embedders are never compared (it is part of every index partition)."""

    name: str = "embedder"

    @abstractmethod
    async def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit row per text. Raises :class:`PointsmanError` when the embedder fails."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Load the model or check the upstream."""


_WORD = re.compile(r"[\w']+")


@lru_cache(maxsize=131072)
def _feature(feature: str, dim: int) -> tuple[int, float]:
    value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
    return value % dim, (1.0 if value >> 63 else -1.0)


class HashingEmbedder(Embedder):
    """Feature hashing of lower-cased words (weight 1) and adjacent word pairs (weight 0.5)."""

    def __init__(self, dim: int = 512) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            features = [(w, 1.0) for w in words]
            features += [(f"{a} {b}", 0.5) for a, b in itertools.pairwise(words)]
            for feature, weight in features or [("", 1.0)]:
                index, sign = _feature(feature, self.dim)
                rows[row, index] += sign * weight
        return unit_rows(rows)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        return self.embed_now(texts)


class _Item(msgspec.Struct):
    embedding: list[float]
    index: int = 0


class _EmbeddingList(msgspec.Struct):
    data: list[_Item]


_decode_list = msgspec.json.Decoder(_EmbeddingList).decode


class GatewayEmbedder(Embedder):
    """An embeddings alias of the gateway, called through its providers (first deployment
    that answers, in the alias's order). Its cost is not charged to any budget: it is the
    cache's own overhead, a fraction of a cent per thousand lookups."""

    def __init__(self, alias: str, routes: RouteTable) -> None:
        self.alias = alias
        self.routes = routes
        self.name = f"alias:{alias}"

    async def embed(self, texts: Sequence[str]) -> Vectors:
        body = {"model": self.alias, "input": list(texts)}
        request = EmbeddingRequest(model=self.alias, input=list(texts))
        error: PointsmanError | None = None
        for deployment in self.routes.candidates(self.alias):
            provider = deployment.provider
            if not isinstance(provider, EmbeddingsProvider):
                continue
            call = EmbeddingCall(request, body, deployment.model, deployment.name)
            try:
                result = await provider.embeddings(call)
                items = sorted(_decode_list(result.body).data, key=lambda item: item.index)
            except PointsmanError as failure:
                error = failure
                continue
            except (msgspec.DecodeError, msgspec.ValidationError):
                error = UpstreamProtocolError(
                    f"{deployment.name}: unreadable embeddings", deployment=deployment.name
                )
                continue
            if len(items) != len(texts):
                error = UpstreamProtocolError(
                    f"{deployment.name}: {len(items)} embeddings for {len(texts)} texts",
                    deployment=deployment.name,
                )
                continue
            return unit_rows(np.array([item.embedding for item in items], dtype=np.float32))
        raise error or UpstreamProtocolError(
            f"cache embedder: alias '{self.alias}' has no embeddings deployment"
        )
