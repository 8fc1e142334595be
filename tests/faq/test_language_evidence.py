"""Language evidence weighed once answers detection for every hint, and kb.match takes a language detected
already (the router's) without detecting again."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faq import kb as faq_kb
from faq import load_knowledge_base
from faq.langdetect import detect_language, language_evidence
from tests.conftest import FIXTURE_KB

LANGUAGES = ("en", "el", "hu", "lv")


@settings(deadline=None)  # a shared machine: timing is not what is tested
@given(st.text(max_size=200), st.sampled_from([None, "en", "el", "hu", "lv", "xx"]))
def test_evidence_chooses_what_detection_does_for_any_text_and_hint(text: str, hint: str | None) -> None:
    assert language_evidence(text, LANGUAGES).choose(hint) == detect_language(text, hint, LANGUAGES)


@pytest.mark.parametrize("text", ["", "\x00\ufffd", "a" * 10_000, "Πώς αλλάζω τον κωδικό μου;", "Cik ilgi?"])
def test_evidence_on_ugly_input_answers_like_detection(text: str) -> None:
    evidence = language_evidence(text, LANGUAGES)
    for hint in (None, *LANGUAGES):
        assert evidence.choose(hint) == detect_language(text, hint, LANGUAGES)


def test_match_with_a_language_skips_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    knowledge_base = load_knowledge_base(FIXTURE_KB, list(LANGUAGES))
    calls: list[str] = []
    real = faq_kb.detect_language
    monkeypatch.setattr(faq_kb, "detect_language", lambda text, *a, **k: calls.append(text) or real(text, *a, **k))
    given_language = knowledge_base.match("How long does delivery take?", answer_at=0.5, suggest_at=0.3,
                                          language="el")
    assert calls == [] and given_language.language == "el"
    unknown = knowledge_base.match("How long does delivery take?", answer_at=0.5, suggest_at=0.3, language="xx")
    assert calls and unknown.language == "en"  # not one of its languages: detected as before
