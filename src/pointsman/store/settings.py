"""The ``store:`` section of the gateway config: where keys, budgets and the spend ledger live.

::

    store:
      url: sqlite+aiosqlite:///pointsman.db     # default: a SQLite file beside the config
      # url: env:POINTSMAN_DATABASE_URL          # e.g. postgresql+asyncpg://user:pw@host/db
      schema: pointsman                          # PostgreSQL only: tables live in this schema
      usage: {flush_interval: 1.0, batch_size: 500, max_queue: 100000}

A URL holding a password must be given by reference (``env:NAME``), like every secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

__all__ = ["DEFAULT_URL", "StoreSettings", "UsageWriterSettings", "store_settings_from"]

DEFAULT_URL = "sqlite+aiosqlite:///pointsman.db"
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class UsageWriterSettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """How usage records are batched: see :class:`pointsman.store.usage_writer.UsageWriter`."""

    flush_interval: Annotated[float, Meta(gt=0, le=60)] = 1.0
    batch_size: Annotated[int, Meta(ge=1, le=10_000)] = 500
    max_queue: Annotated[int, Meta(ge=1)] = 100_000


class StoreSettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    url: str = DEFAULT_URL
    schema: str | None = None
    pool_size: Annotated[int, Meta(ge=1, le=200)] = 10
    echo: bool = False
    usage: UsageWriterSettings = UsageWriterSettings()

    def resolved_url(self, env: Mapping[str, str] | None = None) -> str:
        """The URL with an ``env:NAME`` reference resolved. Raises KeyError naming the variable."""
        if not self.url.startswith("env:"):
            return self.url
        name = self.url[4:]
        values = os.environ if env is None else env
        if name not in values:
            raise KeyError(f"store.url: environment variable {name} is not set; export it")
        return values[name]

    def problems(self) -> list[str]:
        """Checks beyond types, one line per problem, each naming its ``store.`` path."""
        found: list[str] = []
        url = self.url
        if not url.startswith(("env:", "sqlite+aiosqlite://", "postgresql+asyncpg://")):
            found.append(
                "store.url: use sqlite+aiosqlite:///path.db, postgresql+asyncpg://host/db "
                "or env:NAME"
            )
        if re.match(r"^postgresql\+asyncpg://[^/@]*:[^/@]+@", url):
            found.append("store.url: holds a password; give the URL as env:NAME instead")
        if self.schema is not None and not _SCHEMA.match(self.schema):
            found.append("store.schema: lowercase letters, digits and _ only (max 63)")
        if self.schema is not None and url.startswith("sqlite"):
            found.append("store.schema: only PostgreSQL has schemas; remove it for SQLite")
        return found


def store_settings_from(section: Any) -> StoreSettings:
    """Validate a raw ``store:`` mapping (None gives the defaults). Raises ValueError."""
    try:
        settings = msgspec.convert(section or {}, StoreSettings, strict=True)
    except msgspec.ValidationError as error:
        raise ValueError(f"store: {error}") from None
    problems = settings.problems()
    if problems:
        raise ValueError("\n".join(problems))
    return settings
