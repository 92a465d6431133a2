"""Helpers for the cache tests: raw SDK calls with headers, orgs with keys, ledger reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
from sqlalchemy import select

from pointsman.store.engine import create_engine
from pointsman.store.settings import StoreSettings
from pointsman.store.tables import usage_records

from ..conftest import MASTER_KEY
from ..governance.admin_client import admin

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def sdk(url: str, key: str = MASTER_KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


async def ask(
    client: openai.AsyncOpenAI,
    messages: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> tuple[str, str, Any]:
    """(answer text, x-pointsman-cache header, usage) of one non-streamed call."""
    fields.setdefault("temperature", 0)
    raw = await client.chat.completions.with_raw_response.create(
        model=fields.pop("model", "instant"),
        messages=messages or QUESTION,  # type: ignore[arg-type]
        extra_headers=headers,
        **fields,
    )
    completion = raw.parse()
    return (
        completion.choices[0].message.content or "",
        raw.headers.get("x-pointsman-cache", ""),
        completion.usage,
    )


async def org_key(url: str, name: str) -> str:
    """A new org with one key; returns the key's secret."""
    org = await admin(url, "POST", "/orgs", {"name": name})
    issued = await admin(url, "POST", "/keys", {"name": f"{name}-key", "org_id": org["id"]})
    return str(issued["secret"])


async def ledger(store_dir: Path) -> list[Any]:
    engine = create_engine(StoreSettings(url=f"sqlite+aiosqlite:///{store_dir}/pointsman.db"))
    try:
        async with engine.connect() as conn:
            query = select(
                usage_records.c.request_id, usage_records.c.cache_hit, usage_records.c.cost_micros
            )
            return list(await conn.execute(query))
    finally:
        await engine.dispose()
