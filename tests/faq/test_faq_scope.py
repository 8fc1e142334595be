"""The share of known words and the scope score: the signs that a message is one the FAQ covers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from faq.coverage import STEM_LETTERS, Vocabulary
from faq.scope import SENTENCE_SCOPE, ScopeModel


def test_known_words_and_their_inflections_count_strangers_do_not() -> None:
    vocabulary = Vocabulary(["how long does delivery take", "kapcsold fel a lampat"])
    assert vocabulary.known_share("how long does delivery take") == 1.0
    assert vocabulary.known_share("deliveries") == 1.0  # same stem
    assert vocabulary.known_share("kapcsolja fel") == 1.0
    assert vocabulary.known_share("what is the weather in riga") == 0.0
    assert vocabulary.known_share("how long is weather") == 0.5
    assert vocabulary.known_share("") == 0.0


def test_words_shorter_than_a_stem_must_be_known_as_they_are() -> None:
    vocabulary = Vocabulary(["take card"])
    assert len("taken") == STEM_LETTERS and vocabulary.known_share("taken") == 0.0
    assert vocabulary.known_share("cards") == 0.0  # "card" is too short to be a stem
    assert Vocabulary(["cards"]).known_share("cardsharp") == 1.0


words = st.text(alphabet="abcdefghij", min_size=1, max_size=9)


@given(st.lists(st.lists(words, max_size=6).map(" ".join), max_size=8), st.lists(words, max_size=10).map(" ".join))
def test_the_share_is_a_share(questions: list[str], message: str) -> None:
    share = Vocabulary(questions).known_share(message)
    assert 0.0 <= share <= 1.0
    assert Vocabulary(questions + [message]).known_share(message) == (1.0 if message.split() else 0.0)


def test_the_scope_score_grows_with_each_sign() -> None:
    base = SENTENCE_SCOPE.in_scope(0.4, 0.5, 0.6)
    assert SENTENCE_SCOPE.in_scope(0.6, 0.5, 0.6) > base
    assert SENTENCE_SCOPE.in_scope(0.4, 0.9, 0.6) > base
    assert SENTENCE_SCOPE.in_scope(0.4, 0.5, 0.8) > base


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_the_scope_score_is_bounded_whatever_comes_in(best: float, known: float, meaning: float) -> None:
    assert 0.0 <= ScopeModel(5.0, 4.0, 8.0, -12.0).in_scope(best, known, meaning) <= 1.0
