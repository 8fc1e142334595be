"""The indexed intents reader decides exactly as the reader it replaced (tests/router/intents_reference.py).

Over the shared dev sets' questions, the router tests' messages, every vocabulary phrase with its
accent-less, upper-case, Greeklish and mistyped variants, phrases of several lists together, and
hypothesis-generated text: every field of every reading must be the same.
"""

from __future__ import annotations

from dataclasses import astuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.intents import Intents, load_vocabularies
from tests.router import intents_reference as reference
from tests.router.intents_corpus import LANGUAGES, corpus, typos, variants, vocabulary_phrases

VOCABULARIES = load_vocabularies(LANGUAGES)
NEW = Intents(VOCABULARIES)
OLD = reference.Intents(VOCABULARIES)
PHRASES = vocabulary_phrases()
WORDS = sorted({word for phrase in PHRASES for word in phrase.split()})


def _differences(texts: list[str], new: Intents = NEW, old: reference.Intents = OLD) -> list[tuple[str, tuple, tuple]]:
    found = []
    for text in texts:
        before, after = astuple(old.read(text)), astuple(new.read(text))
        if before != after:
            found.append((text, before, after))
    return found


def test_the_corpus_is_large() -> None:
    # Thousands of messages, or the comparison below proves little.
    assert len(corpus()) > 20_000


def test_every_message_of_the_corpus_reads_the_same() -> None:
    assert _differences(corpus()) == []


def test_operators_extra_words_read_the_same() -> None:
    # Extra words shared by several languages (languages merge) and a rating word that thanks (it goes).
    extra = {"en": {"person_phrases": ["a wizard please", "ευχαριστώ πολύ"], "thanks": ["cheers mate"],
                    "rating": ["cheers mate"]},
             "el": {"person_phrases": ["a wizard please"], "negation": ["nope"]}}
    vocabularies = load_vocabularies(LANGUAGES, extra)
    texts = ["I would like a wizard please", "cheers mate", "nope, a wizard please", *corpus(with_dev_sets=False)[::10]]
    assert _differences(texts, Intents(vocabularies), reference.Intents(vocabularies)) == []


def test_a_reading_can_differ() -> None:
    # The comparison can fail: a reader with one word less reads differently.
    smaller = {language: {**vocabulary, "greeting": []} for language, vocabulary in VOCABULARIES.items()}
    assert _differences(["hello"], Intents(smaller)) != []


# Messages made of listed words, mistyped, with other words around: where the two readers could part.
_TEXTS = st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(PHRASES), st.text(max_size=12)), max_size=10).map(" ".join)


@given(_TEXTS, st.randoms(use_true_random=False), st.sampled_from(["", "?", "!", ".", ";"]))
@settings(max_examples=300, deadline=None)
def test_generated_messages_read_the_same(text: str, rng: object, end: str) -> None:
    texts = [text + end, *variants(text), *typos(text, rng)]  # type: ignore[arg-type]
    assert _differences(texts) == []


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_text_reads_the_same(text: str) -> None:
    assert _differences([text]) == []


@pytest.mark.parametrize("text", ["thank you so much", "efxaristw poly", "den thelo anthropo", "not solved",
                                  "δεν λύθηκε", "KÖSZÖNÖM", "paldies!", "I want to talk to a human"])
def test_known_messages_read_the_same(text: str) -> None:
    assert astuple(NEW.read(text)) == astuple(OLD.read(text)), text
