"""Streams replayed from the cache (official SDK), cut streams never stored, semantic hits."""

from __future__ import annotations

import aiohttp
import pytest

from pointsman.cache.minilm import missing_extra
from pointsman.simulator.server import SimServer

from ..conftest import MASTER_KEY, GatewayFactory
from ..governance.admin_client import admin
from .helpers import QUESTION, ask, org_key, sdk


async def stream(client: object, **fields: object) -> tuple[str, int, object, str]:
    """(text, chunk count, usage, cache header) of one streamed call through the SDK."""
    raw = await client.chat.completions.with_raw_response.create(  # type: ignore[attr-defined]
        model="instant",
        messages=QUESTION,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        **fields,
    )
    chunks = [chunk async for chunk in raw.parse()]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, len(chunks), chunks[-1].usage, raw.headers.get("x-pointsman-cache", "")


async def test_a_stream_is_stored_and_replayed_as_a_stream(
    start_gateway: GatewayFactory, sim: SimServer
) -> None:
    async with start_gateway() as url, sdk(url) as client:
        text, _, _, status = await stream(client)
        assert status == "miss" and text
        again, chunks, usage, status = await stream(client)
        assert status == "hit" and again == text and chunks >= 4
        assert usage.model_extra["pointsman_cache"] == "hit"
        whole, status, _ = await ask(client)  # a whole answer from the streamed entry
        assert status == "hit" and whole == text
        assert sim.stats.total == 1


async def test_a_whole_answer_is_replayed_to_a_streaming_client(
    start_gateway: GatewayFactory, sim: SimServer
) -> None:
    async with start_gateway() as url, sdk(url) as client:
        whole, _, _ = await ask(client)
        text, chunks, _, status = await stream(client)
        assert (status, text) == ("hit", whole) and chunks > 2


async def test_an_abandoned_stream_is_not_stored(
    start_gateway: GatewayFactory, sim: SimServer
) -> None:
    body = {
        "model": "fast",  # sim-small: slow enough to leave mid-way
        "messages": [{"role": "user", "content": "Tell me a long story about trains."}],
        "temperature": 0,
        "max_tokens": 400,
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    async with start_gateway() as url:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{url}/v1/chat/completions", json=body, headers=headers) as response,
        ):
            await response.content.readany()  # the first events, then hang up
        async with sdk(url) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="fast", messages=body["messages"], temperature=0, max_tokens=400
            )
            assert raw.headers["x-pointsman-cache"] == "miss"


async def test_semantic_hits_stay_in_scope(start_gateway: GatewayFactory, sim: SimServer) -> None:
    cache = {"semantic": {"enabled": True, "embedder": "hashing", "threshold": 0.9}}
    async with start_gateway(cache=cache) as url:
        acme, globex = await org_key(url, "acme"), await org_key(url, "globex")
        async with sdk(url, acme) as a, sdk(url, globex) as b:
            asked = [{"role": "user", "content": "What is the capital of France?"}]
            reworded = [{"role": "user", "content": "what is the capital of france"}]
            other = [{"role": "user", "content": "How do trains stop?"}]
            assert (await ask(a, asked))[1] == "miss"
            _, status, usage = await ask(a, reworded)
            assert status.startswith("semantic-hit (") and usage.model_extra["pointsman_cache"]
            assert (await ask(a, other))[1] == "miss"
            assert (await ask(b, reworded))[1] == "miss"  # another org never gets it
            system = [{"role": "system", "content": "Answer in French."}, *reworded]
            assert (await ask(a, system))[1] == "miss"  # other instructions: other partition
            turns = [*asked, {"role": "assistant", "content": "Paris"}, *reworded]
            assert (await ask(a, turns))[1] == "miss"  # multi-turn: exact only


async def test_a_candidate_the_verifier_refuses_is_a_miss(
    start_gateway: GatewayFactory, sim: SimServer
) -> None:
    # Word hashing puts "learn Java" as close to "learn Python" as "can I" is to "do I": the
    # threshold lets both through, and only the verifier tells them apart.
    cache = {"semantic": {"enabled": True, "embedder": "hashing", "threshold": 0.6}}
    python = [{"role": "user", "content": "How do I learn Python?"}]
    java = [{"role": "user", "content": "How do I learn Java?"}]
    reworded = [{"role": "user", "content": "How can I learn Python?"}]
    async with start_gateway(cache=cache) as url, sdk(url) as client:
        assert (await ask(client, python))[1] == "miss"
        assert (await ask(client, java))[1] == "miss"  # refused: stored and answered upstream
        assert (await ask(client, reworded))[1].startswith("semantic-hit")
        assert sim.stats.total == 2
        totals = (await admin(url, "GET", "/cache/stats"))["totals"]
        assert (totals["semantic_hits"], totals["semantic_rejected"]) == (1, 1)
        assert totals["misses"] == 2
    unchecked = {"semantic": {**cache["semantic"], "verify": False}}
    async with start_gateway(cache=unchecked) as url, sdk(url) as client:
        await ask(client, python)
        assert (await ask(client, java))[1].startswith("semantic-hit")  # what verify prevents


async def test_semantic_through_a_gateway_embeddings_alias(
    start_gateway: GatewayFactory, sim: SimServer
) -> None:
    cache = {"semantic": {"enabled": True, "embedder": "embed", "threshold": 0.9}}
    async with start_gateway(cache=cache) as url, sdk(url) as client:
        await ask(client, [{"role": "user", "content": "How far is the Moon?"}])
        _, status, _ = await ask(client, [{"role": "user", "content": "how far is the moon"}])
        assert status.startswith("semantic-hit")


@pytest.mark.skipif(missing_extra() is not None, reason=missing_extra() or "")
async def test_semantic_with_the_local_model(start_gateway: GatewayFactory, sim: SimServer) -> None:
    cache = {"semantic": {"enabled": True, "embedder": "local", "threshold": 0.9}}
    async with start_gateway(cache=cache) as url, sdk(url) as client:
        await ask(client, [{"role": "user", "content": "How can I learn to play the guitar?"}])
        _, hit, _ = await ask(
            client, [{"role": "user", "content": "How do I learn to play guitar?"}]
        )
        _, miss, _ = await ask(client, [{"role": "user", "content": "How do I repair a bicycle?"}])
        assert hit.startswith("semantic-hit") and miss == "miss"
