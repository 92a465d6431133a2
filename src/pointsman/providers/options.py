"""Protocol-specific provider settings: ``providers.<name>.options`` validated into a struct."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from pointsman.config import ConfigError

__all__ = ["provider_options"]

T = TypeVar("T")


def provider_options(name: str, options: Mapping[str, Any], kind: type[T]) -> T:
    """``options`` converted to ``kind`` (a msgspec struct with defaults).

    Raises :class:`~pointsman.config.ConfigError` naming the setting and the fix.
    """
    try:
        return msgspec.convert(dict(options), kind)
    except msgspec.ValidationError as error:
        text = str(error)
        detail, _, at = text.partition(" - at `$")
        path = f"providers.{name}.options{at.rstrip('`')}"
        if detail.startswith("Object contains unknown field"):
            known = ", ".join(getattr(kind, "__struct_fields__", ()))
            detail = f"unknown setting {detail.split('`')[1]!r}; known: {known}"
        raise ConfigError([f"{path}: {detail}"]) from None
