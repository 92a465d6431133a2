"""Typed configuration: YAML → validated structs, with errors that name the path and the fix.

Shape::

    server: {master_key: env:POINTSMAN_MASTER_KEY}
    providers:
      sim: {protocol: openai, base_url: "http://127.0.0.1:9100/v1", api_key: env:SIM_KEY}
    models:            # aliases clients send as "model"
      fast:  [{provider: sim, model: sim-small}]
      smart: {deployments: [{provider: sim, model: sim-large, weight: 1}]}

Secrets are only ever given by reference (``env:NAME``) and are resolved when the config loads,
so a missing variable is a load error, not a failure on the first request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import msgspec
import yaml
from msgspec import Meta, Struct

from pointsman.cache.settings import CacheSettings
from pointsman.errors import ConfigError
from pointsman.governance.settings import GovernanceSettings, StateSettings
from pointsman.observe.settings import LoggingSettings, ObserveSettings
from pointsman.reliability.settings import HealthCheckSettings, ReliabilitySettings
from pointsman.routing.settings import (
    DeploymentClass,
    Policy,
    RoutingSettings,
    ShadowSettings,
    check_aliases,
)
from pointsman.store.settings import StoreSettings

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
__all__ = ["Config", "ConfigError", "Secret", "load_config", "parse_config"]

PositiveFloat = Annotated[float, Meta(gt=0)]


class Secret(str):
    """A resolved secret: behaves as a ``str`` but never shows its value in reprs or logs."""

    def __repr__(self) -> str:
        return "Secret('***')"


class ServerConfig(Struct, forbid_unknown_fields=True, omit_defaults=True):
    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 4000
    auth: Literal["key", "none"] = "key"
    master_key: str | None = None
    max_body_bytes: Annotated[int, Meta(ge=1024)] = DEFAULT_MAX_BODY_BYTES
    workers: Annotated[int, Meta(ge=1, le=64)] = 1


class Timeouts(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    connect: PositiveFloat = 5.0
    read: PositiveFloat = 600.0  # between bytes; a reasoning model may think for minutes
    # Streams only: no first token after `ttft` s abandons the attempt for the next candidate
    # while nothing has reached the client (never on the last one, which waits up to `total`).
    ttft: PositiveFloat = 2.0
    idle: PositiveFloat = 30.0  # between two chunks of a stream
    total: PositiveFloat = 600.0  # one attempt, first byte sent to last byte received


class ProviderConfig(Struct, forbid_unknown_fields=True, omit_defaults=True):
    protocol: str
    base_url: str
    api_key: str | None = None
    headers: dict[str, str] = {}
    timeouts: Timeouts = Timeouts()
    max_connections: Annotated[int, Meta(ge=1)] = 1000
    stream_usage: bool = True  # ask upstreams for a usage chunk when streaming
    options: dict[str, Any] = {}  # protocol-specific settings (e.g. an API version)
    health_check: HealthCheckSettings | None = None  # None: reliability.health_check


class DeploymentConfig(Struct, forbid_unknown_fields=True, omit_defaults=True):
    provider: str
    model: str
    weight: Annotated[float, Meta(ge=0)] = 1.0
    region: str | None = None  # shown in attempt records and /health/deployments
    # Where the data goes: closed_api (the default: unknown means the most exposed),
    # managed_open, self_hosted or air_gapped; see routing.data_classes.
    data_class: DeploymentClass = "closed_api"


class AliasConfig(Struct, forbid_unknown_fields=True, omit_defaults=True):
    deployments: list[DeploymentConfig] = []  # none for a composite policy (routing.settings)
    description: str | None = None
    fallbacks: list[str] = []  # aliases tried in order when every deployment here failed
    on_context_window_exceeded: str | None = None  # alias with a larger context window
    on_content_policy: str | None = None  # alias tried when a provider's filter refuses
    hedge_after: PositiveFloat | None = None  # None: reliability.hedge_after
    policy: Policy | None = None  # None: weighted (see routing/settings.py)
    shadow: ShadowSettings | None = None  # mirror a sample of requests to a challenger


AliasSpec = list[DeploymentConfig] | AliasConfig  # the short form is a bare list


class Config(Struct, forbid_unknown_fields=True, omit_defaults=True):
    providers: dict[str, ProviderConfig]
    models: dict[str, AliasSpec]
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    state: StateSettings = msgspec.field(default_factory=StateSettings)
    governance: GovernanceSettings = msgspec.field(default_factory=GovernanceSettings)
    reliability: ReliabilitySettings = msgspec.field(default_factory=ReliabilitySettings)
    observe: ObserveSettings = msgspec.field(default_factory=ObserveSettings)
    logging: LoggingSettings = msgspec.field(default_factory=LoggingSettings)
    routing: RoutingSettings = msgspec.field(default_factory=RoutingSettings)
    cache: CacheSettings = msgspec.field(default_factory=CacheSettings)
    catalog: dict[str, Any] = {}  # price overrides, same shape as the packaged catalog.yaml

    def aliases(self) -> dict[str, AliasConfig]:
        """Every alias in its long form."""
        return {
            name: spec if isinstance(spec, AliasConfig) else AliasConfig(deployments=spec)
            for name, spec in self.models.items()
        }


_PATH = re.compile(r" - at `\$(.*)`$")
T = TypeVar("T")


def _explain(error: msgspec.ValidationError, prefix: str) -> str:
    text = str(error)
    match = _PATH.search(text)
    suffix = match.group(1) if match else ""
    path = (prefix + suffix).lstrip(".") or "(top level)"
    detail = _PATH.sub("", text)
    if detail.startswith("Object contains unknown field"):
        field = detail.split("`")[1]
        return f"{path}.{field}: unknown setting '{field}'; remove it or check its spelling"
    if detail.startswith("Object missing required field"):
        field = detail.split("`")[1]
        where = f"{path}.{field}" if path != "(top level)" else field
        return f"{where}: required setting is missing; add it"
    return f"{path}: {detail[0].lower()}{detail[1:]}"


def _convert(value: Any, kind: Any, path: str, problems: list[str]) -> Any:
    """``msgspec.convert`` one entry, recording a path-named problem instead of raising."""
    try:
        return msgspec.convert(value, kind, strict=True)
    except msgspec.ValidationError as error:
        problems.append(_explain(error, path))
        return None


def _structure(data: dict[str, Any]) -> tuple[Config | None, list[str]]:
    """Type-check section by section so that each problem has its exact path and all are found."""
    problems: list[str] = []
    sections = Config.__struct_fields__
    unknown = set(data) - set(sections)
    problems += [f"{k}: unknown section '{k}'; known: {', '.join(sections)}" for k in unknown]
    server = _convert(data.get("server") or {}, ServerConfig, "server", problems)
    store = _convert(data.get("store") or {}, StoreSettings, "store", problems)
    problems += store.problems() if store is not None else []
    state = _convert(data.get("state") or {}, StateSettings, "state", problems)
    governance = _convert(data.get("governance") or {}, GovernanceSettings, "governance", problems)
    reliability = _convert(
        data.get("reliability") or {}, ReliabilitySettings, "reliability", problems
    )
    problems += reliability.problems() if reliability is not None else []
    observe = _convert(data.get("observe") or {}, ObserveSettings, "observe", problems)
    problems += observe.problems() if observe is not None else []
    logging_ = _convert(data.get("logging") or {}, LoggingSettings, "logging", problems)
    routing = _convert(data.get("routing") or {}, RoutingSettings, "routing", problems)
    problems += routing.problems() if routing is not None else []
    catalog = _convert(data.get("catalog") or {}, dict[str, Any], "catalog", problems)
    cache = _convert(data.get("cache") or {}, CacheSettings, "cache", problems)
    providers: dict[str, ProviderConfig] = {}
    raw_providers = _convert(
        data.get("providers"), dict[str, dict[str, Any]], "providers", problems
    )
    for name, spec in (raw_providers or {}).items():
        providers[name] = _convert(spec, ProviderConfig, f"providers.{name}", problems)
    models: dict[str, AliasSpec] = {}
    raw_models = _convert(data.get("models"), dict[str, Any], "models", problems)
    for alias, spec in (raw_models or {}).items():
        models[alias] = _convert(spec, AliasSpec, f"models.{alias}", problems)
    if problems:
        return None, problems
    config = Config(
        providers=providers,
        models=models,
        server=server,
        store=store,
        state=state,
        governance=governance,
        reliability=reliability,
        observe=observe,
        logging=logging_,
        routing=routing,
        cache=cache,
        catalog=catalog,
    )
    return config, []


def _resolve_secret(
    value: str | None, path: str, problems: list[str], env: Mapping[str, str]
) -> Secret | None:
    if value is None:
        return None
    if not value.startswith("env:"):
        problems.append(
            f"{path}: secrets are given by reference only; write 'env:NAME' and export NAME"
        )
        return None
    name = value[4:]
    if name not in env:
        problems.append(f"{path}: environment variable {name} is not set; export it")
        return None
    return Secret(env[name])


def _check(config: Config, env: Mapping[str, str], protocols: tuple[str, ...]) -> list[str]:
    problems: list[str] = []
    server = config.server
    if server.auth == "key":
        if server.master_key is None:
            problems.append(
                "server.master_key: required when server.auth is 'key'; set it to "
                "'env:POINTSMAN_MASTER_KEY', or set server.auth: none for local use only"
            )
        else:
            resolved = _resolve_secret(server.master_key, "server.master_key", problems, env)
            server.master_key = resolved
    for name, provider in config.providers.items():
        path = f"providers.{name}"
        if provider.protocol not in protocols:
            problems.append(
                f"{path}.protocol: unknown protocol '{provider.protocol}'; "
                f"known: {', '.join(protocols)}"
            )
        url = urlsplit(provider.base_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            problems.append(
                f"{path}.base_url: '{provider.base_url}' is not an http(s) URL; "
                "write e.g. http://127.0.0.1:9100/v1"
            )
        provider.api_key = _resolve_secret(provider.api_key, f"{path}.api_key", problems, env)
        if provider.protocol in protocols:
            from pointsman.providers.registry import option_problems

            problems += option_problems(name, provider)
    problems += _check_fallbacks(config)
    problems += config.cache.problems(set(config.models))
    problems += _check_observe(config, env)
    problems += check_aliases(config.aliases())
    if not config.models:
        problems.append(
            "models: no aliases defined; add at least one, e.g. fast: [{provider: ..., model: ...}]"
        )
    known = ", ".join(config.providers) or "(none defined)"
    for alias, spec in config.aliases().items():
        for i, deployment in enumerate(spec.deployments):
            where = f"models.{alias}" + (
                f".deployments[{i}]" if isinstance(config.models[alias], AliasConfig) else f"[{i}]"
            )
            if deployment.provider not in config.providers:
                problems.append(
                    f"{where}.provider: unknown provider '{deployment.provider}'; known: {known}"
                )
        if spec.deployments and sum(d.weight for d in spec.deployments) <= 0:
            problems.append(f"models.{alias}: every weight is 0; give one deployment a weight > 0")
    for i, rule in enumerate(config.governance.downgrades):
        if rule.to not in config.models:
            problems.append(
                f"governance.downgrades[{i}].to: unknown alias '{rule.to}'; "
                f"known: {', '.join(config.models)}"
            )
    return problems


def _check_observe(config: Config, env: Mapping[str, str]) -> list[str]:
    """The observe section's secrets (resolved in place) and the aliases it names."""
    problems = config.observe.check(config.models)
    metrics, tracing = config.observe.metrics, config.observe.tracing
    metrics.token = _resolve_secret(metrics.token, "observe.metrics.token", problems, env)
    for name, value in tracing.headers.items():
        where = f"observe.tracing.headers.{name}"
        tracing.headers[name] = _resolve_secret(value, where, problems, env) or ""
    return problems


def _check_fallbacks(config: Config) -> list[str]:
    """Every alias a fallback setting names must exist and differ from the alias itself."""
    problems: list[str] = []
    known = ", ".join(config.models)
    for alias, spec in config.aliases().items():
        named = [(f"fallbacks[{i}]", target) for i, target in enumerate(spec.fallbacks)]
        named += [
            (setting, target)
            for setting in ("on_context_window_exceeded", "on_content_policy")
            if (target := getattr(spec, setting)) is not None
        ]
        for setting, target in named:
            where = f"models.{alias}.{setting}"
            if target == alias:
                problems.append(f"{where}: an alias cannot fall back to itself; name another")
            elif target not in config.models:
                problems.append(f"{where}: unknown alias '{target}'; known: {known}")
    return problems


def parse_config(
    data: Any,
    *,
    source: str = "config",
    env: Mapping[str, str] | None = None,
    protocols: tuple[str, ...] | None = None,
) -> Config:
    """Validate already-parsed YAML/JSON data. Raises :class:`ConfigError` listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(["(top level): expected a mapping with providers: and models:"], source)
    config, problems = _structure(data)
    if config is None:
        raise ConfigError(problems, source)
    if protocols is None:
        from pointsman.providers.registry import protocol_names

        protocols = protocol_names()
    problems = _check(config, os.environ if env is None else env, protocols)
    if problems:
        raise ConfigError(problems, source)
    return config


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a YAML config file. Raises :class:`ConfigError`."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"(file): cannot read {source}: {error.strerror}"], source) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError([f"(yaml) {where}: {problem}"], source) from None
    return parse_config(data, source=source, env=env)
