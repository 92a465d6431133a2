"""The simulator's Anthropic and Gemini wire formats over real sockets: auth, errors, streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from pointsman.simulator.server import SimServer

from .conftest import SIM_KEY

ANTHROPIC_HEADERS = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"}
MESSAGE = {
    "model": "sim-instant",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hi"}],
}
CONTENTS = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    async with http.post(url, json=body, headers=headers) as response:
        headers = {key.lower(): value for key, value in response.headers.items()}
        return response.status, headers, await response.read()


# -- Anthropic ------------------------------------------------------------------------------


async def test_anthropic_message_and_stream(sim: SimServer, http: aiohttp.ClientSession) -> None:
    url = f"{sim.url}/v1/messages"
    status, headers, body = await post(http, url, MESSAGE, ANTHROPIC_HEADERS)
    message = json.loads(body)
    assert status == 200 and headers["x-simulated"] == "true"
    assert message["type"] == "message" and message["stop_reason"] == "end_turn"
    assert message["content"][0]["type"] == "text"
    status, headers, body = await post(http, url, {**MESSAGE, "stream": True}, ANTHROPIC_HEADERS)
    assert headers["content-type"] == "text/event-stream"
    names = [line[7:] for line in body.decode().splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]


@pytest.mark.parametrize(
    ("headers", "status", "kind"),
    [
        ({"anthropic-version": "2023-06-01"}, 401, "authentication_error"),
        ({"x-api-key": "wrong", "anthropic-version": "2023-06-01"}, 401, "authentication_error"),
        ({"x-api-key": SIM_KEY}, 400, "invalid_request_error"),
    ],
)
async def test_anthropic_auth_and_version_gates(
    sim: SimServer, http: aiohttp.ClientSession, headers: dict[str, str], status: int, kind: str
) -> None:
    got, _, body = await post(http, f"{sim.url}/v1/messages", MESSAGE, headers)
    assert got == status and json.loads(body)["error"]["type"] == kind


@pytest.mark.parametrize(
    ("fault", "status", "kind"),
    [("529", 529, "overloaded_error"), ("429", 429, "rate_limit_error"), ("500", 500, "api_error")],
)
async def test_anthropic_injected_errors(
    sim: SimServer, http: aiohttp.ClientSession, fault: str, status: int, kind: str
) -> None:
    headers = {**ANTHROPIC_HEADERS, "x-sim-fault": fault}
    got, response_headers, body = await post(http, f"{sim.url}/v1/messages", MESSAGE, headers)
    assert got == status
    assert json.loads(body) == {
        "type": "error",
        "error": {"type": kind, "message": json.loads(body)["error"]["message"]},
        "request_id": "req_sim",
    }
    assert response_headers["retry-after"] == "1"


async def test_anthropic_bad_requests(sim: SimServer, http: aiohttp.ClientSession) -> None:
    url = f"{sim.url}/v1/messages"
    cases = [
        ({k: v for k, v in MESSAGE.items() if k != "max_tokens"}, "max_tokens"),
        ({**MESSAGE, "model": "nope"}, "nope"),
        ({**MESSAGE, "messages": [{"role": "user", "content": "x" * 200_000}]}, "too long"),
    ]
    for body, phrase in cases:
        status, _, raw = await post(http, url, body, ANTHROPIC_HEADERS)
        assert status in (400, 404) and phrase in json.loads(raw)["error"]["message"]


async def test_anthropic_prompt_filter_is_a_refusal(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    headers = {**ANTHROPIC_HEADERS, "x-sim-filter": "prompt"}
    status, _, body = await post(http, f"{sim.url}/v1/messages", MESSAGE, headers)
    message = json.loads(body)
    assert status == 200 and message["stop_reason"] == "refusal" and message["content"] == []


# -- Gemini ---------------------------------------------------------------------------------


def gemini_url(sim: SimServer, method: str = "generateContent", model: str = "sim-instant") -> str:
    return f"{sim.url}/v1beta/models/{model}:{method}"


async def test_gemini_answer_and_stream(sim: SimServer, http: aiohttp.ClientSession) -> None:
    status, _, body = await post(http, gemini_url(sim), CONTENTS, {"x-goog-api-key": SIM_KEY})
    answer = json.loads(body)
    assert status == 200 and answer["candidates"][0]["finishReason"] == "STOP"
    assert answer["usageMetadata"]["candidatesTokenCount"] == 48
    url = gemini_url(sim, "streamGenerateContent") + f"?alt=sse&key={SIM_KEY}"
    status, headers, body = await post(http, url, CONTENTS, {})
    events = [json.loads(b[6:]) for b in body.split(b"\r\n\r\n") if b.startswith(b"data: ")]
    assert status == 200 and headers["content-type"] == "text/event-stream"
    assert len(events) == 49 and events[-1]["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.parametrize(
    ("headers", "status", "google_status"),
    [({}, 403, "PERMISSION_DENIED"), ({"x-goog-api-key": "wrong"}, 400, "INVALID_ARGUMENT")],
)
async def test_gemini_key_gates_answer_as_google_does(
    sim: SimServer,
    http: aiohttp.ClientSession,
    headers: dict[str, str],
    status: int,
    google_status: str,
) -> None:
    got, _, body = await post(http, gemini_url(sim), CONTENTS, headers)
    error = json.loads(body)["error"]
    assert (got, error["code"], error["status"]) == (status, status, google_status)
    if status == 400:
        assert error["details"][0]["reason"] == "API_KEY_INVALID"


async def test_gemini_errors(sim: SimServer, http: aiohttp.ClientSession) -> None:
    key = {"x-goog-api-key": SIM_KEY}
    checks = [
        (gemini_url(sim, "countTokens"), CONTENTS, {}, 404, "NOT_FOUND"),
        (gemini_url(sim, "streamGenerateContent"), CONTENTS, {}, 400, "INVALID_ARGUMENT"),
        (gemini_url(sim, model="nope"), CONTENTS, {}, 404, "NOT_FOUND"),
        (gemini_url(sim), CONTENTS, {"x-sim-fault": "503"}, 503, "UNAVAILABLE"),
        (gemini_url(sim), CONTENTS, {"x-sim-fault": "429"}, 429, "RESOURCE_EXHAUSTED"),
        (
            gemini_url(sim),
            {"contents": [{"role": "tool", "parts": [{"text": "x"}]}]},
            {},
            400,
            "INVALID_ARGUMENT",
        ),
    ]
    for url, body, headers, status, google_status in checks:
        got, _, raw = await post(http, url, body, {**key, **headers})
        assert (got, json.loads(raw)["error"]["status"]) == (status, google_status), url


async def test_gemini_prompt_filter_blocks(sim: SimServer, http: aiohttp.ClientSession) -> None:
    headers = {"x-goog-api-key": SIM_KEY, "x-sim-filter": "prompt"}
    status, _, body = await post(http, gemini_url(sim), CONTENTS, headers)
    answer = json.loads(body)
    assert status == 200 and answer["promptFeedback"]["blockReason"] == "SAFETY"
    assert "candidates" not in answer


async def test_malformed_answers_for_every_protocol(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    requests = [
        (
            f"{sim.url}/v1/chat/completions",
            {"model": "sim-instant", "messages": [{"role": "user", "content": "hi"}]},
            {"authorization": f"Bearer {SIM_KEY}"},
        ),
        (f"{sim.url}/v1/messages", MESSAGE, ANTHROPIC_HEADERS),
        (gemini_url(sim), CONTENTS, {"x-goog-api-key": SIM_KEY}),
    ]
    for url, body, headers in requests:
        status, _, raw = await post(http, url, body, {**headers, "x-sim-malformed": "yes"})
        assert status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(raw)


@pytest.mark.parametrize(("protocol", "path"), [("anthropic", "/v1"), ("gemini", "/v1beta")])
async def test_adapters_list_the_simulated_models(sim: SimServer, protocol: str, path: str) -> None:
    """What the reliability layer's ``probe: models`` health check calls."""
    from pointsman.config import ProviderConfig, Secret
    from pointsman.errors import UpstreamAuthError
    from pointsman.providers.registry import build_provider

    for key, works in ((SIM_KEY, True), ("wrong", False)):
        config = ProviderConfig(protocol, sim.url + path, api_key=Secret(key))
        provider = build_provider("p", config)
        await provider.start()
        try:
            if works:
                assert set(await provider.list_models()) == set(sim.profiles)  # type: ignore[attr-defined]
            else:
                with pytest.raises(UpstreamAuthError):
                    await provider.list_models()  # type: ignore[attr-defined]
        finally:
            await provider.close()
