"""The ``anthropic`` protocol: the Anthropic Messages API (``POST {base_url}/messages``).

``base_url`` is the API root including its version path, e.g. ``https://api.anthropic.com/v1``.
Authentication is ``x-api-key`` plus ``anthropic-version`` (``options.version``). The pure
translations live beside this module: ``anthropic_request`` (canonical → Anthropic),
``anthropic_response`` (answers, usage, errors) and ``anthropic_stream`` (events → chunks).

``options`` (all optional): ``version``, ``max_tokens`` (sent when a request sets no limit;
Anthropic requires one), ``json_mode`` (``native`` structured outputs, or ``tool`` for models
without them), ``beta`` (``anthropic-beta`` header values).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import aiohttp
import msgspec

from pointsman.config import ProviderConfig
from pointsman.core.ids import new_id
from pointsman.errors import UpstreamError
from pointsman.providers.anthropic_request import AnthropicOptions, AnthropicRequest, to_anthropic
from pointsman.providers.anthropic_response import error_from_body, to_completion
from pointsman.providers.anthropic_stream import AnthropicStreamTranslator
from pointsman.providers.base import (
    ChatCall,
    ChatProvider,
    ChatResult,
    ChatStream,
    ModelListProvider,
)
from pointsman.providers.http import (
    ErrorReader,
    PooledSession,
    get_json,
    model_ids,
    post_json,
    read_all,
)
from pointsman.providers.options import provider_options
from pointsman.providers.translated import TranslatedStream

__all__ = ["AnthropicProvider"]

_encode = msgspec.json.encode


class AnthropicProvider(PooledSession, ChatProvider, ModelListProvider):
    """Adapter for the Anthropic Messages API."""

    protocol = "anthropic"

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        self.options = options = provider_options(name, config.options, AnthropicOptions)
        self._url = f"{config.base_url.rstrip('/')}/messages"
        self._models_url = f"{config.base_url.rstrip('/')}/models"
        headers = {"Content-Type": "application/json", "anthropic-version": options.version}
        if options.beta:
            headers["anthropic-beta"] = ",".join(options.beta)
        if config.api_key:
            headers["x-api-key"] = config.api_key
        self._headers = {**headers, **config.headers}

    def _error(self, deployment: str) -> ErrorReader:
        secret = self.config.api_key

        def read(status: int, raw: bytes, headers: Mapping[str, str]) -> UpstreamError:
            return error_from_body(status, raw, headers, deployment, secret)

        return read

    async def _send(
        self, call: ChatCall, *, stream: bool
    ) -> tuple[AnthropicRequest, aiohttp.ClientResponse]:
        request = to_anthropic(call.body, call.model, self.options, stream=stream)
        body = _encode(request.body)
        error = self._error(call.deployment)
        response = await post_json(
            self.session, self._url, body, self._headers, call.deployment, error
        )
        return request, response

    async def chat(self, call: ChatCall) -> ChatResult:
        request, response = await self._send(call, stream=False)
        raw = await read_all(response, call.deployment)
        body, usage, finish = to_completion(
            raw, call.deployment, int(time.time()), request.json_tool
        )
        return ChatResult(body=body, usage=usage, finish_reason=finish)

    async def chat_stream(self, call: ChatCall) -> ChatStream:
        request, response = await self._send(call, stream=True)
        translator = AnthropicStreamTranslator(
            "chatcmpl-" + new_id(),
            int(time.time()),
            call.model,
            call.deployment,
            include_usage=call.request.wants_usage_chunk,
            json_tool=request.json_tool,
            secret=self.config.api_key,
        )
        return TranslatedStream(response, translator, call)

    async def list_models(self) -> list[str]:
        """Model ids from ``GET {base_url}/models`` (first page; enough for a health probe)."""
        raw = await get_json(
            self.session, self._models_url, self._headers, self.name, self._error(self.name)
        )
        return model_ids(raw, self.name, "data", "id")
