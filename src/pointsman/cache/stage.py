"""The cache stage: answer from the cache before the budget reservation, store after the answer.

Place it after the gates (auth, resolve, downgrade, accounting, rate limits) and before the
budget reservation; see ``gateway.py``. Per request:

``on_request`` (chat requests the policy admits): exact lookup, then semantic lookup when the
alias has it and the request is eligible. A semantic candidate (the nearest stored question at
or above the threshold) is served only when :func:`~pointsman.cache.verify.verify` finds
nothing in the two questions that would change the answer (``cache.semantic.verify``);
otherwise the request is a miss, counted as ``semantic_rejected`` too. A hit sets
``ctx.result`` (and, for a streaming request, ``ctx.stream`` to a replay), which
short-circuits the pipeline: no reservation, no dispatch; accounting records it as a cache
hit at zero cost, and the store counts what it saved. A miss adds a stream tap (streaming
requests) so the answer can be stored.

``on_complete``: stores the answer when it is whole and successful: no error, a finish reason
on every choice, and for streams only a stream that ran to its end (a stream cut short by the
upstream or abandoned by the client is never stored).

The cache fails open: when its store or embedder is unavailable the request is served as a
miss and the failure logged; a cache must never be the reason a request fails.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pointsman.cache.controls import Controls
from pointsman.cache.entry import CachedAnswer, Hit
from pointsman.cache.keys import Filing, cacheable, file_request, scope_of
from pointsman.cache.replay import ReplayStream, assemble, replay_payloads, served_body
from pointsman.cache.settings import CacheSettings
from pointsman.cache.store import AnswerStore
from pointsman.cache.verify import verify
from pointsman.core.pipeline import RequestContext, Stage
from pointsman.core.types import Usage, completion_view_decoder
from pointsman.governance.accounting import Pricing
from pointsman.providers.base import ChatResult

__all__ = ["CACHE_HEADER", "CacheNote", "CacheParts", "CacheStage"]

if TYPE_CHECKING:
    from pointsman.cache.embedders import Embedder, Vectors
    from pointsman.cache.index import VectorIndex

log = logging.getLogger("pointsman.cache")
CACHE_HEADER = "x-pointsman-cache"
STORABLE_FINISH = frozenset({"stop", "length", "tool_calls", "function_call"})


@dataclass(slots=True)
class CacheNote:
    """What the stage leaves in ``ctx.notes["cache"]``."""

    filing: Filing
    controls: Controls
    ttl: float
    partition: str | None = None  # the semantic index partition, when eligible
    vector: Vectors | None = None
    hit: Hit | None = None
    payloads: list[bytes] = field(default_factory=list)


class CacheStage(Stage):
    """One config snapshot's cache stage over the process's :class:`ResponseCache` parts."""

    name = "cache"

    def __init__(
        self,
        settings: CacheSettings,
        service: CacheParts,
        embedder: Embedder | None,
        pricing: Pricing,
    ) -> None:
        self.settings = settings
        self.service = service
        self.embedder = embedder
        self.pricing = pricing

    async def on_request(self, ctx: RequestContext) -> None:
        chat = ctx.chat
        settings = self.settings
        if chat is None or not cacheable(chat, settings.policy_for(ctx.alias)):
            return
        controls = Controls.parse(ctx.headers)
        scope = scope_of(ctx.caller, settings.scope, chat.user)
        semantic = self.embedder is not None and settings.semantic_for(ctx.alias)
        filing = file_request(
            scope,
            ctx.alias,
            chat,
            ctx.body,
            semantic=semantic,
            mode=settings.semantic.key_text,
            multi_turn=settings.semantic.multi_turn,
            max_chars=settings.semantic.max_text_chars,
        )
        ttl = min(controls.ttl or settings.ttl_for(ctx.alias), settings.max_ttl_seconds)
        note = CacheNote(filing, controls, ttl)
        if filing.partition is not None and self.embedder is not None:
            note.partition = self.service.partition_name(scope, self.embedder, filing.partition)
        ctx.notes[self.name] = note
        if not controls.no_cache:
            try:
                hit = await self._lookup(ctx, note)
            except Exception as error:  # fail open: serve as a miss
                log.warning("cache lookup failed, serving without the cache: %s", error)
                hit = None
            if hit is not None:
                self._serve(ctx, note, hit)
                return
        ctx.response_headers[CACHE_HEADER] = "miss"
        if not controls.no_store and ctx.streaming:
            ctx.stream_taps.append(note.payloads.extend)

    async def _lookup(self, ctx: RequestContext, note: CacheNote) -> Hit | None:
        store = self.service.store
        filing = note.filing
        answer = await store.get(filing.scope, filing.key)
        if answer is not None and self._fresh(answer, note):
            return Hit(answer)
        if note.partition is not None and self.embedder is not None and filing.text:
            note.vector = (await self.embedder.embed([filing.text]))[0]
            threshold = self.settings.threshold_for(ctx.alias)
            match = self.service.index.search(note.partition, note.vector, threshold)
            if match is not None:
                found = await store.get(filing.scope, match.key, None)  # counted below
                if found is None:
                    self.service.index.discard(note.partition, match.key)
                elif self._fresh(found, note):
                    if self._verified(found, filing.text):
                        await store.count(filing.scope, "semantic_hits", found.cost_micros)
                        return Hit(found, "semantic-hit", match.score)
                    await store.count(filing.scope, "semantic_rejected")
        await store.count(filing.scope, "misses")
        return None

    def _verified(self, found: CachedAnswer, asked: str) -> bool:
        """Whether the verifier lets ``found`` answer ``asked``. An entry stored without its
        key text (by a version before the verifier) cannot be checked, so it is refused."""
        if not self.settings.semantic.verify:
            return True
        if not found.text:
            return False
        mismatch = verify(found.text, asked)
        if mismatch is not None:
            log.debug("semantic candidate refused (%s)", mismatch)
        return mismatch is None

    @staticmethod
    def _fresh(answer: CachedAnswer, note: CacheNote) -> bool:
        limit = note.controls.max_age
        return limit is None or time.time() - answer.stored_at <= limit

    def _serve(self, ctx: RequestContext, note: CacheNote, hit: Hit) -> None:
        note.hit = hit
        body = hit.answer.body
        view = completion_view_decoder.decode(body)
        finish = view.choices[0].finish_reason if view.choices else None
        ctx.response_headers[CACHE_HEADER] = hit.header
        if ctx.streaming:
            assert ctx.chat is not None
            payloads = replay_payloads(
                body, ctx.request_id, hit.kind, include_usage=ctx.chat.wants_usage_chunk
            )
            ctx.stream = ReplayStream(payloads, finish)
            ctx.first_token_at = time.perf_counter()
            body = b""
        else:
            body = served_body(body, ctx.request_id, hit.kind)
        ctx.result = ChatResult(body=body, usage=Usage(), finish_reason=finish)

    async def on_complete(self, ctx: RequestContext) -> None:
        note = ctx.notes.get(self.name)
        if not isinstance(note, CacheNote) or note.hit is not None or note.controls.no_store:
            return
        if ctx.error is not None or ctx.deployment is None:
            return
        try:
            await self._store(ctx, note)
        except Exception as error:  # must not raise; a lost store is a later miss
            log.warning("cache store failed for request %s: %s", ctx.request_id, error)

    async def _store(self, ctx: RequestContext, note: CacheNote) -> None:
        if ctx.stream is not None:
            if ctx.usage is None:  # the stream did not run to its end
                return
            body = assemble(note.payloads, ctx.usage)
        else:
            result = ctx.result
            body = result.body if isinstance(result, ChatResult) else None
        if body is None or len(body) > self.settings.max_entry_bytes:
            return
        view = completion_view_decoder.decode(body)
        if not view.choices or any(c.finish_reason not in STORABLE_FINISH for c in view.choices):
            return
        usage = ctx.usage or Usage()
        deployment = ctx.deployment
        assert deployment is not None
        answer = CachedAnswer(
            body=body,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost_micros=self.pricing.actual(ctx),
            deployment=deployment.name,
            stored_at=time.time(),
            text=note.filing.text or "",
        )
        filing = note.filing
        await self.service.store.put(filing.scope, filing.key, answer, note.ttl)
        if note.partition is not None and self.embedder is not None and filing.text:
            vector = note.vector
            if vector is None:
                vector = (await self.embedder.embed([filing.text]))[0]
            import numpy as np  # only on the semantic path

            await self.service.remember(note.partition, np.asarray(vector), filing.key, note.ttl)


class CacheParts(Protocol):
    """What the stage uses of the process's :class:`~pointsman.cache.service.ResponseCache`."""

    store: AnswerStore

    @property
    def index(self) -> VectorIndex: ...

    def partition_name(self, scope: str, embedder: Embedder, partition: str) -> str: ...

    async def remember(self, partition: str, vector: Vectors, key: str, ttl: float) -> None: ...
