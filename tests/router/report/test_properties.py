"""Invariants of the report's arithmetic and of its reading of the events stream, on any input."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from router.keys import Keys
from router.report import ReportQuery, build_report
from router.report.events import parse_event, read_events
from router.report.history import History, clocks
from router.report.stats import median, percentile, share

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


@given(st.lists(finite, min_size=1, max_size=200), st.floats(min_value=0, max_value=100))
def test_a_percentile_lies_between_the_smallest_and_largest_value(values: list[float], q: float) -> None:
    value = percentile(values, q)
    assert value is not None and min(values) <= value <= max(values)


@given(st.lists(finite, min_size=1, max_size=200))
def test_percentiles_grow_with_q_and_ignore_order(values: list[float]) -> None:
    ladder = [percentile(values, q) for q in (0, 10, 50, 90, 100)]
    assert ladder == sorted(ladder)  # type: ignore[type-var]
    assert ladder[0] == min(values) and ladder[-1] == max(values)
    assert median(list(reversed(values))) == median(values)


@given(st.lists(finite, min_size=1, max_size=99).filter(lambda v: len(v) % 2 == 1))
def test_the_median_of_an_odd_count_is_its_middle_value(values: list[float]) -> None:
    assert median(values) == sorted(values)[len(values) // 2]


def test_no_values_no_percentile() -> None:
    assert percentile([], 90) is None and median([]) is None


@given(st.integers(min_value=-5, max_value=1000), st.integers(min_value=-5, max_value=1000))
def test_a_share_is_within_0_and_1_or_none(part: int, whole: int) -> None:
    value = share(part, whole)
    if whole <= 0:
        assert value is None
    else:
        assert value is not None and 0.0 <= value <= 1.0


ugly_text = st.one_of(st.text(max_size=30), st.sampled_from(["nan", "inf", "-inf", "1e400", "-1", "", " ", "0x1f",
                                                             "1001", "3", "9", "10", "abc", "\x00"]))
ugly_fields = st.dictionaries(
    st.one_of(st.sampled_from(["type", "at", "case", "conversation", "csat", "nps", "ces", "round", "agent",
                               "team", "channel", "author", "faq_entry", "question", "after", "reopened"]),
              st.text(max_size=10)),
    st.one_of(ugly_text, st.sampled_from(["case_opened", "case_resolved", "case_rated", "message_delivered",
                                          "case_reopened", "bot_answer", "faq_match", "message_in",
                                          "case_claimed", "agent_reply", "no_match", "nps_rated", "ces_rated",
                                          "case_transferred", "case_closed"])),
    max_size=12)
ugly_ids = st.one_of(st.text(max_size=25), st.sampled_from(["1764000000000-0", "0-0", "-", "99999999999999999-1"]),
                     st.binary(max_size=10))


@given(ugly_ids, st.one_of(ugly_fields, st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=3)))
def test_parsing_any_entry_gives_an_event_or_none(entry_id: object, raw: object) -> None:
    event = parse_event(entry_id, raw)
    if event is not None:
        assert event.type and math.isfinite(event.at) and event.at >= 0
        for name in ("case", "csat", "at", "round"):
            number = event.number(name)
            assert number is None or math.isfinite(number)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(min_value=0, max_value=1000), ugly_fields), max_size=40))
def test_following_any_history_never_crashes_and_keeps_figures_in_range(entries) -> None:
    events = [event for at, raw in entries if (event := parse_event(f"{int(at * 1000)}-0", raw)) is not None]
    events.sort(key=lambda e: e.at)
    facts = History(100.0, 900.0, clocks(None), previous=0.0).feed(events)
    for duration in facts.durations:
        assert duration.seconds >= 0
    for rating in facts.ratings:
        assert 0 <= rating.value <= 10
    assert all(100.0 <= fact.at < 900.0 for fact in facts.first_contacts)


async def test_ugly_entries_in_redis_are_skipped_and_logged(redis: Redis, prefix: str, caplog) -> None:
    keys = Keys(prefix)
    base = 1_764_000_000.0
    await redis.xadd(keys.events, {"at": repr(base)}, id=f"{int(base * 1000)}-*")  # no type
    await redis.xadd(keys.events, {"type": "message_in", "at": "soon", "conversation": "c"},
                     id=f"{int(base * 1000) + 1}-*")  # the time then comes from the id
    await redis.xadd(keys.events, {"type": "case_opened", "at": repr(base + 2), "case": "12abc", "conversation": "c"},
                     id=f"{int(base * 1000) + 2000}-*")
    await redis.xadd(keys.events, {"type": "case_rated", "at": repr(base + 3), "case": "1", "csat": "5.5"},
                     id=f"{int(base * 1000) + 3000}-*")
    events = await read_events(redis, keys, base - 10, base + 10)
    assert [event.type for event in events] == ["message_in", "case_opened", "case_rated"]
    assert "1 unreadable events skipped" in caplog.text
    report = (await build_report(redis, keys, ReportQuery(since=base - 10, until=base + 10))).to_json()
    assert report["conversations"] == 1
    assert report["cases"]["opened"] == 0  # no case number: not a case
    assert report["csat"]["responses"] == 0  # 5.5 is no rating
