"""From ranked matches to answer / choices / no match: the rules, and that they hold for any scores."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from faq.decision import ANSWER_LEAD, CONTENDER_SHARE, MAX_CHOICES, decide
from faq.model import Decision, Match


def ranked(*scores: float) -> list[Match]:
    return [Match(f"e{index}", score, None) for index, score in enumerate(scores)]


def test_a_clear_best_is_answered() -> None:
    assert decide(ranked(0.9, 0.05), 0.82, 0.45) == (Decision.ANSWER, ())


def test_two_entries_that_score_alike_are_offered_not_guessed_between() -> None:
    decision, offered = decide(ranked(0.9, 0.9 * ANSWER_LEAD + 0.01, 0.01), 0.82, 0.45)
    assert decision is Decision.SUGGEST and [m.entry_id for m in offered] == ["e0", "e1"]


def test_choices_are_the_best_and_real_contenders() -> None:
    decision, offered = decide(ranked(0.6, 0.3, 0.6 * CONTENDER_SHARE - 0.01, 0.2), 0.82, 0.45)
    assert decision is Decision.SUGGEST and [m.entry_id for m in offered] == ["e0", "e1"]  # e2 a long shot


def test_below_suggest_at_nothing_matches() -> None:
    assert decide(ranked(0.4, 0.3, 0.2), 0.82, 0.45) == (Decision.NO_MATCH, ())
    assert decide([], 0.82, 0.45) == (Decision.NO_MATCH, ())


scores = st.lists(st.floats(0.0, 1.0), max_size=5).map(lambda values: sorted(values, reverse=True))


@given(scores, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_any_scores(values: list[float], answer_at: float, suggest_at: float) -> None:
    matches = ranked(*values)
    decision, offered = decide(matches, answer_at, suggest_at)
    if decision is Decision.SUGGEST:
        assert offered and offered[0] == matches[0] and len(offered) <= MAX_CHOICES
        assert all(match in matches for match in offered)
    else:
        assert offered == ()
    if decision is Decision.ANSWER:
        assert matches[0].score >= answer_at
    if decision is Decision.NO_MATCH and matches and matches[0].score > 0:
        assert matches[0].score < suggest_at


def test_with_a_scope_score_it_is_the_bar_for_choices_not_the_best_score() -> None:
    # A low best score in the FAQ's own words is still worth asking about ...
    decision, offered = decide(ranked(0.3, 0.2), 0.82, 0.45, in_scope=0.9)
    assert decision is Decision.SUGGEST and [m.entry_id for m in offered] == ["e0", "e1"]
    # ... and a fair one for a message about something else is not.
    assert decide(ranked(0.7, 0.3), 0.82, 0.45, in_scope=0.2) == (Decision.NO_MATCH, ())
    # A clear answer does not depend on it.
    assert decide(ranked(0.9, 0.05), 0.82, 0.45, in_scope=0.2) == (Decision.ANSWER, ())


@given(scores, st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_any_scores_with_a_scope_score(values: list[float], answer_at: float, suggest_at: float, in_scope: float) -> None:
    decision, offered = decide(ranked(*values), answer_at, suggest_at, in_scope)
    if decision is Decision.SUGGEST:
        assert in_scope >= suggest_at and offered
    if decision is Decision.NO_MATCH and values and values[0] > 0 and not (values[0] >= answer_at):
        assert in_scope < suggest_at
