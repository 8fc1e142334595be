"""The e-mail rating links' tokens: what one signs reads back, anything tampered with or made up is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.feedback_token import MAX_TOKEN_CHARS, RatingLink, make_token, read_token
from router.survey_questions import survey_option, typed_score

SECRET = b"0123456789abcdef-test-secret"
cases = st.integers(min_value=1, max_value=10**12 - 1)
rounds = st.integers(min_value=0, max_value=999_999)
scores = st.integers(min_value=1, max_value=5)
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_."


@given(cases, rounds, scores)
def test_a_token_reads_back_as_what_it_rates(case: int, round_: int, score: int) -> None:
    token = make_token(SECRET, case, round_, score)
    assert read_token(SECRET, token) == RatingLink(case, round_, score)
    assert len(token) <= MAX_TOKEN_CHARS and all(char in _ALPHABET for char in token)  # URL-safe as it stands


@given(cases, rounds, scores, st.data())
def test_any_changed_character_is_refused(case: int, round_: int, score: int, data: st.DataObject) -> None:
    token = make_token(SECRET, case, round_, score)
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from(_ALPHABET).filter(lambda char: char != token[position]))
    tampered = token[:position] + replacement + token[position + 1:]
    assert read_token(SECRET, tampered) is None


@given(cases, rounds, scores, scores)
def test_another_score_with_the_same_signature_is_refused(case: int, round_: int, score: int, other: int) -> None:
    signature = make_token(SECRET, case, round_, score).rsplit(".", 1)[1]
    forged = f"{case}.{round_}.{other}.{signature}"
    assert (read_token(SECRET, forged) is not None) == (other == score)


@given(cases, rounds, scores, st.binary(min_size=1, max_size=64))
def test_a_token_of_another_secret_is_refused(case: int, round_: int, score: int, secret: bytes) -> None:
    token = make_token(secret, case, round_, score)
    assert (read_token(SECRET, token) is not None) == (secret == SECRET)


@given(st.text(max_size=200))
def test_made_up_text_is_refused_without_error(text: str) -> None:
    assert read_token(SECRET, text) is None


@given(cases, rounds, scores, st.text(min_size=1, max_size=10))
def test_anything_around_a_good_token_is_refused(case: int, round_: int, score: int, extra: str) -> None:
    token = make_token(SECRET, case, round_, score)
    assert read_token(SECRET, token + extra) is None
    assert read_token(SECRET, extra + token) is None


@pytest.mark.parametrize("ugly", [
    "", ".", "...", "1.0.5.", "01.0.5.AAAAAAAAAAAAAAAAAAAAAA", "1.00.5.AAAAAAAAAAAAAAAAAAAAAA",
    "1.0.6.AAAAAAAAAAAAAAAAAAAAAA", "1.0.0.AAAAAAAAAAAAAAAAAAAAAA", "-1.0.5.AAAAAAAAAAAAAAAAAAAAAA",
    "1.0.5.AAAAAAAAAAAAAAAAAAAAA=", "1.0.5.AAAAAAAAAAAAAAAAAAAAAA\n", "１.0.5.AAAAAAAAAAAAAAAAAAAAAA",
    "1.0.5.AAAAAAAAAAAAAAAAAAAAAA/../x", "1.0.5.%41AAAAAAAAAAAAAAAAAAAAA", "x" * 10_000,
])
def test_ugly_tokens_are_refused(ugly: str) -> None:
    assert read_token(SECRET, ugly) is None


def test_no_secret_no_links() -> None:
    with pytest.raises(ValueError):
        make_token(b"", 1001, 0, 5)
    assert read_token(b"", make_token(SECRET, 1001, 0, 5)) is None
    with pytest.raises(ValueError):
        make_token(SECRET, 1001, 0, 6)


@given(st.text(max_size=40))
def test_survey_button_values_parse_or_are_none(value: str) -> None:
    answer = survey_option(value)
    if answer is not None:
        assert answer.kind in ("csat", "nps", "ces", "skip")
        if answer.kind != "skip":
            assert answer.score is not None


@pytest.mark.parametrize(("value", "expected"), [
    ("rate:5", ("csat", 5, None, None)), ("rate:1:1042:2", ("csat", 1, 1042, 2)), ("nps:0", ("nps", 0, None, None)),
    ("nps:10", ("nps", 10, None, None)), ("ces:7", ("ces", 7, None, None)), ("skip", ("skip", None, None, None)),
    ("rate:6", None), ("rate:0", None), ("nps:11", None), ("ces:0", None), ("ces:8", None), ("nps:5:1042:0", None),
    ("rate:5:0:0", None), ("rate:٥", None), ("rate:5 ", None), ("pick:rate:5", None), ("yes", None), ("", None),
])
def test_survey_button_values(value: str, expected: tuple[object, ...] | None) -> None:
    answer = survey_option(value)
    assert (None if answer is None else (answer.kind, answer.score, answer.case, answer.round)) == expected


@pytest.mark.parametrize(("text", "kind", "score"), [
    ("8", "nps", 8), (" 10/10 ", "nps", 10), ("0", "nps", 0), ("7 of 10", "nps", 7), ("11", "nps", None),
    ("7", "ces", 7), ("8", "ces", None), ("0", "ces", None), ("6!", "ces", 6), ("about 5", "nps", None),
    ("٥", "nps", None), ("", "nps", None),
])
def test_typed_scores(text: str, kind: str, score: int | None) -> None:
    assert typed_score(text, kind) == score


@given(st.text(max_size=30), st.sampled_from(["nps", "ces", "csat"]))
def test_typed_scores_stay_in_their_scale(text: str, kind: str) -> None:
    score = typed_score(text, kind)
    assert score is None or {"nps": 0 <= score <= 10, "ces": 1 <= score <= 7, "csat": 1 <= score <= 5}[kind]
