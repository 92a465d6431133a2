"""The one place where wire protocols are registered.

Adding a provider protocol means: one module in this package, one line here, its catalog entries
and its conformance-suite parameters. Nothing else names it.
"""

from __future__ import annotations

from pointsman.config import ConfigError, ProviderConfig
from pointsman.providers.anthropic import AnthropicProvider
from pointsman.providers.base import Provider
from pointsman.providers.gemini import GeminiProvider
from pointsman.providers.openai import OpenAIProvider

PROVIDERS: dict[str, type[Provider]] = {
    OpenAIProvider.protocol: OpenAIProvider,
    AnthropicProvider.protocol: AnthropicProvider,
    GeminiProvider.protocol: GeminiProvider,
}


def protocol_names() -> tuple[str, ...]:
    return tuple(PROVIDERS)


def build_provider(name: str, config: ProviderConfig) -> Provider:
    """Instantiate the adapter for ``config.protocol`` (validated at config load)."""
    return PROVIDERS[config.protocol](name, config)


def option_problems(name: str, config: ProviderConfig) -> list[str]:
    """Problems with ``providers.<name>.options`` for its protocol, each naming its path
    (empty when they are fine or the protocol is unknown). Adapters validate their options
    when built, which costs nothing: no connection opens before ``start()``."""
    if config.protocol not in PROVIDERS:
        return []
    try:
        build_provider(name, config)
    except ConfigError as error:
        return list(error.problems)
    return []
