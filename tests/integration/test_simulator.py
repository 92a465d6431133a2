"""The simulated provider over real sockets, driven by the official openai SDK."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from pointsman.core.tokens import estimate_prompt_tokens
from pointsman.simulator import SimServer

from .simulator_fixtures import sim_client, sim_server

__all__ = ["sim_client", "sim_server"]  # fixtures used by parameter name

HELLO: list[Any] = [{"role": "user", "content": "Say hello."}]
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit"],
        },
    },
}
TIME_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    },
}


async def test_chat_completion_is_labelled_and_usage_is_honest(
    sim_client: openai.AsyncOpenAI,
) -> None:
    raw = await sim_client.chat.completions.with_raw_response.create(
        model="sim-instant", messages=HELLO
    )
    assert raw.headers["x-simulated"] == "true"
    completion = raw.parse()
    assert completion.system_fingerprint == "pointsman-simulated"
    assert completion.model == "sim-instant"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == estimate_prompt_tokens(HELLO)
    assert completion.usage.completion_tokens == 48  # the profile's default length
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 48


async def test_same_prompt_same_answer_and_seed_changes_it(
    sim_client: openai.AsyncOpenAI,
) -> None:
    async def ask(seed: int | None = None) -> str | None:
        done = await sim_client.chat.completions.create(
            model="sim-instant", messages=HELLO, seed=seed
        )
        return done.choices[0].message.content

    first = await ask()
    assert await ask() == first
    assert await ask(seed=7) != first
    assert await ask(seed=7) == await ask(seed=7)


async def test_max_tokens_stop_and_n(sim_client: openai.AsyncOpenAI) -> None:
    cut = await sim_client.chat.completions.create(
        model="sim-instant", messages=HELLO, max_tokens=5, n=3
    )
    assert [c.finish_reason for c in cut.choices] == ["length"] * 3
    assert len({c.message.content for c in cut.choices}) == 3
    assert cut.usage is not None and cut.usage.completion_tokens == 15
    full = await sim_client.chat.completions.create(model="sim-instant", messages=HELLO)
    text = full.choices[0].message.content or ""
    stop = text.split()[3]
    stopped = await sim_client.chat.completions.create(
        model="sim-instant", messages=HELLO, stop=[stop]
    )
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.choices[0].message.content == text[: text.index(stop)]


async def test_logprobs_are_low_for_hard_prompts(sim_client: openai.AsyncOpenAI) -> None:
    async def mean_logprob(prompt: str) -> float:
        done = await sim_client.chat.completions.create(
            model="sim-instant",
            messages=[{"role": "user", "content": prompt}],
            logprobs=True,
            top_logprobs=2,
        )
        content = done.choices[0].logprobs and done.choices[0].logprobs.content
        assert content and all(-3 < item.logprob <= 0 for item in content)
        assert all(len(item.top_logprobs) == 2 for item in content)
        return sum(item.logprob for item in content) / len(content)

    assert await mean_logprob("An easy one.") > -0.5
    assert await mean_logprob("A hard one.") < -0.7


async def test_stream_with_usage_matches_the_plain_answer(
    sim_client: openai.AsyncOpenAI,
) -> None:
    plain = await sim_client.chat.completions.create(model="sim-quick", messages=HELLO)
    stream = await sim_client.chat.completions.create(
        model="sim-quick", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage == plain.usage
    assert all(c.usage is None for c in chunks[:-1])
    assert all(c.system_fingerprint == "pointsman-simulated" for c in chunks)


async def test_stream_follows_ttft_and_tokens_per_second(sim_client: openai.AsyncOpenAI) -> None:
    await sim_client.models.list()  # warm the client up: the first call pays for imports
    started = time.monotonic()
    stream = await sim_client.chat.completions.create(
        model="sim-paced", messages=HELLO, max_tokens=11, stream=True
    )
    arrivals = [
        time.monotonic() - started async for c in stream if c.choices and c.choices[0].delta.content
    ]
    assert len(arrivals) == 11
    assert 0.06 <= arrivals[0] < 0.3  # time to first token: 60 ms
    assert 0.11 <= arrivals[-1] < 0.5  # then 10 more tokens at 200/s: 50 ms
    started = time.monotonic()
    await sim_client.chat.completions.create(model="sim-paced", messages=HELLO, max_tokens=11)
    assert 0.11 <= time.monotonic() - started < 0.5  # non-streaming waits for all tokens


async def test_parallel_tool_calls_in_order_of_mention(sim_client: openai.AsyncOpenAI) -> None:
    messages: Any = [{"role": "user", "content": "Call get_time, then get_weather for Oslo."}]
    done = await sim_client.chat.completions.create(
        model="sim-instant", messages=messages, tools=[WEATHER_TOOL, TIME_TOOL]
    )
    choice = done.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls if c.type == "function"] == ["get_time", "get_weather"]
    arguments = [c.function.arguments for c in calls if c.type == "function"]
    weather = json.loads(arguments[1])
    assert set(weather) >= {"city", "unit"}
    assert weather["unit"] in ("celsius", "fahrenheit")
    assert 1 <= weather.get("days", 1) <= 7
    assert done.usage is not None
    assert done.usage.completion_tokens == sum(math.ceil(len(a) / 4) for a in arguments)


async def test_streamed_tool_call_arguments_reassemble(sim_client: openai.AsyncOpenAI) -> None:
    stream = await sim_client.chat.completions.create(
        model="sim-quick",
        messages=HELLO,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    names: dict[int, str] = {}
    ids: dict[int, str] = {}
    arguments: dict[int, str] = {}
    pieces = 0
    finish = None
    async for chunk in stream:
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or []:
            if delta.id:
                ids[delta.index] = delta.id
            if delta.function and delta.function.name:
                names[delta.index] = delta.function.name
            if delta.function and delta.function.arguments:
                arguments[delta.index] = arguments.get(delta.index, "") + delta.function.arguments
                pieces += 1
    assert finish == "tool_calls"
    assert names == {0: "get_weather"}
    assert ids[0].startswith("call_")
    assert set(json.loads(arguments[0])) >= {"city", "unit"}
    assert pieces > 1


async def test_answer_after_tool_result_mentions_it(sim_client: openai.AsyncOpenAI) -> None:
    messages: Any = [
        {"role": "user", "content": "Weather in Oslo? use get_weather"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "minus 4 and snowing"},
    ]
    done = await sim_client.chat.completions.create(
        model="sim-instant", messages=messages, tools=[WEATHER_TOOL]
    )
    assert done.choices[0].finish_reason == "stop"
    content = done.choices[0].message.content or ""
    assert "get_weather" in content and "minus 4 and snowing" in content


async def test_json_schema_answer_streamed_and_not(sim_client: openai.AsyncOpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "score": {"type": "number"}},
        "required": ["title", "score"],
        "additionalProperties": False,
    }
    response_format: Any = {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}
    done = await sim_client.chat.completions.create(
        model="sim-instant", messages=HELLO, response_format=response_format
    )
    value = json.loads(done.choices[0].message.content or "")
    assert isinstance(value["title"], str) and isinstance(value["score"], int | float)
    stream = await sim_client.chat.completions.create(
        model="sim-quick", messages=HELLO, response_format=response_format, stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert set(json.loads(text)) == {"title", "score"}
    as_object = await sim_client.chat.completions.create(
        model="sim-instant", messages=HELLO, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(as_object.choices[0].message.content or ""), dict)


async def test_embeddings_float_and_base64(sim_client: openai.AsyncOpenAI) -> None:
    texts = ["the cat sat on the mat", "the cat sat on a mat", "quarterly revenue grew"]
    default = await sim_client.embeddings.create(model="sim-embed", input=texts)  # base64 wire
    floats = await sim_client.embeddings.create(
        model="sim-embed", input=texts, encoding_format="float"
    )
    assert len(default.data) == 3 and len(default.data[0].embedding) == 256
    for a, b in zip(default.data, floats.data, strict=True):
        assert a.embedding == pytest.approx(b.embedding, abs=1e-6)
    vectors = [d.embedding for d in floats.data]
    close = sum(x * y for x, y in zip(vectors[0], vectors[1], strict=True))
    far = sum(x * y for x, y in zip(vectors[0], vectors[2], strict=True))
    assert close > 0.5 > far
    small = await sim_client.embeddings.create(model="sim-embed", input="hi", dimensions=8)
    assert len(small.data[0].embedding) == 8
    assert small.usage.prompt_tokens == 1


async def test_models_are_owned_by_the_simulator(sim_client: openai.AsyncOpenAI) -> None:
    models = [m async for m in sim_client.models.list()]
    assert "sim-small" in {m.id for m in models}
    assert {m.owned_by for m in models} == {"pointsman-simulator"}
    assert (await sim_client.models.retrieve("sim-large")).id == "sim-large"


async def test_errors_map_to_sdk_exceptions(sim_client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        await sim_client.chat.completions.create(model="gpt-nope", messages=HELLO)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.RateLimitError) as limited:
        await sim_client.chat.completions.create(
            model="sim-instant", messages=HELLO, extra_headers={"x-sim-fault": "429"}
        )
    assert limited.value.response.headers["retry-after"] == "1"
    assert limited.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert limited.value.code == "rate_limit_exceeded"
    for fault in ("500", "503"):
        with pytest.raises(openai.InternalServerError) as failed:
            await sim_client.chat.completions.create(
                model="sim-instant", messages=HELLO, extra_headers={"x-sim-fault": fault}
            )
        assert failed.value.status_code == int(fault)
    with pytest.raises(openai.BadRequestError) as too_long:
        long: Any = [{"role": "user", "content": "word " * 200}]
        await sim_client.chat.completions.create(model="sim-short-context", messages=long)
    assert too_long.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as no_messages:
        await sim_client.post("/chat/completions", body={"model": "sim-instant"}, cast_to=dict)
    assert "messages" in no_messages.value.message
    assert no_messages.value.param == "messages"


async def test_wrong_api_key_is_401() -> None:
    async with SimServer(api_key="right") as server:
        base = f"http://127.0.0.1:{server.port}/v1"
        async with openai.AsyncOpenAI(base_url=base, api_key="wrong", max_retries=0) as client:
            with pytest.raises(openai.AuthenticationError) as denied:
                await client.chat.completions.create(model="sim-instant", messages=HELLO)
            assert denied.value.code == "invalid_api_key"
        async with openai.AsyncOpenAI(base_url=base, api_key="right", max_retries=0) as client:
            assert await client.chat.completions.create(model="sim-instant", messages=HELLO)


async def test_midstream_disconnect_raises(sim_client: openai.AsyncOpenAI) -> None:
    stream = await sim_client.chat.completions.create(
        model="sim-quick", messages=HELLO, stream=True, extra_headers={"x-sim-fault": "disconnect"}
    )
    tokens: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        async for chunk in stream:
            tokens.extend(c.delta.content for c in chunk.choices if c.delta.content)
    assert len(tokens) == 5  # the profile's disconnect_after_tokens
    with pytest.raises(openai.APIConnectionError):
        await sim_client.chat.completions.create(
            model="sim-instant", messages=HELLO, extra_headers={"x-sim-fault": "disconnect"}
        )


async def test_timeout_fault_and_ttft_override(sim_client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.APITimeoutError):
        await sim_client.chat.completions.create(
            model="sim-instant",
            messages=HELLO,
            extra_headers={"x-sim-fault": "timeout"},
            timeout=0.2,
        )
    started = time.monotonic()
    await sim_client.chat.completions.create(
        model="sim-instant", messages=HELLO, extra_headers={"x-sim-ttft-ms": "120"}
    )
    assert time.monotonic() - started >= 0.12
    with pytest.raises(openai.BadRequestError):
        await sim_client.chat.completions.create(
            model="sim-instant", messages=HELLO, extra_headers={"x-sim-fault": "sometimes"}
        )


async def test_outage_window_then_recovery(sim_client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as down:
        await sim_client.chat.completions.create(model="sim-outage", messages=HELLO)
    assert down.value.status_code == 503
    assert down.value.response.headers["retry-after"] == "1"
    await _sleep_until_uptime(sim_client, 0.3)
    assert await sim_client.chat.completions.create(model="sim-outage", messages=HELLO)


async def _sleep_until_uptime(client: openai.AsyncOpenAI, seconds: float) -> None:
    async with httpx.AsyncClient(base_url=str(client.base_url).removesuffix("/v1/")) as http:
        uptime = (await http.get("/_sim/stats")).json()["uptime_s"]
    await asyncio.sleep(max(0.0, seconds - uptime) + 0.02)


async def test_control_endpoints(sim_server: SimServer, sim_client: openai.AsyncOpenAI) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim_server.port}") as http:
        profiles = (await http.get("/_sim/profiles")).json()
        assert profiles["sim-flaky"]["error_rates"] == {"429": 0.1, "500": 0.05, "503": 0.05}
        changed = await http.put("/_sim/profiles/sim-instant", json={"down": True})
        assert changed.status_code == 200 and changed.json()["down"] is True
        with pytest.raises(openai.InternalServerError):
            await sim_client.chat.completions.create(model="sim-instant", messages=HELLO)
        bad = await http.put("/_sim/profiles/sim-instant", json={"ttft_ms": -5})
        assert bad.status_code == 400
        assert "ttft_ms" in bad.json()["error"]["message"]
        assert "-5" in bad.json()["error"]["message"]
        stats = (await http.get("/_sim/stats")).json()
        assert stats["models"]["sim-instant"] == {"error_503": 1}
        assert (await http.post("/_sim/reset")).json() == {"reset": True}
        assert (await http.get("/_sim/stats")).json()["total"] == 0
        assert await sim_client.chat.completions.create(model="sim-instant", messages=HELLO)
        assert sim_server.stats.model("sim-instant") == {"ok": 1}
        created = await http.put("/_sim/profiles/sim-new", json={"output_tokens": 3})
        assert created.status_code == 200
    done = await sim_client.chat.completions.create(model="sim-new", messages=HELLO)
    assert done.usage is not None and done.usage.completion_tokens == 3


async def test_flaky_profile_fails_at_its_rates_deterministically(sim_server: SimServer) -> None:
    body = {"model": "sim-flaky", "messages": HELLO, "max_tokens": 1}
    runs: list[list[int]] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim_server.port}") as http:
        for _ in range(2):
            await http.post("/_sim/reset")  # reseeds the fault generator
            fast = {"ttft_ms": 0, "tokens_per_s": 0}  # same faults, no waiting
            assert (await http.put("/_sim/profiles/sim-flaky", json=fast)).status_code == 200
            runs.append([])
            for _ in range(300):
                try:
                    response = await http.post("/v1/chat/completions", json=body)
                    runs[-1].append(response.status_code)
                except httpx.RemoteProtocolError:
                    runs[-1].append(0)  # dropped connection
    assert runs[0] == runs[1]
    counts = {status: runs[0].count(status) / 300 for status in (0, 429, 500, 503)}
    assert 0.05 < counts[429] < 0.16  # 10 % expected
    assert all(0.01 < counts[s] < 0.10 for s in (0, 500, 503))  # 5 % each expected


async def test_start_logs_that_it_is_simulated(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pointsman.simulator")
    async with SimServer() as server:
        assert f"SIMULATED provider (no real model behind it) on {server.url}" in caplog.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_module_entry_point_serves_then_stops_on_sigterm(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text("profiles:\n  my-model: {output_tokens: 2}\n")
    port = _free_port()
    command = [sys.executable, "-m", "pointsman.simulator", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--profiles", str(profiles)], stderr=subprocess.PIPE, text=True
    )
    try:
        models = _wait_for_models(port)
        assert "my-model" in models and "sim-small" in models
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "SIMULATED provider" in stderr and "stopping" in stderr


def _wait_for_models(port: int) -> list[str]:
    deadline = time.monotonic() + 15
    while True:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            return [model["id"] for model in response.json()["data"]]
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_module_entry_point_rejects_a_bad_profiles_file(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text("profiles:\n  my-model: {ttft_ms: -1}\n")
    done = subprocess.run(
        [sys.executable, "-m", "pointsman.simulator", "--profiles", str(profiles)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert f"{profiles}: profiles.my-model.ttft_ms: must be >= 0 (got -1)" in done.stderr
