"""Bad input and upstream failures: the client's own error format, never a 500 or a traceback."""

from __future__ import annotations

import logging

import aiohttp
import openai
import pytest

from pointsman.simulator.server import SimServer

from .conftest import MASTER_KEY, SIM_KEY, GatewayFactory

HELLO = [{"role": "user", "content": "hello"}]
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}


async def post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/v1/chat/completions", data=data, headers=headers) as response,
    ):
        assert response.content_type == "application/json"
        return response.status, (await response.json())["error"]


def assert_openai_error(error: dict, kind: str, param: str | None = None) -> None:
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == kind
    assert error["param"] == param
    assert "Traceback" not in error["message"]


@pytest.mark.parametrize(
    ("data", "param"),
    [(b"{not json", None), (b"[]", None), (b"", None)],
)
async def test_invalid_json(gateway: str, data: bytes, param: str | None) -> None:
    status, error = await post(gateway, data, {**AUTH, "Content-Type": "application/json"})
    assert status == 400
    assert_openai_error(error, "invalid_request_error", param)


async def test_wrong_media_type_is_415(gateway: str) -> None:
    status, error = await post(gateway, b"model=fast", {**AUTH, "Content-Type": "text/plain"})
    assert status == 415
    assert_openai_error(error, "invalid_request_error")


async def test_body_over_limit_is_413(start_gateway: GatewayFactory, sim: SimServer) -> None:
    from .conftest import gateway_config

    server = {**gateway_config(sim.port)["server"], "max_body_bytes": 4096}
    async with (
        start_gateway(server=server) as url,
        openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=MASTER_KEY) as client,
    ):
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(
                model="fast", messages=[{"role": "user", "content": "x" * 10_000}]
            )
    assert caught.value.status_code == 413
    assert "4096" in caught.value.message


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": HELLO, "temperature": "warm"}, "temperature"),
        ({"messages": HELLO, "n": 0}, "n"),
    ],
)
async def test_ill_typed_fields_raise_bad_request(
    client: openai.AsyncOpenAI, kwargs: dict, param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="fast", **kwargs)
    assert caught.value.param == param
    assert param in caught.value.message


async def test_missing_field(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.post("/chat/completions", body={"model": "fast"}, cast_to=object)
    assert caught.value.param == "messages"


async def test_unsupported_content_is_422(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        await client.chat.completions.create(
            model="fast",
            messages=[{"role": "user", "content": [{"type": "video_url", "video": "x"}]}],  # type: ignore[list-item]
        )
    assert "video_url" in caught.value.message


async def test_unknown_model_lists_aliases(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(model="gpt-9", messages=HELLO)
    assert caught.value.code == "model_not_found"
    assert "fast, smart, instant, embed" in caught.value.message


async def test_wrong_key_is_401(gateway: str) -> None:
    async with openai.AsyncOpenAI(
        base_url=f"{gateway}/v1", api_key="wrong-key", max_retries=0
    ) as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model="fast", messages=HELLO)
        with pytest.raises(openai.AuthenticationError):
            await client.models.list()


async def test_missing_key_is_401(gateway: str) -> None:
    body = b'{"model": "fast", "messages": [{"role": "user", "content": "hi"}]}'
    status, error = await post(gateway, body, {"Content-Type": "application/json"})
    assert status == 401
    assert_openai_error(error, "authentication_error")
    assert error["code"] == "missing_api_key"


async def test_unknown_route_is_openai_404(gateway: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{gateway}/v1/nothing") as r:
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "unknown_url"


async def _set_profile(sim: SimServer, model: str, **fields: object) -> None:
    url = f"http://127.0.0.1:{sim.port}/_sim/profiles/{model}"
    async with aiohttp.ClientSession() as session, session.put(url, json=fields) as response:
        assert response.status == 200, await response.text()


async def test_upstream_rate_limit_maps_to_429(sim: SimServer, client: openai.AsyncOpenAI) -> None:
    await _set_profile(sim, "sim-instant", error_rates={"429": 1.0}, retry_after_s=7)
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="instant", messages=HELLO)
    assert caught.value.code == "upstream_rate_limited"


async def test_upstream_outage_maps_to_503(sim: SimServer, client: openai.AsyncOpenAI) -> None:
    """Every candidate failed: 503 naming each deployment tried and why (reliability issue)."""
    await _set_profile(sim, "sim-instant", down=True)
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model="instant", messages=HELLO)
    assert caught.value.status_code == 503
    assert "sim/sim-instant" in caught.value.message


async def test_midstream_disconnect_is_never_a_silent_short_answer(
    sim: SimServer, client: openai.AsyncOpenAI
) -> None:
    await _set_profile(sim, "sim-instant", disconnect_rate=1.0, disconnect_after_tokens=3)
    stream = await client.chat.completions.create(model="instant", messages=HELLO, stream=True)
    tokens = []
    with pytest.raises(openai.APIError):
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                tokens.append(chunk.choices[0].delta.content)
    assert 0 < len(tokens) <= 3


async def test_upstream_key_never_leaks(
    start_gateway: GatewayFactory, sim: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The upstream refuses our key: the client gets a 503 naming the provider, not the key."""
    from .conftest import gateway_config

    caplog.set_level(logging.DEBUG)
    providers = gateway_config(sim.port)["providers"]
    providers["sim"]["api_key"] = "env:POINTSMAN_MASTER_KEY"  # a key the upstream rejects
    async with (
        start_gateway(providers=providers) as url,
        openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=MASTER_KEY, max_retries=0) as client,
    ):
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model="fast", messages=HELLO)
    assert caught.value.status_code == 503
    assert "credentials" in caught.value.message
    for secret in (MASTER_KEY, SIM_KEY):
        assert secret not in caught.value.message
        assert secret not in caplog.text


async def test_wrong_method_is_405(gateway: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{gateway}/v1/chat/completions") as response,
    ):
        assert response.status == 405
        assert (await response.json())["error"]["code"] == "method_not_allowed"
