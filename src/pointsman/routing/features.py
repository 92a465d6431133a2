"""What the complexity classifier sees of a request: prompt text, sparse n-gram keys, dense values.

The same functions serve training and per-request scoring, so a model always meets the features it
was trained on (``FEATURE_VERSION`` is stored in every model file and checked on load).

* :func:`prompt_text` picks the text to judge. For an OpenAI-style message list it is the text of
  the **last user message** (text parts joined by newlines): that is the turn the answer must
  serve, and RouteLLM routes multi-turn conversations on the user's turn in the same way. Non-text
  parts (images, audio, files) are not read; their presence is reported so callers can route up.
* :func:`extract` tokenizes the lowercased text once (runs of word characters, single other
  non-space characters) and derives the sparse keys (unigrams and bigrams) and the dense
  handcrafted features.

Cost is bounded for huge prompts: only the first ``HEAD_CHARS`` and last ``TAIL_CHARS`` characters
are tokenized (the question usually sits at one end), while the length feature uses the full text.
Everything here is pure and allocation-light; it runs per request on the hot path.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, pairwise
from typing import Any

FEATURE_VERSION = 1
HEAD_CHARS = 2000
TAIL_CHARS = 500

_TOKEN = re.compile(r"\w+|[^\w\s]")
# An option list such as "A. ..." / "(b) ..." at the start of a line.
_OPTION = re.compile(r"(?m)^[ \t]*\(?[A-Ja-j][.)][ \t]")
_MATH = frozenset("+-*/=^<>%\u00d7\u00f7\u221a\u2211\u222b\u2264\u2265\u2260\u00b1")
_CODE = frozenset("{}[];`#|")
_LATEX = frozenset("\\$")

DENSE_NAMES: tuple[str, ...] = (
    "log_chars",
    "log_tokens",
    "log_words",
    "mean_word_length",
    "log_numbers",
    "log_distinct_numbers",
    "longest_number",
    "digit_share",
    "log_math_symbols",
    "log_code_symbols",
    "log_latex_symbols",
    "log_lines",
    "log_question_marks",
    "log_sentence_marks",
    "option_list",
)

NON_TEXT_PART_TYPES = frozenset({"image_url", "image", "input_image", "input_audio", "file"})


@dataclass(slots=True, frozen=True)
class PromptText:
    """The text the classifier judges, and whether the turn also carried non-text parts."""

    text: str
    has_non_text: bool = False


Key = str | tuple[str, str]  # a unigram, or a bigram as a pair (no joined string: cheaper)


def key_text(key: Key) -> str:
    """How a key is written in a model file: the token, or the two tokens joined by a space."""
    return key if isinstance(key, str) else f"{key[0]} {key[1]}"


def key_from_text(text: str) -> Key:
    """The inverse of :func:`key_text` (tokens never contain whitespace)."""
    first, space, second = text.partition(" ")
    return (first, second) if space else text


@dataclass(slots=True, frozen=True)
class Features:
    """Sparse keys (unigrams and bigrams, each once) and dense values in ``DENSE_NAMES`` order."""

    keys: frozenset[Key]
    dense: tuple[float, ...]


def _field(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def _part_type(part: Any) -> Any:
    """A content part's type: the ``type`` field of a dict, or the tag of a typed struct."""
    kind = _field(part, "type")
    if kind is None:
        config = getattr(type(part), "__struct_config__", None)
        kind = getattr(config, "tag", None)
    return kind


def _content_text(content: Any) -> PromptText:
    if content is None:
        return PromptText("")
    if isinstance(content, str):
        return PromptText(content)
    texts: list[str] = []
    non_text = False
    for part in content:
        kind = _part_type(part)
        if kind == "text":
            texts.append(str(_field(part, "text") or ""))
        elif kind in NON_TEXT_PART_TYPES:
            non_text = True
    return PromptText("\n".join(texts), non_text)


def prompt_text(prompt: str | Sequence[Any]) -> PromptText:
    """The text to classify.

    ``prompt`` is either the text itself or an OpenAI-style message list (dicts or objects with
    ``role`` and ``content``); for a list, the last message with role ``user`` is used. A list
    without a user message gives empty text.
    """
    if isinstance(prompt, str):
        return PromptText(prompt)
    for message in reversed(prompt):
        if _field(message, "role") == "user":
            return _content_text(_field(message, "content"))
    return PromptText("")


def _bounded(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def _log_count(counts: Mapping[str, int], symbols: frozenset[str]) -> float:
    return math.log1p(sum(counts.get(symbol, 0) for symbol in symbols))


def extract(text: str) -> Features:
    """Sparse keys and dense features of ``text`` (see the module docstring)."""
    bounded = _bounded(text)
    tokens = _TOKEN.findall(bounded.lower())
    counts = Counter(tokens)
    n_words = word_chars = n_numbers = digit_chars = distinct_numbers = longest = 0
    for token, count in counts.items():
        if token.isdigit():
            n_numbers += count
            digit_chars += len(token) * count
            distinct_numbers += 1
            longest = max(longest, len(token))
        elif token.isalpha():
            n_words += count
            word_chars += len(token) * count
    dense = (
        math.log1p(len(text)),
        math.log1p(len(tokens)),
        math.log1p(n_words),
        word_chars / n_words / 5.0 if n_words else 0.0,
        math.log1p(n_numbers),
        math.log1p(distinct_numbers),
        longest / 4.0,
        digit_chars / len(bounded) if bounded else 0.0,
        _log_count(counts, _MATH),
        _log_count(counts, _CODE),
        _log_count(counts, _LATEX),
        math.log1p(bounded.count("\n")),
        math.log1p(counts.get("?", 0)),
        math.log1p(counts.get(".", 0) + counts.get("!", 0)),
        1.0 if len(_OPTION.findall(bounded)) >= 3 else 0.0,
    )
    keys: frozenset[Key] = frozenset(chain(counts, pairwise(tokens)))
    return Features(keys, dense)
