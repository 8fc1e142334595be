"""Matching, answers in the customer's language, normalisation and language detection."""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faq import Decision, KnowledgeBase, detect_language, load_knowledge_base, normalize
from tests.faq.faq_samples import LANGUAGES, SHOP_YAML, write

ANSWER_AT, SUGGEST_AT = 0.82, 0.65


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    folder = tmp_path_factory.mktemp("kb")
    write(folder, "shop.yaml", SHOP_YAML)
    return load_knowledge_base(folder, LANGUAGES)


def best(kb: KnowledgeBase, text: str, hint: str | None = None) -> tuple[str | None, float, Decision, str]:
    result = kb.match(text, hint, answer_at=ANSWER_AT, suggest_at=SUGGEST_AT)
    top = result.matches[0] if result.matches else None
    return (top.entry_id if top else None, top.score if top else 0.0, result.decision, result.language)


@pytest.mark.parametrize(
    ("text", "expected", "language"),
    [
        ("How long do I have to return an item?", "refund-window", "en"),
        ("how long do i have to return an item", "refund-window", "en"),
        ("Πώς μπορώ να επιστρέψω ένα προϊόν;", "refund-window", "el"),
        ("ΠΩΣ ΜΠΟΡΩ ΝΑ ΕΠΙΣΤΡΕΨΩ ΕΝΑ ΠΡΟΙΟΝ", "refund-window", "el"),
        ("Πως μπορω να επιστρεψω ενα προιον", "refund-window", "el"),
        ("pos mporo na epistrepso ena proion", "refund-window", "el"),
        ("Kā es varu atgriezt preci?", "refund-window", "lv"),
        ("ka es varu atgriezt preci", "refund-window", "lv"),
        ("Hogyan kérhetem vissza a pénzemet?", "refund-window", "hu"),
        ("hogyan kerhetem vissza a penzemet", "refund-window", "hu"),
        ("Mikor érkezik meg a csomagom?", "delivery-time", "hu"),
        ("Kad pienāks mana paka", "delivery-time", "lv"),
        ("pote tha ftasei to dema mou", "delivery-time", "el"),
    ],
)
def test_exact_and_accentless_questions_are_answered(kb: KnowledgeBase, text: str, expected: str, language: str) -> None:
    entry_id, score, decision, detected = best(kb, text)
    assert (entry_id, decision, detected) == (expected, Decision.ANSWER, language)
    assert score > ANSWER_AT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("visszatérítést szeretnék kérni", "refund-window"),
        ("visszateritest szeretnek", "refund-window"),
        ("preces atgriesana", "refund-window"),
        ("mikor van nyitva", "opening-hours"),
        ("reset password", "password-reset"),
    ],
)
def test_paraphrases_rank_the_right_entry_first(kb: KnowledgeBase, text: str, expected: str) -> None:
    entry_id, score, decision, _ = best(kb, text)
    assert entry_id == expected
    assert decision in (Decision.ANSWER, Decision.SUGGEST)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "What is the capital of Mongolia",
            # Known limitation: in a 4-entry KB "what" occurs in one question only, so n-gram IDF makes
            # it look distinctive. It scores 0.54: handed to a person (below suggest_at), not clearly low.
            marks=pytest.mark.xfail(strict=True, reason="function words are distinctive in tiny KBs"),
        ),
        "capital of Mongolia",
        "qwerty zxcv",
        "Ποιος κέρδισε τον αγώνα χθες",
    ],
)
def test_unrelated_text_scores_low(kb: KnowledgeBase, text: str) -> None:
    _, score, decision, _ = best(kb, text)
    assert score < 0.5
    assert decision is Decision.NO_MATCH


@pytest.mark.parametrize("text", ["What is the capital of Mongolia", "what is the meaning of life",
                                  "Who won the match yesterday", "Ποιος κέρδισε τον αγώνα χθες"])
def test_unrelated_questions_go_to_a_person(kb: KnowledgeBase, text: str) -> None:
    assert best(kb, text)[2] is Decision.NO_MATCH


def test_matches_are_ranked_and_carry_team(kb: KnowledgeBase) -> None:
    result = kb.match("when will my parcel arrive", answer_at=ANSWER_AT, suggest_at=SUGGEST_AT)
    scores = [m.score for m in result.matches]
    assert scores == sorted(scores, reverse=True)
    assert 1 <= len(result.matches) <= 5
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert result.matches[0].entry_id == "delivery-time"
    assert result.matches[0].team == "logistics"


def test_answer_and_title_fall_back_by_language(kb: KnowledgeBase) -> None:
    assert kb.answer("refund-window", "el").startswith("Μπορείτε")
    assert kb.answer("refund-window", "hu") == "You can return any item within 30 days of delivery."  # default
    assert kb.answer("opening-hours", "lv") == "Mēs strādājam darba dienās 9-17."
    assert kb.answer("delivery-time", "lv") == "A szállítás 2-3 munkanap."  # no en either: first it has
    assert kb.title("refund-window", "lv") == "Kā es varu atgriezt preci?"
    assert kb.title("password-reset", "el") == "I forgot my password"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "?!...",
        "x" * 50_000,
        "how do I return " * 3000,
        bytes(random.Random(1).randrange(256) for _ in range(3000)).decode("utf-8", "surrogateescape"),
        bytes(random.Random(2).randrange(256) for _ in range(3000)).decode("utf-8", "replace"),
        "\x00\ud800\U0010ffff\u0301\u0301",
    ],
)
@pytest.mark.parametrize("hint", [None, "el", "xx", ""])
def test_bad_input_never_crashes(kb: KnowledgeBase, text: str, hint: str | None) -> None:
    result = kb.match(text, hint, answer_at=ANSWER_AT, suggest_at=SUGGEST_AT)
    assert result.language in LANGUAGES
    assert len(result.matches) <= 5
    assert detect_language(text, hint, LANGUAGES) in LANGUAGES


def test_empty_text_is_no_match(kb: KnowledgeBase) -> None:
    result = kb.match("", answer_at=ANSWER_AT, suggest_at=SUGGEST_AT)
    assert (result.decision, result.matches, result.language) == (Decision.NO_MATCH, (), "en")


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        ("Πώς μπορώ;", None, "el"),
        ("Πώς μπορώ;", "hu", "el"),
        ("pos mporo na to epistrepso", None, "el"),
        ("kā es varu", None, "lv"),
        ("lūdzu palīdziet", "en", "lv"),
        ("man nav paroles", None, "lv"),
        ("szeretném visszakérni", None, "hu"),
        ("nem van jelszavam", None, "hu"),
        ("hogy tudom", "en", "hu"),
        ("where is my order", "lv", "en"),
        ("ok", "lv", "lv"),
        ("ok", None, "en"),
        ("1234", "hu", "hu"),
        ("paka", "xx", "en"),
    ],
)
def test_detect_language_on_short_messages(text: str, hint: str | None, expected: str) -> None:
    assert detect_language(text, hint, LANGUAGES) == expected


def test_detect_language_only_picks_configured_languages() -> None:
    assert detect_language("Πώς μπορώ;", None, ("en", "hu")) == "en"
    assert detect_language("hogy", None, ("lv",)) == "lv"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Πώς;", "πωσ"),
        ("ΟΔΟΣ", "οδοσ"),
        ("Atgriešana!", "atgriesana"),
        ("Visszatérítést", "visszateritest"),
        ("  Hello,   WORLD... ", "hello world"),
        ("ﬁle №5", "file no5"),
    ],
)
def test_normalize_examples(text: str, expected: str) -> None:
    assert normalize(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_normalize_is_idempotent_and_drops_marks(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert not any(unicodedata.category(c) in ("Mn", "Me") for c in once)
    assert once == once.strip() and "  " not in once


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_the_ascii_shortcut_folds_as_the_full_fold_does(text: str) -> None:
    from faq.normalize import _fold

    assert normalize(text) == _fold(text)


def test_match_speed_is_not_tested_here_but_kb_builds_from_many_questions(tmp_path: Path) -> None:
    lines = ["entries:"]
    for i in range(300):
        lines += [f"  - id: e{i}", "    questions:"] + [f"      - question {i} variant {j} about topic{i}" for j in range(10)]
        lines += [f"    answer: answer {i}"]
    write(tmp_path, "big.yaml", "\n".join(lines) + "\n")
    kb = load_knowledge_base(tmp_path, LANGUAGES)
    assert kb.question_count == 3000
    entry_id, _, decision, _ = best(kb, "question 17 variant 3 about topic17")
    assert (entry_id, decision) == ("e17", Decision.ANSWER)
