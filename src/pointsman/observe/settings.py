"""The ``observe:`` and ``logging:`` sections of the config.

::

    observe:
      enabled: true                 # false: no observe stage (for comparisons; /metrics stays)
      metrics:                      # GET /metrics (Prometheus text format)
        token: env:METRICS_TOKEN    # a bearer token just for scrapers (optional)
        allow: [127.0.0.1, 10.0.0.0/8]   # client addresses that may scrape without a token
      slo:
        default_class: interactive
        classes:                    # targets per traffic class (interactive is built in)
          interactive: {ttft_ms: 500, tpot_ms: 50}
          batch: {ttft_ms: 10000, tpot_ms: 250}
        aliases: {bulk: batch}      # alias -> class; unlisted aliases get default_class
        window_seconds: 300         # compliance, percentiles and KPIs over this sliding window
      tiers: {sim/sim-large: premium}  # deployment -> routing tier (default: from catalog prices)
      tracing:
        enabled: false              # one span per request, a child per attempt
        otlp_endpoint: http://127.0.0.1:4318/v1/traces   # needs the `otel` extra
        sample_ratio: 1.0
        capture_content: false      # prompt and completion text on spans
      dashboard: true               # /ui and /ui/api/summary (admin key)
    logging:
      format: json                  # json | text
      level: info                   # the level of the "pointsman" loggers (unset: unchanged)
      requests: true                # one log line per request
      log_bodies: false             # bodies only for keys whose metadata says log_bodies: true

The metrics endpoint always accepts the master key; with neither a token nor an allow-list it
takes nothing else (``server.auth: none`` opens it). This module imports nothing from the rest of
the package so that ``config.py`` can use it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Annotated, Literal

from msgspec import Meta, Struct, field

Millis = Annotated[float, Meta(gt=0, le=3_600_000)]
INTERACTIVE = "interactive"


class SloClass(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """Latency targets of one class of traffic. A request meets its SLO when its time to first
    token is at most ``ttft_ms`` and its time per output token at most ``tpot_ms``."""

    ttft_ms: Millis = 500.0
    tpot_ms: Millis = 50.0


def _default_classes() -> dict[str, SloClass]:
    return {INTERACTIVE: SloClass()}


class SloSettings(Struct, forbid_unknown_fields=True, omit_defaults=True):
    default_class: str = INTERACTIVE
    classes: dict[str, SloClass] = field(default_factory=_default_classes)
    aliases: dict[str, str] = {}
    window_seconds: Annotated[int, Meta(ge=10, le=3600)] = 300

    def targets(self) -> dict[str, SloClass]:
        """Every class, the built-in ``interactive`` included unless redefined."""
        return {INTERACTIVE: SloClass(), **self.classes}

    def class_of(self, alias: str) -> str:
        return self.aliases.get(alias, self.default_class)


class MetricsSettings(Struct, forbid_unknown_fields=True, omit_defaults=True):
    token: str | None = None  # a secret by reference (env:NAME), resolved when the config loads
    allow: list[str] = []  # addresses or networks (CIDR) that may scrape without a token


class TracingSettings(Struct, forbid_unknown_fields=True, omit_defaults=True):
    enabled: bool = False
    otlp_endpoint: str | None = None  # None with enabled: spans go to no exporter (tests add one)
    headers: dict[str, str] = {}  # sent to the collector; values are secrets by reference
    service_name: str = "pointsman"
    sample_ratio: Annotated[float, Meta(ge=0, le=1)] = 1.0
    capture_content: bool = False


class ObserveSettings(Struct, forbid_unknown_fields=True, omit_defaults=True):
    enabled: bool = True  # false: no observe stage at all (metrics, request logs, traces)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    slo: SloSettings = field(default_factory=SloSettings)
    tiers: dict[str, str] = {}
    tracing: TracingSettings = field(default_factory=TracingSettings)
    dashboard: bool = True

    def problems(self) -> list[str]:
        """What is wrong inside the section alone (aliases are checked by :meth:`check`)."""
        problems: list[str] = []
        slo = self.slo
        known = slo.targets()
        if slo.default_class not in known:
            problems.append(
                f"observe.slo.default_class: unknown class '{slo.default_class}'; "
                f"known: {', '.join(known)}"
            )
        for alias, name in slo.aliases.items():
            if name not in known:
                problems.append(
                    f"observe.slo.aliases.{alias}: unknown class '{name}'; "
                    f"known: {', '.join(known)}"
                )
        for i, entry in enumerate(self.metrics.allow):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                problems.append(
                    f"observe.metrics.allow[{i}]: '{entry}' is not an address or network; "
                    "write e.g. 127.0.0.1 or 10.0.0.0/8"
                )
        endpoint = self.tracing.otlp_endpoint
        if endpoint is not None and not endpoint.startswith(("http://", "https://")):
            problems.append(
                "observe.tracing.otlp_endpoint: not an http(s) URL; write e.g. "
                "http://127.0.0.1:4318/v1/traces"
            )
        return problems

    def check(self, aliases: Iterable[str]) -> list[str]:
        """Aliases named in this section that the config does not define."""
        known = set(aliases)
        return [
            f"observe.slo.aliases.{alias}: unknown alias; known: {', '.join(sorted(known))}"
            for alias in self.slo.aliases
            if alias not in known
        ]


class LoggingSettings(Struct, forbid_unknown_fields=True, omit_defaults=True):
    format: Literal["json", "text"] = "text"
    level: Literal["debug", "info", "warning", "error"] | None = None
    requests: bool = True
    log_bodies: bool = False
