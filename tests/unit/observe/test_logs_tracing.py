"""JSON logs with request ids and guarded bodies; spans per request and per attempt."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from dataclasses import replace

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from pointsman.core.pipeline import Attempt
from pointsman.observe.aggregate import Telemetry
from pointsman.observe.logs import REQUEST_ID, JsonFormatter, JsonLines, configure_logging, redact
from pointsman.observe.settings import LoggingSettings, TracingSettings
from pointsman.observe.stage import Observe
from pointsman.observe.tracing import Tracer

from .recorded import LARGE, SMALL, TEAM, context
from .test_telemetry import VIEW, outcome

SECRET = "pm-very-secret-virtual-key"


def approx(value: float) -> object:
    return pytest.approx(value, abs=1e-6)


def capture(settings: LoggingSettings) -> tuple[io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("pointsman").addHandler(handler)
    return stream, handler


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_line_carries_the_request_id_being_handled() -> None:
    undo, _ = configure_logging(LoggingSettings(level="info"))
    stream, handler = capture(LoggingSettings())
    try:
        token = REQUEST_ID.set("req-42")
        logging.getLogger("pointsman.reliability").info(
            '{"event":"fallback","from":"sim/a","cause":"http_503"}'
        )
        REQUEST_ID.reset(token)
        logging.getLogger("pointsman.other").warning("plain %s", "text")
    finally:
        logging.getLogger("pointsman").removeHandler(handler)
        undo()
    first, second = lines(stream)
    assert first["request_id"] == "req-42"
    assert (first["message"], first["from"], first["cause"]) == ("fallback", "sim/a", "http_503")
    assert first["level"] == "info"
    assert first["ts"].endswith("Z")
    assert "request_id" not in second
    assert second["message"] == "plain text"


def test_request_line_fields_and_no_bodies_by_default() -> None:
    stage = Observe(Telemetry(), VIEW, LoggingSettings(log_bodies=False))
    ctx = context(
        caller=replace(TEAM, log_bodies=True),
        headers={"authorization": f"Bearer {SECRET}"},
        first_token=100.1,
        finished=100.5,
    )
    fields = stage.fields(ctx, outcome(ctx))
    assert fields["alias"] == "fast"
    assert fields["deployment"] == SMALL.name
    assert fields["ttft_ms"] == 100.0
    assert fields["slo"] == "met"
    assert fields["key"] == "key_1"
    assert "request_body" not in fields
    assert SECRET not in json.dumps(fields)


def test_bodies_need_the_switch_and_the_keys_consent_and_never_show_secrets() -> None:
    body = {"model": "fast", "messages": [{"role": "user", "content": "hello"}], "api_key": SECRET}
    on = Observe(Telemetry(), VIEW, LoggingSettings(log_bodies=True))
    consenting = context(caller=replace(TEAM, log_bodies=True), body=body)
    fields = on.fields(consenting, outcome(consenting))
    assert "hello" in fields["request_body"]
    assert SECRET not in fields["request_body"]
    assert '"api_key":"[redacted]"' in fields["request_body"]
    silent = context(caller=TEAM, body=body)  # the key did not consent
    assert "request_body" not in on.fields(silent, outcome(silent))


def test_redact_walks_nested_structures() -> None:
    value = {"a": [{"Authorization": "x", "b": 1}], "password": "p", "tokens": 5}
    assert redact(value) == {
        "a": [{"Authorization": "[redacted]", "b": 1}],
        "password": "[redacted]",
        "tokens": 5,
    }


def test_json_mode_installs_and_removes_its_handler() -> None:
    root = logging.getLogger("pointsman")
    before = list(root.handlers), root.propagate
    undo, writer = configure_logging(LoggingSettings(format="json"))
    assert writer is not None
    assert any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
    assert root.propagate is False
    undo()
    assert (list(root.handlers), root.propagate) == before


def spans_of(settings: TracingSettings, ctx):  # type: ignore[no-untyped-def]
    exporter = InMemorySpanExporter()
    tracer = Tracer(settings, exporter, batch=False)
    tracer.record(ctx, outcome(ctx))
    tracer.shutdown()
    return {span.name: span for span in exporter.get_finished_spans()}


def test_one_span_per_request_and_one_per_attempt() -> None:
    attempts = [
        Attempt(
            LARGE.name,
            1,
            100.0,
            latency=0.05,
            outcome="upstream_unavailable",
            cause="http_503",
            provider="sim",
        ),
        Attempt(SMALL.name, 2, 100.06, latency=0.04, provider="sim"),
    ]
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    ctx = context(
        alias="smart",
        first_token=100.1,
        finished=100.5,
        attempts=attempts,
        headers={"traceparent": traceparent},
    )
    spans = spans_of(TracingSettings(enabled=True), ctx)
    assert set(spans) == {"chat smart", "chat sim-large", "chat sim-small"}
    root, failed, served = spans["chat smart"], spans["chat sim-large"], spans["chat sim-small"]
    assert root.kind is SpanKind.SERVER
    assert format(root.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert root.parent is not None and format(root.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert failed.parent.span_id == root.context.span_id
    assert served.parent.span_id == root.context.span_id
    assert failed.kind is SpanKind.CLIENT
    assert root.attributes["gen_ai.operation.name"] == "chat"
    assert root.attributes["gen_ai.request.model"] == "smart"
    assert root.attributes["gen_ai.response.model"] == "sim-small"
    assert root.attributes["gen_ai.system"] == "openai"
    assert root.attributes["gen_ai.usage.output_tokens"] == 10
    assert failed.attributes["error.type"] == "http_503"
    assert failed.status.status_code is StatusCode.ERROR
    assert (root.end_time - root.start_time) / 1e9 == approx(0.5)
    assert (failed.end_time - failed.start_time) / 1e9 == approx(0.05)
    assert (served.end_time - served.start_time) / 1e9 == approx(0.44)  # to the last token
    assert "gen_ai.input.messages" not in root.attributes


def test_prompt_text_only_when_enabled() -> None:
    ctx = context(first_token=100.1, finished=100.5)
    spans = spans_of(TracingSettings(enabled=True, capture_content=True), ctx)
    assert "hi" in spans["chat fast"].attributes["gen_ai.input.messages"]


async def test_request_lines_of_one_loop_turn_are_written_together() -> None:
    class Stream(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            Stream.writes += 1
            return super().write(text)

    stream = Stream()
    writer = JsonLines(stream)
    writer.write({"event": "request", "alias": "fast", "status": 200}, "req-1")
    writer.write({"event": "request", "alias": "smart", "status": 502}, "req-2")
    assert stream.getvalue() == ""  # not yet: at the end of this loop turn
    await asyncio.sleep(0)
    first, second = lines(stream)
    assert Stream.writes == 1
    assert (first["request_id"], first["alias"], first["logger"]) == (
        "req-1",
        "fast",
        "pointsman.requests",
    )
    assert (second["request_id"], second["status"]) == ("req-2", 502)
    assert first["ts"].endswith("Z") and first["level"] == "info"
