"""The verifier: which semantic candidates may be served, and the rule that refuses the rest."""

from __future__ import annotations

import msgspec
import pytest

from pointsman.cache.entry import CachedAnswer, decode_answer
from pointsman.cache.evaluation import Pair, split_pairs
from pointsman.cache.settings import CacheSettings
from pointsman.cache.stage import CacheStage
from pointsman.cache.verify import read, stem, verify


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("How do I learn Python?", "How can I learn Python?"),
        ("What is the capital of France?", "what is the capital of france"),
        ("How can I learn French in two weeks?", "How can I learn French in 2 weeks?"),
        ("Why can't I sleep?", "Why can I not sleep?"),
        ("What is my favorite color?", "What is my favourite color?"),  # one typo apart
        ("How do I design websites?", "How do I design a website?"),  # plural, article
        ("What are some good books on C++?", "What are the best books on C++?"),  # vague words
        ("What is the best way to learn guitar?", "How to learn guitar?"),  # what ~ how
        ("Python and Java: what is the difference?", "Java and Python: what is the difference?"),
        ("Who won the 26th election?", "Who won the 26 election?"),
        ("How can one become a pilot?", "How does one become a pilot?"),  # 'one': no number
    ],
)  # fmt: skip
def test_rewordings_pass(stored: str, asked: str) -> None:
    assert verify(stored, asked) is None
    assert verify(asked, stored) is None  # symmetric


@pytest.mark.parametrize(
    ("stored", "asked", "rule"),
    [
        ("How do I learn Python?", "How do I learn Java?", "word"),
        ("What is the best laptop?", "What is the worst laptop?", "word"),
        ("Books on C++?", "Books on C#?", "word"),
        ("How many people live in the US?", "How many people live in the UK?", "word"),
        ("How do I improve my English?", "How do I improve my English vocabulary?", "word"),
        ("Can I learn French in 2 weeks?", "Can I learn French in 1 month?", "number"),
        ("How do I prepare for GATE 2017?", "How do I prepare for GATE 2018?", "number"),
        ("Why can't I sleep?", "Why can I sleep?", "negation"),
        ("Which foods are not healthy?", "Which foods are healthy?", "negation"),
        ("What celebrity do I look like?", "What celebrity do you look like?", "person"),
        ("Where was Mike Shinoda born?", "When was Mike Shinoda born?", "question"),
        ("How much does a Tesla cost?", "How does a Tesla work?", "question"),
        ("Does Hipmunk make money?", "How does Hipmunk make money?", "question"),
        ("Is Messi better than Ronaldo?", "Is Ronaldo better than Messi?", "order"),
        ("How do I convert dollars to rupees?", "How do I convert rupees to dollars?", "order"),
    ],
)  # fmt: skip
def test_changed_questions_are_refused_with_their_rule(stored: str, asked: str, rule: str) -> None:
    found = verify(stored, asked)
    assert found is not None and found.rule == rule, found
    again = verify(asked, stored)
    assert again is not None and again.rule == rule


def test_reading_keeps_capitalised_short_words_and_symbols() -> None:
    reading = read("Is IT a good job in the US for C# developers?")
    assert {"it", "us", "c#"} <= set(reading.words)
    assert "the" not in reading.words and "good" not in reading.words
    assert read("What's it like?").question == "what" and read("Is it?").question == "yes/no"


def test_stemming_merges_inflections_only() -> None:
    assert stem("designing") == stem("design") == stem("designs")
    assert stem("planning") == stem("plan")
    assert stem("countries") == stem("country")
    assert stem("java") != stem("python")


def test_entries_without_text_are_refused_and_old_entries_decode() -> None:
    old = msgspec.msgpack.encode([b"{}", 1, 2, 3, "sim/x", 0.0])  # before ``text`` existed
    entry = decode_answer(old)
    assert entry is not None and entry.text == ""
    stage = CacheStage(CacheSettings(), None, None, None)  # type: ignore[arg-type]
    assert not stage._verified(entry, "How do I learn Python?")
    stored = CachedAnswer(b"{}", 1, 2, 3, "sim/x", 0.0, "How can I learn Python?")
    assert stage._verified(stored, "How do I learn Python?")
    assert not stage._verified(stored, "How do I learn Java?")
    unchecked = CacheStage(
        msgspec.convert({"semantic": {"verify": False}}, CacheSettings),
        None,  # type: ignore[arg-type]
        None,
        None,  # type: ignore[arg-type]
    )
    assert unchecked._verified(entry, "anything at all")


def test_split_keeps_every_question_on_one_side() -> None:
    pairs = [Pair(f"q{i}", f"q{i + 1}", i % 3 == 0) for i in range(0, 400, 2)]
    pairs += [Pair("q0", "q-extra", True), Pair("q-extra", "q999", False)]  # one chain
    halves = split_pairs(pairs)
    assert len(halves["tuning"]) + len(halves["heldout"]) == len(pairs) == len(halves["all"])
    tuning = {t for p in halves["tuning"] for t in (p.text_a, p.text_b)}
    heldout = {t for p in halves["heldout"] for t in (p.text_a, p.text_b)}
    assert not tuning & heldout and tuning and heldout
    side = "tuning" if "q0" in tuning else "heldout"
    assert {"q-extra", "q999", "q1"} <= {t for p in halves[side] for t in (p.text_a, p.text_b)}
    assert split_pairs(list(reversed(pairs)))["tuning"] == list(reversed(halves["tuning"]))
