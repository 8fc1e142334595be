"""The fault figures count what they claim: lost, twice (and why), out of order, delays."""

from __future__ import annotations

from tests.faults.harness import measure


def test_figures_attribute_each_copy_to_its_window() -> None:
    asked = {(1, 0): 0.0, (1, 1): 0.0, (2, 0): 0.0, (3, 0): 0.0}
    answers = [(1, 0, 1.0), (1, 1, 2.0), (1, 0, 3.0),  # chat 1: probe 0 twice, accepted 1 s before a kill
               (2, 0, 10.0), (2, 0, 12.0),  # chat 2: the first copy accepted after its request timed out
               (1, 1, 30.0)]  # chat 1: probe 1 again, for no known reason
    figures = measure("s", asked, answers, 40.0, kills=[1.5], unconfirmed={3})
    assert (figures.sent, figures.received, figures.lost) == (4, 6, 1)
    assert (figures.delivered_twice, figures.twice_timed_out, figures.twice_unexplained) == (3, 1, 1)
    assert figures.twice_at == [(1, 1, 30.0)] and figures.out_of_order == 0
    assert figures.worst_delay == 10.0


def test_an_answer_before_an_older_one_is_out_of_order() -> None:
    figures = measure("s", {(1, 0): 0.0, (1, 1): 0.0}, [(1, 1, 1.0), (1, 0, 2.0)], 5.0)
    assert figures.out_of_order == 1 and figures.lost == 0
