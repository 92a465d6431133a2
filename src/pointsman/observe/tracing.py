"""OpenTelemetry traces: one span per request, one child span per attempt.

Spans are written after the fact, when the request completes, with the times the pipeline
recorded; nothing is opened on the request path, so tracing off costs nothing and tracing on
costs one span per call at completion. Span names and attributes follow the GenAI semantic
conventions: the request span (kind SERVER) is ``"{operation} {alias}"``, each attempt span
(kind CLIENT) ``"{operation} {upstream model}"``, with ``gen_ai.operation.name``,
``gen_ai.system``, ``gen_ai.request.model``, ``gen_ai.response.model``,
``gen_ai.usage.input_tokens`` / ``output_tokens`` and ``error.type``, plus ``pointsman.*``
(request id, deployment, cache outcome, cost, SLO verdict). A ``traceparent`` header from the
client makes the request span its child. Prompt and completion text are recorded
(``gen_ai.input.messages`` / ``gen_ai.output.messages``) only with ``capture_content: true``.

Export goes to an OTLP/HTTP collector (``otlp_endpoint``; needs ``pip install 'pointsman[otel]'``)
through a batching processor that runs on its own thread, or to any span exporter handed in.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from pointsman.core.pipeline import RequestContext
from pointsman.errors import ConfigError
from pointsman.observe.logs import body_text
from pointsman.observe.outcome import Outcome
from pointsman.observe.settings import TracingSettings

log = logging.getLogger("pointsman.observe")


def otlp_exporter(settings: TracingSettings) -> SpanExporter:
    """The OTLP/HTTP exporter. Raises :class:`ConfigError` when the extra is not installed."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ConfigError(
            [
                "observe.tracing.otlp_endpoint: the OTLP exporter is not installed; "
                "run pip install 'pointsman[otel]'"
            ]
        ) from None
    return OTLPSpanExporter(endpoint=settings.otlp_endpoint, headers=dict(settings.headers))


class Tracer:
    """Writes a finished request's spans.

    Args:
        settings: the ``observe.tracing`` section.
        exporter: where spans go; None builds the OTLP exporter when ``otlp_endpoint`` is set.
        batch: export from a background thread in batches (False: synchronously, for tests).
    """

    def __init__(
        self, settings: TracingSettings, exporter: SpanExporter | None = None, *, batch: bool = True
    ) -> None:
        self.settings = settings
        resource = Resource.create({"service.name": settings.service_name})
        sampler = ParentBased(TraceIdRatioBased(settings.sample_ratio))
        self.provider = TracerProvider(resource=resource, sampler=sampler)
        if exporter is None and settings.otlp_endpoint is not None:
            exporter = otlp_exporter(settings)
        if exporter is not None:
            processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
            self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("pointsman")
        self.propagator = TraceContextTextMapPropagator()

    def record(self, ctx: RequestContext, out: Outcome) -> None:
        """The request's span and its attempts' spans, with the pipeline's own times."""
        offset = time.time_ns() - time.perf_counter_ns()

        def ns(seconds: float) -> int:
            return offset + int(seconds * 1e9)

        finished = ctx.finished_at or time.perf_counter()
        parent = self.propagator.extract(ctx.headers)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": out.kind,
            "gen_ai.request.model": out.alias,
            "pointsman.request_id": out.request_id,
            "pointsman.cache": out.cache,
            "pointsman.attempts": out.attempts,
            "pointsman.slo.class": out.slo_class,
            "pointsman.slo.met": out.met,
            "http.response.status_code": out.status,
        }
        if out.deployment:
            attributes.update(
                {
                    "gen_ai.system": out.system,
                    "gen_ai.response.model": out.model,
                    "gen_ai.usage.input_tokens": out.input_tokens,
                    "gen_ai.usage.output_tokens": out.output_tokens,
                    "pointsman.deployment": out.deployment,
                    "pointsman.cost_usd": out.cost / 1e6,
                }
            )
        if out.ttft is not None:
            attributes["gen_ai.server.time_to_first_token"] = out.ttft
        if ctx.chat is not None and ctx.chat.output_limit is not None:
            attributes["gen_ai.request.max_tokens"] = ctx.chat.output_limit
        if self.settings.capture_content:
            attributes.update(_content(ctx))
        span = self.tracer.start_span(
            f"{out.kind} {out.alias}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            start_time=ns(ctx.started),
        )
        inside = trace.set_span_in_context(span)
        for attempt in ctx.attempts:
            if attempt.number == 0:
                span.add_event(
                    "skipped",
                    {"pointsman.deployment": attempt.deployment, "reason": attempt.cause or ""},
                )
                continue
            model = attempt.deployment.partition("/")[2]
            ok = attempt.outcome == "ok"
            end = finished if ok and out.streamed else attempt.started + attempt.latency
            child_attributes: dict[str, Any] = {
                "gen_ai.operation.name": out.kind,
                "gen_ai.request.model": model,
                "gen_ai.response.model": model,
                "pointsman.deployment": attempt.deployment,
                "pointsman.provider": attempt.provider,
                "pointsman.attempt.number": attempt.number,
            }
            if attempt.deployment == out.deployment:
                child_attributes["gen_ai.system"] = out.system
            if attempt.status is not None:
                child_attributes["http.response.status_code"] = attempt.status
            child = self.tracer.start_span(
                f"{out.kind} {model}",
                context=inside,
                kind=SpanKind.CLIENT,
                attributes=child_attributes,
                start_time=ns(attempt.started),
            )
            if not ok:
                child.set_attribute("error.type", attempt.cause or attempt.outcome)
                child.set_status(Status(StatusCode.ERROR, attempt.cause or attempt.outcome))
            child.end(end_time=ns(end))
        if out.status >= 400:
            span.set_attribute("error.type", out.code)
            if out.status >= 500:
                span.set_status(Status(StatusCode.ERROR, out.message[:200]))
        span.end(end_time=ns(finished))

    def shutdown(self) -> None:
        """Flush and stop the exporter (waits for the batch thread)."""
        self.provider.shutdown()


def _content(ctx: RequestContext) -> dict[str, str]:
    attributes: dict[str, str] = {}
    messages = ctx.body.get("messages") if ctx.kind == "chat" else ctx.body.get("input")
    if messages is not None:
        attributes["gen_ai.input.messages"] = body_text(messages)
    body = getattr(ctx.result, "body", None)
    if isinstance(body, bytes | bytearray):
        attributes["gen_ai.output.messages"] = body_text(body)
    return attributes
