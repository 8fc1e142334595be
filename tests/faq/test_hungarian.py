"""The light Hungarian stemmer (faq/hungarian.py) and what it adds to the share of known words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faq.coverage import Vocabulary
from faq.hungarian import MIN_HEAD, MIN_STEM, heads, stem
from faq.normalize import normalize


@pytest.mark.parametrize("forms", [
    ("konyha", "konyhában", "konyhai", "konyhából"),  # in, of, from the kitchen
    ("lámpa", "lámpát", "lámpákat", "lámpáimat", "lámpának"),  # object, plural, my ...s, dative
    ("eszköz", "eszközzel", "eszközök", "eszközt"),  # -vel after a consonant takes its letter
    ("szenzor", "szenzorokat", "szenzornak", "szenzorral"),
    ("füst", "füstöt"),  # a short stem: its first five letters are not the word's
    ("függöny", "függönyt", "függönyöket", "függönynek"),
    ("garázs", "garázsban", "garázst", "garázsra"),
])
def test_the_forms_of_a_word_meet_at_one_stem(forms: tuple[str, ...]) -> None:
    assert len({stem(normalize(form)) for form in forms}) == 1


def test_short_words_numbers_and_other_scripts_are_left_alone() -> None:
    for word in ("van", "a", "az", "ki", "50", "so2", "φώτα", "tv"):
        assert stem(normalize(word)) == normalize(word)
    assert stem("abcdefgh") == "abcdefgh"  # no ending: as it is


def test_a_compound_has_its_heads() -> None:
    assert "erzekelo" in heads("mozgaserzekelo")  # mozgásérzékelő, a kind of érzékelő
    assert stem("fogyasztas") in heads("aramfogyasztas")
    assert heads("lampa") == [] and heads("φώτα") == []


words = st.text(alphabet="abcdefghijklmnoprstuvz", min_size=1, max_size=16)


@given(words)
def test_a_stem_is_a_nonempty_start_of_the_word_and_its_own_stem(word: str) -> None:
    stemmed = stem(word)
    assert stemmed and word.startswith(stemmed)
    assert len(stemmed) >= min(len(word), MIN_STEM)
    assert stem(stemmed) == stemmed


@given(st.text(max_size=20))
def test_any_text_stems_without_failing_and_never_grows(word: str) -> None:
    assert len(stem(word)) <= len(word)
    assert all(len(head) <= len(word) - 3 for head in heads(word))


@given(words)
def test_heads_are_long_enough_to_be_words(word: str) -> None:
    assert all(len(head) >= min(MIN_HEAD, MIN_STEM) for head in heads(word))


def test_hungarian_questions_know_the_inflections_and_compounds_of_their_words() -> None:
    questions = ["van fust a konyhaban", "minden erzekelo jelez"]
    plain = Vocabulary(questions)
    hungarian = Vocabulary(questions, hungarian_questions=questions)
    assert plain.known_share("fustot") == 0.0 and hungarian.known_share("fustot") == 1.0
    assert plain.known_share("mozgaserzekelo") == 0.0 and hungarian.known_share("mozgaserzekelo") == 1.0
    assert hungarian.known_share("a telefon tolt") == pytest.approx(1 / 3)  # strangers stay strangers
    # Without Hungarian questions nothing changes (the stems come from them alone).
    assert Vocabulary(["where is the card"]).known_share("cardot") == 0.0
    assert Vocabulary(["where is the card"], ["where is the card"]).known_share("cardot") == 1.0


@given(st.lists(st.lists(words, max_size=6).map(" ".join), max_size=8), st.lists(words, max_size=10).map(" ".join))
def test_stems_only_add_known_words(questions: list[str], message: str) -> None:
    assert Vocabulary(questions, questions).known_share(message) >= Vocabulary(questions).known_share(message)
