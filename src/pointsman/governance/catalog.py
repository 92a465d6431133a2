"""The model catalog: what each model costs, how much it can take, and what it can do.

The catalog ships with the package (``pointsman/data/catalog.yaml``) and can be overridden from
the gateway config. Prices are USD per million tokens, held as :class:`~decimal.Decimal` so that
cost arithmetic is exact (see :mod:`pointsman.governance.costs`). Every catalog has a
``version``; each cost record keeps it, so a bill can always be explained by the prices in force.

Lookup accepts what deployments and clients actually write: a bare model name (``gpt-4o``), a
dated snapshot (``gpt-4o-2024-08-06``, ``claude-sonnet-4-20250514``), a listed alias, or a
``provider/model`` id (``openai/gpt-4o``; the prefix may also be a config provider name such as
``sim/sim-small``). An unknown model gives ``None``, never an exception.

Errors in the YAML (the packaged file or an override) raise :class:`CatalogError`, a
:class:`~pointsman.config.ConfigError` whose problems each name the YAML path at fault, e.g.
``providers.openai.models.gpt-4o.input: expected a number >= 0``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml
from msgspec import Meta, Struct

from pointsman.errors import ConfigError

__all__ = ["DEFAULT_PATH", "Catalog", "CatalogError", "LongContextTier", "ModelInfo", "Rates"]

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "catalog.yaml"
_PRICE_FIELDS = ("input", "output", "cached_input", "cache_write", "reasoning")
_DATED = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$")
_AT = re.compile(r" - at `\$(.*)`$")

Tokens = Annotated[int, Meta(ge=0)]


class CatalogError(ConfigError):
    """The catalog (or an override of it) is invalid; ``problems`` name the YAML paths."""


class LongContextTier(Struct, forbid_unknown_fields=True, frozen=True):
    """Prices for a whole request whose prompt exceeds ``threshold`` tokens (Google's rule)."""

    threshold: Annotated[int, Meta(ge=1)]
    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None


class Rates(Struct, frozen=True):
    """The five per-million-token prices that apply to one request, fallbacks resolved."""

    input: Decimal
    cached_input: Decimal
    cache_write: Decimal
    output: Decimal
    reasoning: Decimal
    long_context: bool = False


class ModelInfo(Struct, forbid_unknown_fields=True, frozen=True):
    """One model at one provider. Prices are USD per million tokens.

    ``cached_input`` / ``cache_write`` / ``reasoning`` are None where the provider has no
    separate price: such tokens are billed at the input (or output) price.
    ``provider``, ``name``, ``protocol`` and ``catalog_version`` are filled in on load.
    """

    source: str
    input: Decimal
    output: Decimal
    context_window: Annotated[int, Meta(ge=1)]
    max_output: Tokens
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None
    long_context: LongContextTier | None = None
    batch_discount: Decimal = Decimal(0)
    kind: Literal["chat", "embedding"] = "chat"
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("text",)
    supports_tools: bool = False
    supports_json_schema: bool = False
    supports_reasoning: bool = False
    aliases: tuple[str, ...] = ()
    note: str | None = None
    provider: str = ""
    name: str = ""
    protocol: str = ""
    catalog_version: str = ""

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.name}"

    @property
    def supports_vision(self) -> bool:
        return "image" in self.input_modalities

    def rates(self, prompt_tokens: int) -> Rates:
        """The prices for a request with ``prompt_tokens`` (cache reads and writes included)."""
        tier = self.long_context
        if tier is not None and prompt_tokens > tier.threshold:
            return Rates(
                input=tier.input,
                cached_input=_first(tier.cached_input, tier.input),
                cache_write=_first(tier.cache_write, tier.input),
                output=tier.output,
                reasoning=_first(tier.reasoning, tier.output),
                long_context=True,
            )
        return Rates(
            input=self.input,
            cached_input=_first(self.cached_input, self.input),
            cache_write=_first(self.cache_write, self.input),
            output=self.output,
            reasoning=_first(self.reasoning, self.output),
        )


def _first(value: Decimal | None, fallback: Decimal) -> Decimal:
    return fallback if value is None else value


class Catalog:
    """An immutable, indexed set of :class:`ModelInfo`. Build it with :meth:`load`."""

    def __init__(self, version: str, models: Iterable[ModelInfo]) -> None:
        self.version = version
        self._models = tuple(models)
        self._by_id: dict[str, ModelInfo] = {}
        self._by_name: dict[str, list[ModelInfo]] = {}
        for info in self._models:
            for name in (info.name, *info.aliases):
                self._by_id.setdefault(f"{info.provider}/{name}".lower(), info)
                self._by_name.setdefault(name.lower(), []).append(info)

    @classmethod
    def load(
        cls, path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Catalog:
        """Read the catalog at ``path`` (default: the packaged one) and apply ``overrides``.

        ``overrides`` has the file's own shape (``{providers: {openai: {models: {gpt-4o:
        {input: 2.0}}}}}``); it is merged key by key, so it may change single prices or add whole
        models. Unless it sets ``version`` itself, an override yields the version
        ``<file version>+<8 hex digits of its hash>``, so records priced with it stay traceable.
        Raises :class:`CatalogError` naming every invalid YAML path.
        """
        source = str(path or DEFAULT_PATH)
        try:
            data = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
        except OSError as error:
            raise CatalogError(
                [f"(file): cannot read {source}: {error.strerror}"], source
            ) from None
        except yaml.YAMLError as error:
            raise CatalogError([f"(yaml): {error}"], source) from None
        if not isinstance(data, dict):
            raise CatalogError(["(top level): expected a mapping with version: and providers:"])
        if overrides:
            data = _merge(data, overrides)
            if "version" not in overrides:
                digest = hashlib.sha256(json.dumps(overrides, sort_keys=True, default=str).encode())
                data["version"] = f"{data.get('version')}+{digest.hexdigest()[:8]}"
        return cls._parse(data, source)

    @classmethod
    def from_mapping(cls, data: Any, source: str = "catalog") -> Catalog:
        """A catalog from already-parsed YAML data. Raises :class:`CatalogError`."""
        if not isinstance(data, dict):
            raise CatalogError(["(top level): expected a mapping with version: and providers:"])
        return cls._parse(data, source)

    @classmethod
    def _parse(cls, data: dict[str, Any], source: str) -> Catalog:
        problems: list[str] = []
        version = data.get("version")
        if not isinstance(version, str) or not version:
            problems.append("version: required; a non-empty string such as '2026-11-21.1'")
        problems += [
            f"{k}: unknown section; known: version, providers"
            for k in data.keys() - {"version", "providers"}
        ]
        providers = data.get("providers")
        if not isinstance(providers, dict) or not providers:
            problems.append("providers: required; a mapping of provider name to protocol/models")
            providers = {}
        models: list[ModelInfo] = []
        for provider, spec in providers.items():
            models += _parse_provider(str(provider), spec, str(version), problems)
        if problems:
            raise CatalogError(problems, source)
        return cls(str(version), models)

    def lookup(self, model: str, provider_protocol: str | None = None) -> ModelInfo | None:
        """The catalog entry for ``model``, or None when the catalog does not know it.

        ``provider_protocol`` (``openai``, ``anthropic``, ``gemini``...) breaks ties when one
        bare name is listed under several providers; without a match the first listed wins.
        Matching is case-insensitive; dated snapshot suffixes fall back to the undated entry.
        """
        key = model.strip().lower()
        found = self._match(key, provider_protocol)
        if found is None and (undated := _DATED.sub("", key)) != key:
            found = self._match(undated, provider_protocol)
        return found

    def _match(self, key: str, protocol: str | None) -> ModelInfo | None:
        found = self._pick(self._by_name.get(key), protocol) or self._by_id.get(key)
        if found is None and "/" in key:
            # "sim/sim-small": the prefix is a config provider name the catalog does not know.
            found = self._pick(self._by_name.get(key.split("/", 1)[1]), protocol)
        return found

    @staticmethod
    def _pick(candidates: list[ModelInfo] | None, protocol: str | None) -> ModelInfo | None:
        if not candidates:
            return None
        for info in candidates:
            if info.protocol == protocol:
                return info
        return candidates[0]

    def missing(self, models: Iterable[tuple[str, str | None]]) -> list[str]:
        """Which of ``(model, protocol)`` pairs the catalog cannot price (a startup check)."""
        return [model for model, protocol in models if self.lookup(model, protocol) is None]

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)


def _parse_provider(name: str, spec: Any, version: str, problems: list[str]) -> list[ModelInfo]:
    where = f"providers.{name}"
    if not isinstance(spec, dict):
        problems.append(f"{where}: expected a mapping with protocol: and models:")
        return []
    protocol = spec.get("protocol")
    if not isinstance(protocol, str) or not protocol:
        problems.append(f"{where}.protocol: required; e.g. openai, anthropic or gemini")
    problems += [
        f"{where}.{k}: unknown setting; known: protocol, models"
        for k in spec.keys() - {"protocol", "models"}
    ]
    models = spec.get("models")
    if not isinstance(models, dict) or not models:
        problems.append(f"{where}.models: required; a mapping of model name to its entry")
        return []
    parsed: list[ModelInfo] = []
    for model, fields in models.items():
        path = f"{where}.models.{model}"
        if not isinstance(fields, dict):
            problems.append(f"{path}: expected a mapping of prices and limits")
            continue
        reserved = {"provider", "name", "protocol", "catalog_version"} & fields.keys()
        if reserved:
            problems.append(f"{path}.{sorted(reserved)[0]}: set by the catalog; remove it")
            continue
        try:
            info = msgspec.convert(fields, ModelInfo, strict=False)
        except msgspec.ValidationError as error:
            problems.append(_explain(error, path))
            continue
        before = len(problems)
        _check(info, path, problems)
        if len(problems) == before:
            parsed.append(
                msgspec.structs.replace(
                    info,
                    provider=name,
                    name=str(model),
                    protocol=str(protocol or ""),
                    catalog_version=version,
                )
            )
    return parsed


def _check(info: ModelInfo, path: str, problems: list[str]) -> None:
    """Range checks msgspec cannot express on Decimal fields."""
    tiers: list[tuple[str, Any]] = [("", info)]
    if info.long_context is not None:
        tiers.append((".long_context", info.long_context))
    for prefix, tier in tiers:
        for field in _PRICE_FIELDS:
            value = getattr(tier, field)
            if value is not None and (not value.is_finite() or value < 0):
                problems.append(f"{path}{prefix}.{field}: expected a price >= 0 (got {value})")
    if not 0 <= info.batch_discount < 1:
        problems.append(
            f"{path}.batch_discount: expected a fraction in [0, 1) (got {info.batch_discount})"
        )
    if info.long_context is not None and info.long_context.threshold >= info.context_window:
        problems.append(
            f"{path}.long_context.threshold: must be below context_window ({info.context_window})"
        )


def _explain(error: msgspec.ValidationError, prefix: str) -> str:
    text = str(error)
    match = _AT.search(text)
    path = prefix + (match.group(1) if match else "")
    detail = _AT.sub("", text)
    if detail.startswith(("Object contains unknown field", "Object missing required field")):
        field = detail.split("`")[1]
        if detail.startswith("Object contains"):
            return f"{path}.{field}: unknown setting '{field}'; remove it or check its spelling"
        return f"{path}.{field}: required setting is missing; add it"
    return f"{path}: {detail[0].lower()}{detail[1:]}"


def _merge(base: Any, override: Any) -> Any:
    """``override`` laid over ``base``, mappings merged key by key (neither is modified)."""
    if isinstance(base, dict) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return override
