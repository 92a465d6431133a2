"""Orgs, teams and virtual keys: the durable side of "who is calling".

A virtual key's secret (``pm-`` + 43 URL-safe characters, 256 bits) is shown once, when it is
created or rotated; the store keeps only its SHA-256 and a short visible prefix for listings.
A fast unsalted hash is enough for secrets of that entropy (guessing is hopeless, and lookup
by hash must be one indexed read). The request path never calls this module: the gateway loads
active keys into memory (:meth:`KeyStore.list_keys`) and reloads them when keys change.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pointsman.store.tables import orgs, teams, virtual_keys

__all__ = ["IssuedKey", "KeyStore", "Org", "Team", "VirtualKey", "hash_secret", "new_id"]

SECRET_PREFIX = "pm-"
VISIBLE_CHARS = 10  # "pm-" and 7 characters of the secret


def new_id(kind: str) -> str:
    """A short random id such as ``key_3f9a0c2e7b1d4a66``."""
    return f"{kind}_{secrets.token_hex(8)}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Org:
    id: str
    name: str
    metadata: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    org_id: str
    name: str
    metadata: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class VirtualKey:
    """A key's scopes. ``allowed_aliases`` None means every alias."""

    id: str
    prefix: str
    name: str
    org_id: str | None
    team_id: str | None
    user_id: str | None
    allowed_aliases: frozenset[str] | None
    data_class_ceiling: str | None
    expires_at: datetime | None
    metadata: dict[str, Any]
    created_at: datetime
    revoked_at: datetime | None
    rotated_from: str | None

    def active(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly created key: ``secret`` is the only copy of the plaintext; show it once."""

    secret: str
    key: VirtualKey


def _key(row: Row[Any]) -> VirtualKey:
    m = row._mapping
    aliases = m["allowed_aliases"]
    return VirtualKey(
        id=m["id"],
        prefix=m["prefix"],
        name=m["name"],
        org_id=m["org_id"],
        team_id=m["team_id"],
        user_id=m["user_id"],
        allowed_aliases=None if aliases is None else frozenset(aliases),
        data_class_ceiling=m["data_class_ceiling"],
        expires_at=m["expires_at"],
        metadata=dict(m["metadata"]),
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
        rotated_from=m["rotated_from"],
    )


class KeyStore:
    """Typed reads and writes of orgs, teams and keys. Every method is one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_org(self, name: str, metadata: Mapping[str, Any] | None = None) -> Org:
        """A new org. Raises sqlalchemy IntegrityError if ``name`` is taken."""
        org = Org(new_id("org"), name, dict(metadata or {}), datetime.now(UTC))
        async with self.engine.begin() as conn:
            await conn.execute(
                orgs.insert().values(
                    id=org.id, name=name, metadata=org.metadata, created_at=org.created_at
                )
            )
        return org

    async def list_orgs(self) -> list[Org]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(orgs).order_by(orgs.c.name))
            return [Org(**r._mapping) for r in rows]

    async def create_team(
        self, org_id: str, name: str, metadata: Mapping[str, Any] | None = None
    ) -> Team:
        """A new team in ``org_id``. Raises IntegrityError for an unknown org or a taken name."""
        team = Team(new_id("team"), org_id, name, dict(metadata or {}), datetime.now(UTC))
        async with self.engine.begin() as conn:
            await conn.execute(
                teams.insert().values(
                    id=team.id,
                    org_id=org_id,
                    name=name,
                    metadata=team.metadata,
                    created_at=team.created_at,
                )
            )
        return team

    async def list_teams(self, org_id: str | None = None) -> list[Team]:
        query = select(teams).order_by(teams.c.name)
        if org_id is not None:
            query = query.where(teams.c.org_id == org_id)
        async with self.engine.connect() as conn:
            return [Team(**r._mapping) for r in await conn.execute(query)]

    async def create_key(
        self,
        name: str,
        *,
        org_id: str | None = None,
        team_id: str | None = None,
        user_id: str | None = None,
        aliases: Iterable[str] | None = None,
        data_class_ceiling: str | None = None,
        expires_at: datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> IssuedKey:
        """Issue a key. A key in a team belongs to the team's org (``org_id`` may be omitted).

        Raises ValueError when ``team_id`` is unknown or belongs to another org.
        """
        async with self.engine.begin() as conn:
            org_id = await self._org_of(conn, team_id, org_id)
            return await self._insert_key(
                conn,
                name=name,
                org_id=org_id,
                team_id=team_id,
                user_id=user_id,
                allowed_aliases=None if aliases is None else sorted(set(aliases)),
                data_class_ceiling=data_class_ceiling,
                expires_at=expires_at,
                metadata=dict(metadata or {}),
                rotated_from=None,
            )

    async def _org_of(
        self, conn: AsyncConnection, team_id: str | None, org_id: str | None
    ) -> str | None:
        if team_id is None:
            return org_id
        owner = await conn.scalar(select(teams.c.org_id).where(teams.c.id == team_id))
        if owner is None:
            raise ValueError(f"unknown team {team_id!r}")
        if org_id is not None and org_id != owner:
            raise ValueError(f"team {team_id!r} belongs to org {owner!r}, not {org_id!r}")
        return str(owner)

    async def _insert_key(self, conn: AsyncConnection, **values: Any) -> IssuedKey:
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        row = {
            "id": new_id("key"),
            "key_hash": hash_secret(secret),
            "prefix": secret[:VISIBLE_CHARS],
            "created_at": datetime.now(UTC),
            "revoked_at": None,
            **values,
        }
        result = await conn.execute(virtual_keys.insert().values(**row).returning(virtual_keys))
        return IssuedKey(secret, _key(result.one()))

    async def get_key(self, key_id: str) -> VirtualKey | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(virtual_keys).where(virtual_keys.c.id == key_id))
            ).first()
        return None if row is None else _key(row)

    async def find_key(self, secret: str) -> VirtualKey | None:
        """The key whose secret is ``secret`` (revoked or expired ones too: check ``active``)."""
        query = select(virtual_keys).where(virtual_keys.c.key_hash == hash_secret(secret))
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _key(row)

    async def list_keys(
        self,
        *,
        org_id: str | None = None,
        team_id: str | None = None,
        include_inactive: bool = False,
    ) -> list[VirtualKey]:
        """Keys, oldest first; without ``include_inactive`` only those usable right now."""
        query = select(virtual_keys).order_by(virtual_keys.c.created_at, virtual_keys.c.id)
        if org_id is not None:
            query = query.where(virtual_keys.c.org_id == org_id)
        if team_id is not None:
            query = query.where(virtual_keys.c.team_id == team_id)
        async with self.engine.connect() as conn:
            keys = [_key(r) for r in await conn.execute(query)]
        now = datetime.now(UTC)
        return keys if include_inactive else [k for k in keys if k.active(now)]

    async def usable_keys(self) -> list[tuple[str, VirtualKey]]:
        """``(secret hash, key)`` for every key not revoked yet (expiry is checked per use)."""
        now = datetime.now(UTC)
        query = select(virtual_keys).where(
            (virtual_keys.c.revoked_at.is_(None)) | (virtual_keys.c.revoked_at > now)
        )
        async with self.engine.connect() as conn:
            return [(r._mapping["key_hash"], _key(r)) for r in await conn.execute(query)]

    async def fingerprint(self) -> tuple[Any, ...]:
        """A cheap summary that changes whenever a key is created, revoked or rotated."""
        query = select(
            func.count(), func.max(virtual_keys.c.created_at), func.max(virtual_keys.c.revoked_at)
        ).select_from(virtual_keys)
        async with self.engine.connect() as conn:
            return tuple((await conn.execute(query)).one())

    async def revoke_key(self, key_id: str, *, at: datetime | None = None) -> bool:
        """Revoke (at ``at``, default now). False if unknown or already revoked."""
        statement = (
            update(virtual_keys)
            .where(virtual_keys.c.id == key_id, virtual_keys.c.revoked_at.is_(None))
            .values(revoked_at=at or datetime.now(UTC))
        )
        async with self.engine.begin() as conn:
            return (await conn.execute(statement)).rowcount == 1

    async def rotate_key(self, key_id: str, *, grace: timedelta | None = None) -> IssuedKey:
        """Issue a new secret with the same scopes and retire the old key, atomically.

        With ``grace`` the old secret keeps working for that long (clients can switch over);
        without, it stops now. Raises ValueError for an unknown or revoked key.
        """
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(select(virtual_keys).where(virtual_keys.c.id == key_id))
            ).first()
            if row is None or row._mapping["revoked_at"] is not None:
                raise ValueError(f"no active key {key_id!r} to rotate")
            old = _key(row)
            now = datetime.now(UTC)
            await conn.execute(
                update(virtual_keys)
                .where(virtual_keys.c.id == key_id)
                .values(revoked_at=now + grace if grace else now)
            )
            return await self._insert_key(
                conn,
                name=old.name,
                org_id=old.org_id,
                team_id=old.team_id,
                user_id=old.user_id,
                allowed_aliases=None
                if old.allowed_aliases is None
                else sorted(old.allowed_aliases),
                data_class_ceiling=old.data_class_ceiling,
                expires_at=old.expires_at,
                metadata=old.metadata,
                rotated_from=old.id,
            )
