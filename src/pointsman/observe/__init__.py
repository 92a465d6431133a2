"""Observability: Prometheus metrics, OpenTelemetry traces, structured logs, SLOs and goodput.

The process's :class:`~pointsman.observe.service.Observability` owns it all; each config
snapshot gets an :class:`~pointsman.observe.stage.Observe` stage. This package's ``__init__``
imports nothing, because ``config.py`` reads :mod:`pointsman.observe.settings` while loading.
"""
