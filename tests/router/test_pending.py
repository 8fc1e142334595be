"""What the bot waits for survives the trip through the conversation hash, and junk there is nothing pending."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from router.pending import AwaitingChoice, AwaitingFeedback, AwaitingRephrase, pending_from_json, pending_to_json

texts = st.text(max_size=60)
teams = st.none() | st.sampled_from(["support", "billing"])
pendings = st.one_of(
    st.none(),
    st.builds(AwaitingFeedback, entry=texts, question=texts, team=teams, case=st.none() | st.integers(1, 10**6)),
    st.builds(AwaitingChoice, entries=st.lists(texts, max_size=3).map(tuple),
              labels=st.lists(texts, max_size=3).map(tuple), question=texts, team=teams),
    st.builds(AwaitingRephrase, questions=st.lists(texts, max_size=3).map(tuple), team=teams),
)


@given(pendings)
def test_round_trip(pending: AwaitingFeedback | AwaitingChoice | AwaitingRephrase | None) -> None:
    assert pending_from_json(pending_to_json(pending)) == pending


@given(st.text(max_size=200))
def test_anything_else_is_nothing_pending_or_a_valid_value(text: str) -> None:
    value = pending_from_json(text)
    assert value is None or isinstance(value, AwaitingFeedback | AwaitingChoice | AwaitingRephrase)


def test_what_older_versions_wrote() -> None:
    old = '{"kind": "feedback", "entry": "refund-time", "team": "billing", "question": "when is my refund"}'
    assert pending_from_json(old) == AwaitingFeedback(entry="refund-time", question="when is my refund", team="billing")
    assert pending_from_json('{"kind": "choice", "entries": ["a", "b"], "question": "q"}') is None  # no labels: asked anew
    assert pending_from_json('{"kind": "unknown"}') is None
    assert pending_from_json("[1, 2]") is None
