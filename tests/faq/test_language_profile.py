"""Language detection when customers leave the accents out, by character trigram statistics."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faq import detect_language, load_knowledge_base
from faq.langprofile import LanguageProfile, builtin_profile

LANGUAGES = ("en", "el", "lv", "hu")
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "faq"
SAMPLE_KB = Path(__file__).resolve().parents[2] / "config" / "faq"


def strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


@pytest.mark.parametrize("name, language", [("home-hu", "hu"), ("home-lv", "lv"), ("home-el", "el"),
                                            ("home-en", "en")])
def test_real_customer_commands_without_accents(name: str, language: str) -> None:
    """Smart-home commands people wrote (not the text the samples came from), accents removed."""
    cases_file = DATA / name / "dev.jsonl"
    if not cases_file.exists():
        pytest.skip(f"{cases_file} is not on this machine")
    cases = [json.loads(line) for line in cases_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [strip_accents(case["text"]) for case in cases if case.get("lang", language) == language]
    right = sum(detect_language(text, None, LANGUAGES) == language for text in texts)
    assert right / len(texts) >= 0.95, f"{name}: {right}/{len(texts)}"


@pytest.mark.parametrize("text, expected", [
    ("Kur ir mans pasutijums", "lv"),
    ("Cik ilgi notiek piegade uz Rigu", "lv"),
    ("Hol van a rendelesem, mar egy hete vartam", "hu"),
    ("Szeretnem visszakuldeni a cipot", "hu"),
    ("pou einai i paraggelia mou", "el"),
    ("thelo na epistrepso ena proion", "el"),
    ("where is my parcel", "en"),
])
def test_accentless_sentences(text: str, expected: str) -> None:
    assert detect_language(text, None, LANGUAGES) == expected


def test_the_hint_stands_on_tiny_or_ambiguous_messages() -> None:
    for hint in LANGUAGES:
        assert detect_language("ok", hint, LANGUAGES) == hint
        assert detect_language("paka", hint, LANGUAGES) == hint


def test_a_knowledge_base_teaches_its_own_language(tmp_path: Path) -> None:
    """A language Helpline ships no samples for is learnt from the knowledge base's questions."""
    (tmp_path / "de.yaml").write_text(
        "entries:\n  - id: lieferung\n    questions:\n      de:\n"
        "        - Wie lange dauert die Lieferung nach Deutschland?\n"
        "        - Wann kommt meine Bestellung bei mir an?\n"
        "        - Ich warte schon seit einer Woche auf mein Paket\n"
        "      en:\n        - How long does delivery take?\n"
        "    answer:\n      de: Zwei bis vier Werktage.\n      en: Two to four working days.\n", encoding="utf-8")
    knowledge_base = load_knowledge_base(tmp_path, ("en", "de"))
    result = knowledge_base.match("Wann kommt die Lieferung bei mir an", None, answer_at=0.82, suggest_at=0.65)
    assert result.language == "de"
    assert "de" not in builtin_profile().languages


def test_sample_kb_questions_without_accents_are_recognised() -> None:
    knowledge_base = load_knowledge_base(SAMPLE_KB, LANGUAGES)
    for language in ("lv", "hu"):
        questions = [strip_accents(q) for entry in knowledge_base.entries.values() for q in entry.questions[language]]
        right = sum(knowledge_base.match(q, None, answer_at=0.82, suggest_at=0.65).language == language
                    for q in questions)
        assert right / len(questions) >= 0.95, f"{language}: {right}/{len(questions)}"


@given(st.text(max_size=300), st.sampled_from([None, "en", "el", "lv", "hu", "xx"]))
def test_detection_with_a_profile_never_fails(text: str, hint: str | None) -> None:
    assert detect_language(text, hint, LANGUAGES) in LANGUAGES


@given(st.dictionaries(st.sampled_from(["en", "lv", "xx"]), st.lists(st.text(max_size=40), max_size=5)),
       st.text(max_size=80))
def test_learnt_profiles_score_any_text(samples: dict[str, list[str]], text: str) -> None:
    profile = LanguageProfile.learn(samples, base=builtin_profile())
    scores, trigrams = profile.log_likelihoods(text, ["en", "lv", "hu", "xx"])
    assert trigrams >= 2 and all(value <= 0 for value in scores.values())
