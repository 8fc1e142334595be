"""The sample shop FAQ that ships in config/faq: complete in four languages, and it finds itself."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from faq import Decision, load_knowledge_base

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "faq"
LANGUAGES = ("en", "el", "lv", "hu")


def strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


@pytest.fixture(scope="module")
def sample():
    return load_knowledge_base(SAMPLE, LANGUAGES)


def test_sample_covers_a_shop_in_four_languages(sample) -> None:
    assert len(sample.entries) >= 25
    files = {entry.file.name for entry in sample.entries.values()}
    assert {"orders.yaml", "shipping.yaml", "returns.yaml", "payments.yaml", "account.yaml", "privacy.yaml"} <= files
    for entry in sample.entries.values():
        for language in LANGUAGES:
            assert len(entry.questions.get(language, ())) >= 3, (entry.id, language)
            assert entry.answers.get(language, "").strip(), (entry.id, language)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("accents", [True, False])
def test_customers_questions_find_their_entry_with_and_without_accents(sample, language: str, accents: bool) -> None:
    right = total = 0
    for entry in sample.entries.values():
        for question in entry.questions[language]:
            text = question if accents else strip_accents(question)
            result = sample.match(text, None, answer_at=0.82, suggest_at=0.65)
            total += 1
            right += result.decision is Decision.ANSWER and result.matches[0].entry_id == entry.id
    assert right / total >= 0.95, f"{language}: only {right}/{total} questions answered with their own entry"


def test_answer_comes_in_the_customers_language(sample) -> None:
    result = sample.match("Μπορώ να επιστρέψω ένα προϊόν;", None, answer_at=0.82, suggest_at=0.65)
    assert result.language == "el"
    answer = sample.answer(result.matches[0].entry_id, result.language)
    assert any("\u0370" <= ch <= "\u03ff" for ch in answer)
