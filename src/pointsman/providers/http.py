"""What every HTTP-speaking adapter shares: the pooled session, status → error mapping, SSE framing.

One :class:`aiohttp.ClientSession` per provider (one upstream host), keep-alive, a bounded pool,
explicit connect and between-bytes read timeouts. aiohttp's client is used rather than httpx
because it is several times faster per request, which matters on the hot path.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime

import aiohttp
import msgspec

from pointsman.config import ProviderConfig
from pointsman.errors import (
    ContentFilteredError,
    ContextWindowExceededError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
# How providers word "the prompt does not fit": OpenAI, Anthropic, Gemini.
_CONTEXT_HINTS = (
    "context_length",
    "context window",
    "too many tokens",
    "prompt is too long",
    "exceeds the maximum number of tokens",
)


def open_session(config: ProviderConfig) -> aiohttp.ClientSession:
    """A pooled keep-alive session for one upstream. Must be called inside the event loop."""
    connector = aiohttp.TCPConnector(
        limit=config.max_connections,
        keepalive_timeout=30,
        ttl_dns_cache=300,
        enable_cleanup_closed=True,
    )
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=config.timeouts.connect, sock_read=config.timeouts.read
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=True,
        skip_auto_headers=("User-Agent",),
        raise_for_status=False,
    )


class PooledSession:
    """The pooled session of an HTTP provider: opened by ``start()``, closed by ``close()``.

    Mixed into an adapter ahead of :class:`~pointsman.providers.base.Provider` (it provides
    ``start``/``close``); the adapter reaches the session through :attr:`session`.
    """

    name: str
    config: ProviderConfig
    _session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = open_session(self.config)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"provider {self.name!r} used before start()")
        return self._session


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``Retry-After`` (seconds or HTTP date), or else
    the providers' rate-limit reset headers (:func:`rate_limit_reset`); None when none applies.

    ``headers`` should be case-insensitive, as aiohttp's are.
    """
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return rate_limit_reset(headers)
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return rate_limit_reset(headers)
        return max(0.0, parsed.timestamp() - time.time())


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float | None:
    """``6m0s``, ``1s``, ``20ms``, ``1h2m3.5s`` (OpenAI's reset format) → seconds; else None."""
    text = text.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def _until(timestamp: str) -> float | None:
    """Seconds from now until an RFC 3339 time (Anthropic's reset format); None if malformed."""
    try:
        moment = datetime.fromisoformat(timestamp.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - time.time())


def rate_limit_reset(headers: Mapping[str, str]) -> float | None:
    """Seconds until the exhausted rate limit resets, from the providers' reset headers.

    OpenAI (and compatible servers): ``x-ratelimit-reset-{requests,tokens}`` as durations;
    Anthropic: ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset`` as
    RFC 3339 times. Only limits whose ``remaining`` is 0 count, or every limit when no
    ``remaining`` header was sent; the longest wait wins. None when nothing applies.
    """
    resets: list[tuple[str | None, float | None]] = []
    for kind in ("requests", "tokens"):
        if reset := headers.get(f"x-ratelimit-reset-{kind}"):
            resets.append((headers.get(f"x-ratelimit-remaining-{kind}"), parse_duration(reset)))
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        if reset := headers.get(f"anthropic-ratelimit-{kind}-reset"):
            remaining = headers.get(f"anthropic-ratelimit-{kind}-remaining")
            resets.append((remaining, _until(reset)))
    if any(remaining is not None for remaining, _ in resets):
        resets = [(r, wait) for r, wait in resets if r is not None and r.strip() == "0"]
    waits = [wait for _, wait in resets if wait is not None]
    return max(waits) if waits else None


def redact(text: str, secret: str | None) -> str:
    """Remove our credential from upstream text before it can reach a client or a log."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    return text


def status_error(
    status: int,
    message: str,
    *,
    deployment: str,
    headers: Mapping[str, str],
    code: str | None = None,
    kind: str | None = None,
) -> UpstreamError:
    """Map an upstream HTTP failure to the typed hierarchy.

    ``code``/``kind`` are the provider's own error code and type when its body had them; they pick
    out context-window and content-filter refusals, which later drive typed fallbacks.
    """
    text = f"{deployment}: {message}" if message else f"{deployment}: HTTP {status}"
    hint = f"{code or ''} {kind or ''} {message}".lower()
    kind_of: type[UpstreamError]
    if status == 429:
        kind_of = UpstreamRateLimitedError
    elif status in (401, 403) or "api_key_invalid" in hint:  # Gemini: 400 API_KEY_INVALID
        kind_of = UpstreamAuthError
        text = (
            f"{deployment}: the provider refused Pointsman's credentials (HTTP {status}); "
            "check the provider's api_key"
        )
    elif status in RETRYABLE_STATUSES or status >= 500:
        kind_of = UpstreamUnavailableError
    elif any(phrase in hint for phrase in _CONTEXT_HINTS):
        kind_of = ContextWindowExceededError
    elif "content_filter" in hint or "content_policy" in hint or "safety" in hint:
        kind_of = ContentFilteredError
    elif status == 404:
        return UpstreamError(
            text, deployment=deployment, upstream_status=status, code="upstream_model_not_found"
        )
    else:
        kind_of = UpstreamBadRequestError
    retry_after = parse_retry_after(headers) if kind_of.retryable else None
    return kind_of(
        text,
        deployment=deployment,
        upstream_status=status,
        retry_after=retry_after,
        # The client learns when to come back (the reliability layer may fail over first).
        headers={"Retry-After": str(math.ceil(retry_after))} if retry_after is not None else None,
    )


SSEEvent = tuple[bytes, bytes]  # (event name, data)


async def sse_events(content: aiohttp.StreamReader) -> AsyncIterator[list[SSEEvent]]:
    """Split an SSE byte stream into batches of ``(event_name, data)`` pairs.

    A batch holds the complete events of one network read, so a burst of events costs one
    iteration instead of one each. Multi-line ``data:`` fields are joined with newlines as the
    SSE spec says; comments and ``id:``/``retry:`` fields are dropped. Event boundaries may fall
    anywhere in the TCP segments.
    """
    buffer = b""
    async for piece in content.iter_any():
        buffer += piece
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        blocks = buffer.split(b"\n\n")
        buffer = blocks.pop()
        batch = [event for event in map(_parse_block, blocks) if event[1] is not None]
        if batch:
            yield batch  # type: ignore[misc]
    if buffer.strip():
        event, data = _parse_block(buffer)
        if data is not None:
            yield [(event, data)]


def _parse_block(block: bytes) -> tuple[bytes, bytes | None]:
    if block.startswith(b"data: ") and b"\n" not in block:  # the common case: one data line
        return b"", block[6:]
    event = b""
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            data.append(line[6:] if line.startswith(b"data: ") else line[5:])
        elif line.startswith(b"event:"):
            event = line[6:].strip()
    return event, (b"\n".join(data) if data else None)


ErrorReader = Callable[[int, bytes, Mapping[str, str]], UpstreamError]
# aiohttp >= 3.10 tells a connect timeout from a read timeout; older ones do not.
_CONNECT_TIMEOUT: type[Exception] | tuple[()] = getattr(aiohttp, "ConnectionTimeoutError", ())


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    data: bytes,
    headers: Mapping[str, str],
    deployment: str,
    error: ErrorReader,
) -> aiohttp.ClientResponse:
    """POST ``data``; the response once its status is below 400 (the caller releases it).

    Transport failures raise :class:`UpstreamUnavailableError`; an HTTP error status is read and
    turned into a typed error by ``error(status, body, headers)``, the adapter's own parser of
    its protocol's error bodies.
    """
    try:
        response = await session.post(url, data=data, headers=headers)
    except _CONNECT_TIMEOUT as exc:
        raise UpstreamUnavailableError(
            f"{deployment}: connect timed out", deployment=deployment
        ) from exc
    except TimeoutError as exc:  # aiohttp's read timeout: no answer in time
        raise UpstreamTimeoutError(
            f"{deployment}: no answer within the read timeout", deployment=deployment
        ) from exc
    except aiohttp.ClientError as exc:
        raise UpstreamUnavailableError(
            f"{deployment}: connection failed ({type(exc).__name__})", deployment=deployment
        ) from exc
    if response.status >= 400:
        try:
            raw = await response.read()
        except (aiohttp.ClientError, TimeoutError):
            raw = b""
        finally:
            response.release()
        raise error(response.status, raw, response.headers)
    return response


async def read_all(response: aiohttp.ClientResponse, deployment: str) -> bytes:
    """The whole body of an accepted response; releases the connection."""
    try:
        return await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UpstreamUnavailableError(
            f"{deployment}: connection lost while reading the answer", deployment=deployment
        ) from exc
    finally:
        response.release()


async def get_json(
    session: aiohttp.ClientSession,
    url: str,
    headers: Mapping[str, str],
    deployment: str,
    error: ErrorReader,
) -> bytes:
    """GET ``url``; its body, or the typed error (as :func:`post_json` raises them)."""
    try:
        async with session.get(url, headers=headers) as response:
            raw = await response.read()
            if response.status >= 400:
                raise error(response.status, raw, response.headers)
            return raw
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UpstreamUnavailableError(
            f"{deployment}: connection failed ({type(exc).__name__})", deployment=deployment
        ) from exc


def model_ids(raw: bytes, deployment: str, listing: str, key: str) -> list[str]:
    """``[entry[key] for entry in body[listing]]`` of a model-list body; a protocol error if
    the body is not one."""
    try:
        body = msgspec.json.decode(raw)
        return [str(entry[key]) for entry in body[listing]]
    except (msgspec.DecodeError, KeyError, TypeError) as exc:
        raise UpstreamProtocolError(
            f"{deployment}: malformed model list from upstream", deployment=deployment
        ) from exc
