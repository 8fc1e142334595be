"""Language detection made cheaper weighs the very same evidence as before (tests/faq/langdetect_reference.py):
the same candidates in the same order, the same log-likelihoods to the last bit, for any text and for real ones."""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faq.langdetect import language_evidence
from faq.langprofile import LanguageProfile, builtin_profile, questions_profile
from faq.loader import load_entries
from tests.faq import langdetect_reference as reference

LANGUAGES = ("en", "el", "lv", "hu")
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "faq"
SAMPLE_KB = Path(__file__).resolve().parents[2] / "config" / "faq"
SAMPLES = Path(__file__).resolve().parents[2] / "faq" / "language_samples"
UGLY = ["", " ", "\x00\ufffd", "a" * 10_000, "ā" * 3000, "Πώς αλλάζω τον κωδικό μου;", "Cik ilgi?", "\ud800 lone",
        "👍🏽 thanks 🙏", "ΚΑΛΗΜΕΡΑ!!! θέλω", "Köszönöm szépen ő ű", "Straße ﬁle Kelvin \u212a", "ǅ ǈ ǋ",
        "kalimera thelo na allaxo ton kodiko", "<b>&amp;</b>", "\u0345\u1fb3 iota", "1234 5678", "a\nb\tc\r\n"]


@lru_cache(maxsize=1)
def kb_profile() -> LanguageProfile:
    return questions_profile(load_entries(SAMPLE_KB, list(LANGUAGES)).values())


def real_texts() -> list[str]:
    texts = [line for path in sorted(SAMPLES.glob("*.txt")) for line in path.read_text(encoding="utf-8").splitlines()]
    for cases in sorted(DATA.glob("*/dev.jsonl")):
        for line in cases.read_text(encoding="utf-8").splitlines():
            if line.strip():
                text = json.loads(line)["text"]
                # Customers often leave the accents out: then the trigram statistics decide.
                texts += [text, "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))]
    return texts


def assert_same(text: str, languages: tuple[str, ...], profile: LanguageProfile | None) -> None:
    new, old = language_evidence(text, languages, profile), reference.language_evidence(text, languages, profile)
    assert new.languages == old.languages
    # Same keys in the same order (ties go to the first) and the same floats.
    assert (None if new.candidates is None else list(new.candidates.items())) == \
        (None if old.candidates is None else list(old.candidates.items())), text
    for hint in (None, *languages, "xx"):
        assert new.choose(hint) == old.choose(hint)
    chosen = profile or builtin_profile()
    assert chosen.log_likelihoods(text, languages) == reference.log_likelihoods(chosen, text, languages)


languages_strategy = st.sampled_from([LANGUAGES, ("en",), ("lv", "hu"), ("hu", "en", "el", "lv"), ("el", "xx", "en")])


@settings(deadline=None, max_examples=300)  # a shared machine: timing is not what is tested
@given(st.text(max_size=300), languages_strategy, st.booleans())
def test_any_text_weighs_the_same_evidence(text: str, languages: tuple[str, ...], own_profile: bool) -> None:
    assert_same(text, languages, kb_profile() if own_profile else None)


@settings(deadline=None)
@given(st.lists(st.sampled_from(["ā", "ő", "é", "š", "ka", "ir", "the", "hogy", "einai", "ς", "Σ", "ﬀ", " ", "?",
                                 "\U0001f600", "Ā", "İ"]), max_size=60).map("".join), languages_strategy)
def test_texts_made_of_telling_letters_and_words_weigh_the_same_evidence(text: str, languages: tuple[str, ...]) -> None:
    assert_same(text, languages, None)


@pytest.mark.parametrize("text", UGLY)
def test_ugly_text_weighs_the_same_evidence(text: str) -> None:
    for profile in (None, kb_profile()):
        assert_same(text, LANGUAGES, profile)
        assert_same(text, LANGUAGES, profile)  # the second time from what was remembered


def test_real_texts_weigh_the_same_evidence() -> None:
    texts = real_texts()
    assert len(texts) > 5000  # the samples alone, or the shared dev sets too
    for text in texts:
        assert_same(text, LANGUAGES, kb_profile())


def test_a_remembered_answer_cannot_be_changed_by_a_caller() -> None:
    scores, _ = builtin_profile().log_likelihoods("Kur ir mans pasutijums", LANGUAGES)
    scores["en"] = 1e9
    assert builtin_profile().log_likelihoods("Kur ir mans pasutijums", LANGUAGES)[0]["en"] != 1e9
    evidence = language_evidence("Kur ir mans pasutijums", LANGUAGES)
    again = language_evidence("Kur ir mans pasutijums", LANGUAGES)
    assert evidence.candidates == again.candidates and evidence.candidates is not again.candidates
