"""The ``gemini`` protocol: the Gemini API's ``generateContent`` and ``streamGenerateContent``.

``base_url`` is the API root including its version, e.g.
``https://generativelanguage.googleapis.com/v1beta``; requests go to
``{base_url}/models/{model}:generateContent`` and ``...:streamGenerateContent?alt=sse``.
Authentication is the ``x-goog-api-key`` header. The pure translations live beside this
module: ``gemini_request``, ``gemini_response``, ``gemini_stream`` and ``gemini_schema``.

``options`` (all optional): ``schema_format`` (``json_schema``: tool parameters and response
schemas as JSON Schema, the default; ``openapi``: the older OpenAPI subset),
``safety_settings`` (sent as ``safetySettings``), ``placeholder_signatures`` (see
:class:`~pointsman.providers.gemini_request.GeminiOptions`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import quote

import msgspec

from pointsman.config import ProviderConfig
from pointsman.core.ids import new_id
from pointsman.errors import UpstreamError
from pointsman.providers.base import (
    ChatCall,
    ChatProvider,
    ChatResult,
    ChatStream,
    ModelListProvider,
)
from pointsman.providers.gemini_request import GeminiOptions, to_gemini
from pointsman.providers.gemini_response import error_from_body, to_completion
from pointsman.providers.gemini_stream import GeminiStreamTranslator
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

__all__ = ["GeminiProvider"]

_encode = msgspec.json.encode


class GeminiProvider(PooledSession, ChatProvider, ModelListProvider):
    """Adapter for the Gemini API (Google AI Studio; Vertex AI's Gemini endpoints take the
    same bodies under a different base URL and auth header)."""

    protocol = "gemini"

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        self.options = provider_options(name, config.options, GeminiOptions)
        self._base = config.base_url.rstrip("/")
        headers = {"Content-Type": "application/json"}
        if config.api_key:
            headers["x-goog-api-key"] = config.api_key
        self._headers = {**headers, **config.headers}

    def _url(self, model: str, method: str) -> str:
        return f"{self._base}/models/{quote(model, safe='')}:{method}"

    def _error(self, deployment: str) -> ErrorReader:
        secret = self.config.api_key

        def read(status: int, raw: bytes, headers: Mapping[str, str]) -> UpstreamError:
            return error_from_body(status, raw, headers, deployment, secret)

        return read

    async def chat(self, call: ChatCall) -> ChatResult:
        body = _encode(to_gemini(call.body, self.options))
        url = self._url(call.model, "generateContent")
        error = self._error(call.deployment)
        response = await post_json(self.session, url, body, self._headers, call.deployment, error)
        raw = await read_all(response, call.deployment)
        rid = "chatcmpl-" + new_id()
        completion, usage, finish = to_completion(raw, call.deployment, int(time.time()), rid)
        return ChatResult(body=completion, usage=usage, finish_reason=finish)

    async def chat_stream(self, call: ChatCall) -> ChatStream:
        body = _encode(to_gemini(call.body, self.options))
        url = self._url(call.model, "streamGenerateContent") + "?alt=sse"
        error = self._error(call.deployment)
        response = await post_json(self.session, url, body, self._headers, call.deployment, error)
        translator = GeminiStreamTranslator(
            "chatcmpl-" + new_id(),
            int(time.time()),
            call.model,
            call.deployment,
            include_usage=call.request.wants_usage_chunk,
            secret=self.config.api_key,
        )
        return TranslatedStream(response, translator, call)

    async def list_models(self) -> list[str]:
        """Model ids from ``GET {base_url}/models`` (first page; enough for a health probe)."""
        raw = await get_json(
            self.session, f"{self._base}/models", self._headers, self.name, self._error(self.name)
        )
        return [
            name.removeprefix("models/") for name in model_ids(raw, self.name, "models", "name")
        ]
