"""The ``openai`` protocol: any OpenAI-compatible base URL.

OpenAI itself, vLLM, llama.cpp server, Ollama, Groq, Together, DeepSeek, Mistral, the simulated
provider. Inbound and outbound wire match here, so the client's body is forwarded with only
``model`` replaced, and answers pass through byte for byte; only the fields accounting needs
(usage, finish reason, content length when usage is missing) are decoded, into small views.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec

from pointsman.config import ProviderConfig
from pointsman.core.tokens import estimate_prompt_tokens, estimate_text_tokens
from pointsman.core.types import Usage, chunk_view_decoder, completion_view_decoder
from pointsman.errors import UpstreamError, UpstreamProtocolError, UpstreamUnavailableError
from pointsman.providers.base import (
    ChatCall,
    ChatProvider,
    ChatResult,
    ChatStream,
    EmbeddingCall,
    EmbeddingResult,
    EmbeddingsProvider,
    ModelListProvider,
)
from pointsman.providers.http import PooledSession, redact, sse_events, status_error

_encode = msgspec.json.encode


class _ErrorBody(msgspec.Struct):
    message: str = ""
    type: str | None = None
    code: str | int | None = None


class _ErrorEnvelope(msgspec.Struct):
    error: _ErrorBody | str | None = None


class _ModelList(msgspec.Struct):
    data: list[dict[str, Any]] = []


class _EmbeddingUsage(msgspec.Struct):
    prompt_tokens: int = 0


class _EmbeddingView(msgspec.Struct):
    usage: _EmbeddingUsage | None = None


class OpenAIProvider(PooledSession, ChatProvider, EmbeddingsProvider, ModelListProvider):
    """Adapter for OpenAI-compatible HTTP APIs."""

    protocol = "openai"

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        base = config.base_url.rstrip("/")
        self._chat_url = f"{base}/chat/completions"
        self._embeddings_url = f"{base}/embeddings"
        self._models_url = f"{base}/models"
        self._headers = {"Content-Type": "application/json", **config.headers}
        if config.api_key:
            self._headers["Authorization"] = f"Bearer {config.api_key}"

    # -- chat ------------------------------------------------------------------------------

    def _chat_body(self, call: ChatCall, stream: bool) -> bytes:
        body = dict(call.body)
        body["model"] = call.model
        if stream and self.config.stream_usage:
            options = dict(body.get("stream_options") or {})
            options["include_usage"] = True
            body["stream_options"] = options
        return _encode(body)

    async def _post(self, url: str, data: bytes, deployment: str) -> aiohttp.ClientResponse:
        try:
            response = await self.session.post(url, data=data, headers=self._headers)
        except TimeoutError as error:
            raise UpstreamUnavailableError(
                f"{deployment}: connect timed out", deployment=deployment
            ) from error
        except aiohttp.ClientError as error:
            raise UpstreamUnavailableError(
                f"{deployment}: connection failed ({type(error).__name__})", deployment=deployment
            ) from error
        if response.status >= 400:
            try:
                raw = await response.read()
            except aiohttp.ClientError:
                raw = b""
            finally:
                response.release()
            raise self._error(response.status, raw, response.headers, deployment)
        return response

    def _error(self, status: int, raw: bytes, headers: Any, deployment: str) -> UpstreamError:
        message, code, kind = "", None, None
        try:
            envelope = msgspec.json.decode(raw, type=_ErrorEnvelope)
            if isinstance(envelope.error, _ErrorBody):
                message = envelope.error.message
                code = str(envelope.error.code) if envelope.error.code is not None else None
                kind = envelope.error.type
            elif isinstance(envelope.error, str):
                message = envelope.error
        except msgspec.DecodeError:
            message = raw[:200].decode("utf-8", "replace")
        except msgspec.ValidationError:
            message = ""
        message = redact(message, self.config.api_key)
        return status_error(
            status, message, deployment=deployment, headers=headers, code=code, kind=kind
        )

    async def chat(self, call: ChatCall) -> ChatResult:
        response = await self._post(self._chat_url, self._chat_body(call, False), call.deployment)
        try:
            raw = await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise UpstreamUnavailableError(
                f"{call.deployment}: connection lost while reading the answer",
                deployment=call.deployment,
            ) from error
        finally:
            response.release()
        try:
            view = completion_view_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise UpstreamProtocolError(
                f"{call.deployment}: malformed answer from upstream ({error})",
                deployment=call.deployment,
            ) from None
        if not view.choices:
            raise UpstreamProtocolError(
                f"{call.deployment}: upstream answer has no choices", deployment=call.deployment
            )
        choice = view.choices[0]
        if view.usage is not None:
            usage = view.usage.to_usage()
        else:
            text = choice.message.content if choice.message else None
            calls = choice.message.tool_calls if choice.message else None
            usage = Usage(
                prompt_tokens=estimate_prompt_tokens(call.body["messages"], call.body.get("tools")),
                completion_tokens=estimate_text_tokens(text or "")
                + estimate_text_tokens(str(calls) if calls else ""),
                estimated=True,
            )
        return ChatResult(body=raw, usage=usage, finish_reason=choice.finish_reason)

    async def chat_stream(self, call: ChatCall) -> ChatStream:
        response = await self._post(self._chat_url, self._chat_body(call, True), call.deployment)
        return _OpenAIStream(
            response,
            call,
            drop_usage_chunk=not call.request.wants_usage_chunk,
            secret=self.config.api_key,
        )

    # -- embeddings and models ------------------------------------------------------------

    async def embeddings(self, call: EmbeddingCall) -> EmbeddingResult:
        body = dict(call.body)
        body["model"] = call.model
        response = await self._post(self._embeddings_url, _encode(body), call.deployment)
        try:
            raw = await response.read()
        finally:
            response.release()
        try:
            view = msgspec.json.decode(raw, type=_EmbeddingView)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise UpstreamProtocolError(
                f"{call.deployment}: malformed embeddings answer", deployment=call.deployment
            ) from None
        tokens = view.usage.prompt_tokens if view.usage else 0
        return EmbeddingResult(body=raw, usage=Usage(prompt_tokens=tokens))

    async def list_models(self) -> list[str]:
        try:
            async with self.session.get(self._models_url, headers=self._headers) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise self._error(response.status, raw, response.headers, self.name)
        except aiohttp.ClientError as error:
            raise UpstreamUnavailableError(
                f"{self.name}: connection failed ({type(error).__name__})", deployment=self.name
            ) from error
        return [str(item.get("id")) for item in msgspec.json.decode(raw, type=_ModelList).data]


class _OpenAIStream(ChatStream):
    """Forwards upstream chunk payloads as they are, reading usage and finish reason on the way.

    Pointsman always asks the upstream for a usage chunk (``stream_usage``); when the client did
    not ask for one, that chunk is dropped here so the client sees exactly what it asked for.
    """

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        call: ChatCall,
        *,
        drop_usage_chunk: bool,
        secret: str | None,
    ) -> None:
        self._response = response
        self._secret = secret
        self._call = call
        self._drop_usage_chunk = drop_usage_chunk
        self._completion_chars = 0
        self._usage_only = False

    async def __aiter__(self) -> AsyncIterator[list[bytes]]:
        deployment = self._call.deployment
        done = False
        try:
            async for events in sse_events(self._response.content):
                batch: list[bytes] = []
                for event, payload in events:
                    if payload == b"[DONE]":
                        done = True
                        break
                    failure = self._read(event, payload)
                    if failure is not None:
                        if batch:  # what arrived before the failure still reaches the client
                            yield batch
                        raise failure
                    if self._keep(payload):
                        batch.append(payload)
                if batch:
                    yield batch
                if done:
                    break
        except (aiohttp.ClientError, TimeoutError) as error:
            raise UpstreamUnavailableError(
                f"{deployment}: connection lost mid-stream ({type(error).__name__})",
                deployment=deployment,
            ) from error
        finally:
            self._response.release()
        if not done and self.finish_reason is None:
            raise UpstreamUnavailableError(
                f"{deployment}: stream ended before it was complete", deployment=deployment
            )
        if self.usage is None:
            self.usage = Usage(
                prompt_tokens=estimate_prompt_tokens(
                    self._call.body["messages"], self._call.body.get("tools")
                ),
                completion_tokens=(self._completion_chars + 3) // 4,
                estimated=True,
            )

    def _read(self, event: bytes, payload: bytes) -> UpstreamError | None:
        """Account for one chunk; returns the error it carries, if it is one."""
        if event == b"error" or payload.startswith(b'{"error"'):
            return self._midstream_error(payload)
        try:
            view = chunk_view_decoder.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return UpstreamProtocolError(
                f"{self._call.deployment}: malformed stream chunk from upstream",
                deployment=self._call.deployment,
            )
        if view.usage is not None:
            self.usage = view.usage.to_usage()
            self._usage_only = not view.choices
        else:
            self._usage_only = False
        for choice in view.choices:
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
            delta = choice.delta
            if delta is not None:
                if delta.content:
                    self._completion_chars += len(delta.content)
                if delta.tool_calls:
                    self._completion_chars += len(str(delta.tool_calls))
        return None

    def _keep(self, payload: bytes) -> bool:
        """Whether the chunk just read goes to the client (a usage-only chunk it didn't ask
        for does not)."""
        return not (self._usage_only and self._drop_usage_chunk)

    def _midstream_error(self, payload: bytes) -> UpstreamError:
        deployment = self._call.deployment
        text = redact(payload[:300].decode("utf-8", "replace"), self._secret)
        return UpstreamUnavailableError(
            f"{deployment}: upstream error mid-stream: {text}", deployment=deployment
        )

    async def aclose(self) -> None:
        self._response.release()
