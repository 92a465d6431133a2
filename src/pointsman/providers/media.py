"""Media references in canonical content parts: ``data:`` URLs and remote URLs.

OpenAI-shaped requests carry images, audio and files either inline as ``data:<type>;base64,``
URLs or as remote URLs; Anthropic and Gemini want the media type and the base64 payload apart.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["InlineMedia", "guess_media_type", "parse_data_url"]


@dataclass(frozen=True, slots=True)
class InlineMedia:
    media_type: str
    data: str  # base64


def parse_data_url(url: str) -> InlineMedia | None:
    """``data:image/png;base64,AAAA`` → ``InlineMedia("image/png", "AAAA")``; None for
    anything that is not a base64 data URL."""
    if not url.startswith("data:"):
        return None
    header, sep, data = url[5:].partition(",")
    if not sep or not header.endswith(";base64"):
        return None
    return InlineMedia(header[: -len(";base64")] or "application/octet-stream", data)


def guess_media_type(url: str, default: str = "image/jpeg") -> str:
    """The media type a remote URL's file extension suggests, else ``default``."""
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed or default
