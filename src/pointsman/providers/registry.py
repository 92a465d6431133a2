"""The one place where wire protocols are registered.

Adding a provider protocol means: one module in this package, one line here, its catalog entries
and its conformance-suite parameters. Nothing else names it.
"""

from __future__ import annotations

from pointsman.config import ProviderConfig
from pointsman.providers.base import Provider
from pointsman.providers.openai import OpenAIProvider

PROVIDERS: dict[str, type[Provider]] = {
    OpenAIProvider.protocol: OpenAIProvider,
}


def protocol_names() -> tuple[str, ...]:
    return tuple(PROVIDERS)


def build_provider(name: str, config: ProviderConfig) -> Provider:
    """Instantiate the adapter for ``config.protocol`` (validated at config load)."""
    return PROVIDERS[config.protocol](name, config)
