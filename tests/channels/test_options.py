"""Options where there are no buttons: numbered and picked by number, or a scale picked by its label."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.options import listed, pick_option
from router.messages import QuickReply

RATING = tuple(QuickReply(f"rate:{n}", str(n)) for n in range(1, 6))
NPS = (*(QuickReply(f"nps:{n}", str(n)) for n in range(11)), QuickReply("skip", "Skip"))


def test_a_scale_is_listed_on_one_line_and_other_options_numbered() -> None:
    assert listed([o.label for o in NPS]) == ["0 · 1 · 2 · 3 · 4 · 5 · 6 · 7 · 8 · 9 · 10 · Skip"]
    assert listed(["Yes", "No"]) == ["1) Yes", "2) No"]


@pytest.mark.parametrize(("options", "reply", "value"), [
    (NPS, "7", "nps:7"), (NPS, "0", "nps:0"), (NPS, "10.", "nps:10"), (NPS, "skip", "skip"), (NPS, " Skip! ", "skip"),
    (NPS, "11", None), (NPS, "seven", None), (RATING, "5", "rate:5"), (RATING, "6", None),
    ((QuickReply("yes", "Yes"), QuickReply("no", "No")), "2", "no"), ((QuickReply("yes", "Yes"),), "Yes", None),
    ((QuickReply("yes", "Yes"),), "²", None), ((QuickReply("yes", "Yes"),), "١", None), (NPS, "", None),
])
def test_a_reply_picks_by_label_on_a_scale_and_by_number_otherwise(options: tuple[QuickReply, ...], reply: str,
                                                                   value: str | None) -> None:
    assert pick_option([(o.value, o.label) for o in options], reply) == value


@given(st.lists(st.tuples(st.text(max_size=10), st.text(max_size=10)), max_size=15), st.text(max_size=60))
def test_any_reply_picks_one_of_the_options_or_none(options: list[tuple[str, str]], reply: str) -> None:
    picked = pick_option(options, reply)
    assert picked is None or picked in [value for value, _ in options]
