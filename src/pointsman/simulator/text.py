"""Deterministic answer text: words, token pieces, logprobs, and stop/max_tokens truncation.

Everything here is a pure function of its arguments. A *key* (bytes, usually a hash of the
prompt, the seed and the choice index) selects a word sequence from a fixed 256-word
vocabulary, so the same prompt always gets the same answer. One word is one token is one
stream chunk; a token carries its leading space (``" river"``) as real tokenizers do.

Logprobs are plausible and deterministic: confident tokens get values in [-0.45, 0]; a
*hard* prompt (see :func:`is_hard`) gets low-confidence values in [-2.95, -0.7], so a routing
cascade can tell the two apart. All values lie in (-3, 0].
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "VOCABULARY",
    "TokenLogprob",
    "is_hard",
    "pieces",
    "text_tokens",
    "token_logprobs",
    "truncate",
    "word_tokens",
]

_WORDS = """
the a of to and in is it that for on with as by at from this are model answer river
stone light signal network request gateway token stream cache route system value result
memory window engine cloud field garden bridge harbor market forest mountain valley
ocean island desert winter summer autumn spring morning evening night quick quiet bright
simple careful steady gentle clear patient honest curious modest large small early late
warm cold open close near far high deep wide narrow long short build measure follow
carry share bring keep hold move turn find give learn teach write read speak listen
watch wait begin finish change check choose decide explain improve often always never
rarely soon later today together again also still only perhaps number letter word
sentence story question reason method pattern detail example idea plan path step stage
layer level order balance limit budget price record report table north south east west
center corner edge surface point line circle square shape color red green blue yellow
silver golden purple orange white black gray brown amber paper glass metal wood water
fire earth air sound music voice picture image page book city village road street house
room door lantern ledger chair lamp clock key map teacher student driver pilot farmer
writer doctor artist builder keeper traveler guide friend neighbor family people person
child leader member partner visitor slowly quickly softly loudly clearly simply because
while since though until before after during within without across against around behind
below beside between toward under about above
"""
VOCABULARY: tuple[str, ...] = tuple(_WORDS.split())
assert len(VOCABULARY) == 256, len(VOCABULARY)

_HARD = re.compile(r"\bhard\b", re.IGNORECASE)
_TOKEN = re.compile(r"\s*\S+")


def is_hard(prompt_text: str) -> bool:
    """True when the prompt contains the word "hard": the answer's logprobs are then low."""
    return _HARD.search(prompt_text) is not None


@lru_cache(maxsize=4096)
def word_tokens(key: bytes, count: int) -> tuple[str, ...]:
    """``count`` word tokens chosen by ``key``: sentences with capitals, commas and periods.

    The last token always ends a sentence. Cached: the result is immutable.
    """
    data = hashlib.shake_128(key).digest(2 * count)
    tokens: list[str] = []
    capital = True
    last = count - 1
    for i in range(count):
        word = VOCABULARY[data[2 * i]]
        if capital:
            word = word.capitalize()
        mark = data[2 * i + 1]
        capital = mark < 24 or i == last  # about one sentence end in eleven words
        if capital:
            word += "."
        elif mark < 40:
            word += ","
        tokens.append(" " + word if i else word)
    return tuple(tokens)


def text_tokens(text: str) -> list[str]:
    """``text`` cut into word tokens, each carrying its leading whitespace."""
    return _TOKEN.findall(text)


def pieces(text: str, key: bytes, shortest: int = 3, longest: int = 8) -> list[str]:
    """``text`` cut into consecutive pieces of ``shortest``..``longest`` characters (the last
    may be shorter), lengths chosen by ``key``. Joining the pieces gives back ``text``."""
    if not text:
        return []
    span = longest - shortest + 1
    sizes = hashlib.shake_128(key).digest(len(text) // shortest + 1)
    out: list[str] = []
    start = 0
    for size in sizes:
        if start >= len(text):
            break
        end = start + shortest + size % span
        out.append(text[start:end])
        start = end
    return out


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """The logprob of one emitted token and the most likely alternatives (best first)."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...]


def token_logprobs(key: bytes, tokens: Sequence[str], hard: bool, top: int) -> list[TokenLogprob]:
    """Deterministic logprobs for ``tokens``: in [-0.45, 0] normally, in [-2.95, -0.7] when
    ``hard``. ``top`` (0-20) alternatives per token, sorted by logprob, including the token."""
    data = hashlib.shake_128(key + b"/logprobs").digest(max(len(tokens), 1))
    out: list[TokenLogprob] = []
    for token, byte in zip(tokens, data, strict=False):
        u = byte / 255
        logprob = round(-0.7 - 2.25 * u if hard else -0.45 * u * u, 6)
        rest = max(1.0 - math.exp(logprob), 1e-4)
        candidates = [(token, logprob)]
        for k in range(top):
            word = VOCABULARY[(byte + 37 * (k + 1)) % len(VOCABULARY)]
            alt = max(math.log(rest * 0.55 * 0.45**k), -20.0)
            candidates.append((" " + word if token.startswith(" ") else word, round(alt, 6)))
        candidates.sort(key=lambda c: c[1], reverse=True)
        out.append(TokenLogprob(token, logprob, tuple(candidates[:top])))
    return out


def truncate(
    tokens: Sequence[str], max_tokens: int | None, stops: Sequence[str]
) -> tuple[list[str], str | None]:
    """Apply ``max_tokens`` then ``stop`` sequences to ``tokens``.

    Returns the kept tokens and ``"length"`` (cut by max_tokens), ``"stop"`` (a stop sequence
    was found: the text is cut just before it, possibly mid-token) or None (untouched).
    A stop sequence found in the kept text wins over ``"length"``.
    """
    kept = list(tokens)
    finish: str | None = None
    if max_tokens is not None and len(kept) > max_tokens:
        kept, finish = kept[:max_tokens], "length"
    if not stops:
        return kept, finish
    text = "".join(kept)
    cuts = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    if not cuts:
        return kept, finish
    cut = min(cuts)
    out: list[str] = []
    used = 0
    for token in kept:
        if used + len(token) > cut:
            if cut > used:
                out.append(token[: cut - used])
            break
        out.append(token)
        used += len(token)
    return out, "stop"
