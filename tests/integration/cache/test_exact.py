"""The exact cache through the real gateway and simulator: hits, policy, scopes, accounting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from pointsman.simulator.server import SimServer

from ..conftest import MASTER_KEY, GatewayFactory
from ..governance.admin_client import admin
from .helpers import QUESTION, ask, ledger, org_key, sdk


async def test_a_repeat_is_served_from_cache_at_zero_cost(
    start_gateway: GatewayFactory, sim: SimServer, tmp_path: Path
) -> None:
    async with start_gateway() as url, sdk(url) as client:
        first, status1, _ = await ask(client)
        second, status2, usage = await ask(client)
        assert (status1, status2) == ("miss", "hit")
        assert first == second and sim.stats.total == 1
        assert usage is not None and usage.model_extra["pointsman_cache"] == "hit"
        stats = await admin(url, "GET", "/cache/stats")
        assert stats["totals"]["hits"] == 1 and stats["totals"]["misses"] == 1
        assert stats["totals"]["saved_usd"] > 0  # sim-instant is priced in the catalog
    rows = await ledger(tmp_path)
    assert sorted((r.cache_hit, r.cost_micros > 0) for r in rows) == [(False, True), (True, False)]


async def test_only_deterministic_requests_are_cached_by_default(
    start_gateway: GatewayFactory, sim: SimServer
) -> None:
    async with start_gateway() as url, sdk(url) as client:
        for _ in range(2):
            _, status, _ = await ask(client, temperature=0.7)
            assert status == ""
        assert sim.stats.total == 2
        _, status, _ = await ask(client, temperature=0.7, seed=42)
        _, status, _ = await ask(client, temperature=0.7, seed=42)
        assert status == "hit"


async def test_per_alias_policy_override(start_gateway: GatewayFactory, sim: SimServer) -> None:
    cache = {"aliases": {"instant": {"policy": "always"}, "fast": {"policy": "never"}}}
    async with start_gateway(cache=cache) as url, sdk(url) as client:
        await ask(client, temperature=1.0)
        assert (await ask(client, temperature=1.0))[1] == "hit"
        await ask(client, model="fast")
        assert (await ask(client, model="fast"))[1] == ""


async def test_two_orgs_asking_the_same_never_share_an_answer(
    start_gateway: GatewayFactory, sim: SimServer
) -> None:
    async with start_gateway() as url:
        acme, globex = await org_key(url, "acme"), await org_key(url, "globex")
        acme2 = await org_key(url, "acme-two")
        async with sdk(url, acme) as a, sdk(url, globex) as b, sdk(url, acme2) as c:
            assert (await ask(a))[1] == "miss"
            assert (await ask(b))[1] == "miss"  # same prompt, other org
            assert (await ask(c))[1] == "miss"
            async with sdk(url, MASTER_KEY) as master:
                assert (await ask(master))[1] == "miss"  # the master key has its own scope
            assert (await ask(a))[1] == "hit"
        assert sim.stats.total == 4


async def test_scope_per_key(start_gateway: GatewayFactory, sim: SimServer) -> None:
    async with start_gateway(cache={"scope": "key"}) as url:
        org = await admin(url, "POST", "/orgs", {"name": "acme"})
        keys = [
            (await admin(url, "POST", "/keys", {"name": f"k{i}", "org_id": org["id"]}))["secret"]
            for i in range(2)
        ]
        async with sdk(url, keys[0]) as one, sdk(url, keys[1]) as two:
            assert (await ask(one))[1] == "miss"
            assert (await ask(two))[1] == "miss"
            assert (await ask(one))[1] == "hit"


async def test_request_controls(start_gateway: GatewayFactory, sim: SimServer) -> None:
    async with start_gateway() as url, sdk(url) as client:
        await ask(client, headers={"cache-control": "no-store"})
        assert (await ask(client))[1] == "miss"  # the no-store answer was not kept
        assert (await ask(client))[1] == "hit"
        assert (await ask(client, headers={"cache-control": "no-cache"}))[1] == "miss"
        calls = sim.stats.total
        assert calls == 3
        other = [{"role": "user", "content": "And of Italy?"}]
        await ask(client, other, headers={"x-pointsman-cache-ttl": "0.3"})
        assert (await ask(client, other))[1] == "hit"
        await asyncio.sleep(0.4)
        assert (await ask(client, other))[1] == "miss"  # its TTL ran out
        assert (await ask(client, other, headers={"cache-control": "max-age=0"}))[1] == "miss"


async def test_admin_purge_by_org(start_gateway: GatewayFactory, sim: SimServer) -> None:
    async with start_gateway() as url:
        acme, globex = await org_key(url, "acme"), await org_key(url, "globex")
        async with sdk(url, acme) as a, sdk(url, globex) as b:
            await ask(a)
            await ask(b)
            orgs = {o["name"]: o["id"] for o in await admin(url, "GET", "/orgs")}
            purged = await admin(url, "POST", "/cache/purge", {"org_id": orgs["acme"]})
            assert purged["deleted"] == 1
            assert (await ask(a))[1] == "miss"
            assert (await ask(b))[1] == "hit"
        async with aiohttp.ClientSession() as session:
            bad = await session.post(
                f"{url}/admin/v1/cache/purge",
                json={"all": True, "org_id": "x"},
                headers={"Authorization": f"Bearer {MASTER_KEY}"},
            )
            assert bad.status == 400
            denied = await session.get(
                f"{url}/admin/v1/cache/stats", headers={"Authorization": f"Bearer {acme}"}
            )
            assert denied.status == 403
        spec = await admin(url, "GET", "/openapi.json")
        assert "/admin/v1/cache/purge" in spec["paths"]


async def test_cache_off(start_gateway: GatewayFactory, sim: SimServer) -> None:
    async with start_gateway(cache={"enabled": False}) as url, sdk(url) as client:
        await ask(client, QUESTION)
        assert (await ask(client, QUESTION))[1] == ""
        assert sim.stats.total == 2
