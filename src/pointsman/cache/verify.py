"""The verifier: may a semantic candidate's answer be served for the question just asked?

Cosine similarity alone cannot tell "How do I learn Python?" from "How do I learn Java?": the
two share almost every word and MiniLM puts them close. On Quora's hard negatives no cosine
threshold reaches precision 0.95 (docs/cache.md). So a candidate that clears the threshold is
checked once more, on the two texts themselves, by a handful of rules that each name what
would change the answer. The first rule that fails is the verdict's ``rule``:

``number``
    the numbers differ ("in 2 weeks" / "in 1 month", "GATE 2017" / "GATE 2018"); number
    words up to twelve and ordinals count as their digits ("3" = "three", "26th" = "26").
``negation``
    one question is negated and the other is not ("not", "no", "never", "without", "n't"...).
``person``
    one asks about the speaker ("I", "my") or the listener ("you", "your") and the other does
    not: "What celebrity do I look like?" is not "... do you look like?".
``question``
    the question asks for something else: who / when / where / why / how much (many, long,
    old, far, often, big) / yes-or-no. "What", "which" and plain "how" are one kind, since
    "What is the best way to X?" and "How do I X?" ask the same thing.
``word``
    a content word of one question has no counterpart in the other ("Python" / "Java",
    "best" kept out: see below). Words are compared lower-cased after removing function words
    and a light stemming (plurals and one common suffix: "designing" = "design"); two long
    words one typo apart ("favorite" / "favourite") count as the same.
``order``
    the same words in reversed roles: "Is Messi better than Ronaldo?" / "Is Ronaldo better
    than Messi?", "convert dollars to rupees" / "convert rupees to dollars". Two words that
    swap places count as a reversal only when something other than a coordinator ("and",
    "or", "vs", a comma) stands between them in both questions, so "X and Y" / "Y and X"
    and "apology letter" / "letter of apology" pass.

Function words (articles, pronouns, auxiliaries, prepositions, question words) and a few
vague qualifiers ("best", "good", "top", "some", "currently"...) are not content words: they
reword a question without changing what it asks. An all-capital short word is kept even when
it is a function word ("US", "IT", "WHO").

What it deliberately does not do: judge synonyms. Substituted words were measured with the
embedder itself (one MiniLM call on the differing words): "high" / "low", "Africa" /
"Europe" and "10" / "6" score as close as "needed" / "required", and precision among QQP's
one-word substitutions stayed at ~0.70 whatever the word-similarity cut, so such a call would
add ~2 ms per lookup for nothing. A reworded question with a synonym is a miss: the cost of a
miss is one upstream call, the cost of a false hit a wrong answer.

Pure: no I/O, no state, no model; a few tens of microseconds per check on questions
(``benchmarks/bench_cache.py``). Measured on QQP (docs/cache.md): at cosine 0.97 it keeps
about two thirds of the right hits cosine alone would serve and removes about three quarters
of the false hits, lifting precision from 0.90 to 0.96.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

__all__ = ["Mismatch", "Reading", "read", "verify"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FUNCTION_WORDS = _words(
    """
    a an the is are was were be been being am do does did doing done have has had having
    i me my mine myself you your yours yourself yourselves we us our ours ourselves
    they them their theirs themselves he him his himself she her hers herself it its itself
    one ones someone somebody anyone anybody everyone everybody people person guy guys
    this that these those there here what which who whom whose when where why how whats
    can could should would will shall may might must wont
    to of in on at by for with from into onto about as than then so
    and or but if also just really very much many some any all ever even actually exactly
    basically get got go way thing things kind type sort please quora
    , / & : ; ?
    """
)
# Qualifiers that make a question vaguer or politer without changing what it asks.
VAGUE_WORDS = _words(
    "best good great top better most some possible ways way currently always usually "
    "generally truly simply"
)
NEGATIONS = _words("not no never nor without cannot nothing none neither nobody nowhere")
FIRST_PERSON = _words("i me my mine myself")
SECOND_PERSON = _words("you your yours yourself")
COORDINATORS = frozenset(["and", "or", "vs", "versus", ",", "/", "&"])
# "one" is left out: far more often a pronoun ("How can one ...?") than a count.
NUMBER_WORDS = {
    "zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
}  # fmt: skip
AUXILIARIES = _words(
    "is are was were am do does did can could should would will shall may might must have has had"
)
QUESTION_WORDS = {
    "what": "what",
    "which": "what",
    "how": "what",
    "who": "who",
    "whom": "who",
    "whose": "who",
    "when": "when",
    "where": "where",
    "why": "why",
}
QUANTITIES = _words("much many long old far often big")
SUFFIXES = (
    "ingly", "edly", "ing", "ed", "ation", "ment", "ly", "er", "al", "ion", "ness", "ity", "e", "y",
)  # fmt: skip

# Letters and digits of any script ("pokémon", "无语"), keeping "c++", "c#" and separators.
_TOKEN = re.compile(r"[^\W_]+(?:[+#]+)?|[,/&:;?]")
_CAPITALS = re.compile(r"\b[A-Z]{2,}\b")
_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th|s)$")
_NOT = re.compile(r"n't\b")
_CLITIC = re.compile(r"'(?:s|ve|re|ll|d|m)\b")


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Why a candidate was refused: the ``rule`` that failed and what differed."""

    rule: str  # number | negation | person | question | word | order
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Reading:
    """What the rules look at in one question."""

    tokens: tuple[str, ...]  # lower-cased words and separators
    numbers: tuple[str, ...]  # sorted
    negated: bool  # an odd number of negations
    person: tuple[bool, bool]  # mentions the speaker, the listener
    question: str | None  # the kind of question, None when unknown
    words: tuple[str, ...]  # content words (stemmed), in order
    positions: tuple[int, ...]  # each content word's index in ``tokens``


def tokens(text: str) -> list[str]:
    """Lower-cased words of ``text``: "n't" becomes "not", clitics ('s, 've, ...) go."""
    lowered = text.replace("\u2019", "'").lower()
    lowered = lowered.replace("can't", "can not").replace("won't", "will not")
    lowered = _CLITIC.sub(" ", _NOT.sub(" not", lowered)).replace("'", "")
    return _TOKEN.findall(lowered)


def stem(word: str) -> str:
    """A light stemmer: the plural, then at most one common suffix, keeping 4 letters."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith(("sses", "xes", "zes", "ches", "shes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]  # "planning" -> "plann" -> "plan"
    return word


def _question(words: list[str]) -> str | None:
    for i, word in enumerate(words):
        kind = QUESTION_WORDS.get(word)
        if kind is not None:
            following = words[i + 1] if i + 1 < len(words) else ""
            return f"how {following}" if word == "how" and following in QUANTITIES else kind
    return "yes/no" if words and words[0] in AUXILIARIES else None


def read(text: str) -> Reading:
    """The :class:`Reading` of one question."""
    capitals = {w.lower() for w in _CAPITALS.findall(text)}
    words = tokens(text)
    numbers: list[str] = []
    content: list[str] = []
    positions: list[int] = []
    negated = False
    for index, word in enumerate(words):
        if word in NEGATIONS:
            negated = not negated
            continue
        word = NUMBER_WORDS.get(word, word)
        ordinal = _ORDINAL.match(word)
        if ordinal:
            word = ordinal.group(1)
        if word.isdigit():
            numbers.append(word)
        elif word not in capitals:
            if word in FUNCTION_WORDS or word in VAGUE_WORDS:
                continue
            word = stem(word)
            if word in FUNCTION_WORDS:
                continue
        content.append(word)
        positions.append(index)
    present = set(words)
    return Reading(
        tuple(words),
        tuple(sorted(numbers)),
        negated,
        (bool(present & FIRST_PERSON), bool(present & SECOND_PERSON)),
        _question(words),
        tuple(content),
        tuple(positions),
    )


def one_typo(a: str, b: str) -> bool:
    """Whether two long words (5+ Latin letters, no digits) are one edit or one swap apart."""
    if min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1:
        return False
    if not ((a + b).isascii() and (a + b).isalpha()):
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        if len(diff) != 2 or diff[1] != diff[0] + 1:
            return False
        return a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


def _unmatched(stored: Reading, asked: Reading) -> tuple[list[str], list[str]]:
    """Content words of each side without a counterpart on the other (typos paired off)."""
    mine, theirs = Counter(stored.words), Counter(asked.words)
    left, right = list((mine - theirs).elements()), list((theirs - mine).elements())
    for word in list(left):
        for other in right:
            if one_typo(word, other):
                left.remove(word)
                right.remove(other)
                break
    return left, right


def _reversal(stored: Reading, asked: Reading) -> tuple[str, str] | None:
    """Two shared words whose order flips with a non-coordinating link between them."""
    first: dict[str, int] = {}
    for word, index in zip(stored.words, stored.positions, strict=True):
        first.setdefault(word, index)
    second: dict[str, int] = {}
    for word, index in zip(asked.words, asked.positions, strict=True):
        second.setdefault(word, index)
    shared = [w for w in first if w in second]
    for i, x in enumerate(shared):
        for y in shared[i + 1 :]:
            if (first[x] - first[y]) * (second[x] - second[y]) >= 0:
                continue
            between = (
                stored.tokens[min(first[x], first[y]) + 1 : max(first[x], first[y])],
                asked.tokens[min(second[x], second[y]) + 1 : max(second[x], second[y])],
            )
            if all(span and not COORDINATORS.intersection(span) for span in between):
                return x, y
    return None


def verify(stored: str, asked: str) -> Mismatch | None:
    """None when ``asked`` may be answered with the answer stored for ``stored``; else the
    first rule that fails (module docstring). Symmetric in its arguments."""
    a, b = read(stored), read(asked)
    if a.numbers != b.numbers:
        return Mismatch("number", f"{' '.join(a.numbers) or '-'} / {' '.join(b.numbers) or '-'}")
    if a.negated != b.negated:
        return Mismatch("negation", "negated" if b.negated else "not negated")
    if a.person != b.person:
        return Mismatch("person", "speaker or listener differs")
    if a.question is not None and b.question is not None and a.question != b.question:
        return Mismatch("question", f"{a.question} / {b.question}")
    left, right = _unmatched(a, b)
    if left or right:
        return Mismatch("word", f"{' '.join(left) or '-'} / {' '.join(right) or '-'}")
    swapped = _reversal(a, b)
    if swapped is not None:
        return Mismatch("order", f"{swapped[0]} and {swapped[1]} swap roles")
    return None
