"""The :class:`Authenticate` stage: bearer token → :class:`~pointsman.core.pipeline.Caller`.

Today it knows the master key (and ``auth: none`` for local use). Virtual keys plug in through
the ``keys`` lookup: any object with ``lookup(token) -> Caller | None`` held in memory, so
authentication never costs a database round-trip.
"""

from __future__ import annotations

import hmac
from typing import Protocol

from pointsman.config import ServerConfig
from pointsman.core.pipeline import Caller, RequestContext, Stage
from pointsman.errors import AuthenticationError

ANONYMOUS = Caller(key_id="anonymous", name="anonymous (auth: none)", admin=True)
MASTER = Caller(key_id="master", name="master key", admin=True)


class KeyLookup(Protocol):
    def lookup(self, token: str) -> Caller | None: ...


def bearer_token(headers: object) -> str | None:
    """The token from ``Authorization: Bearer ...`` or ``x-api-key`` (Anthropic SDK style)."""
    get = headers.get  # type: ignore[attr-defined]
    value: str | None = get("authorization")
    if value:
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    key: str | None = get("x-api-key")
    return key or None


class Authenticate(Stage):
    name = "authenticate"

    def __init__(self, server: ServerConfig, keys: KeyLookup | None = None) -> None:
        self.open = server.auth == "none"
        self.master = (server.master_key or "").encode()
        self.keys = keys

    def identify(self, token: str | None) -> Caller:
        """The caller for ``token``. Raises :class:`AuthenticationError`."""
        if self.open:
            return ANONYMOUS
        if token is None:
            raise AuthenticationError(
                "Missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key"
            )
        if self.master and hmac.compare_digest(token.encode(), self.master):
            return MASTER
        caller = self.keys.lookup(token) if self.keys is not None else None
        if caller is None:
            raise AuthenticationError("Invalid API key")
        return caller

    async def on_request(self, ctx: RequestContext) -> None:
        ctx.caller = self.identify(bearer_token(ctx.headers))
