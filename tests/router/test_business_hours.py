"""Business hours: hand-worked numbers across weekends, holidays and time-zone changes, then properties."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.business_hours import (
    WEEKDAYS,
    BusinessHours,
    BusinessHoursError,
    TimeRange,
    parse_range,
    working_seconds,
)

HOUR = 3600.0
OFFICE = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=timezone.utc).timestamp()  # type: ignore[misc]


def athens(weekly: dict[str, list[str]], holidays: tuple[date, ...] = ()) -> BusinessHours:
    return BusinessHours.parse("Europe/Athens", weekly, holidays)


# --- hand-worked numbers (Athens: UTC+2 in winter, UTC+3 from 2026-03-29 03:00 to 2026-10-25 04:00) ---

def test_a_weekend_counts_nothing() -> None:
    hours = athens(OFFICE)
    # Friday 2026-01-09 16:00 local (14:00 UTC) to Monday 2026-01-12 10:00 local (08:00 UTC): 1 h + 1 h.
    assert hours.working_seconds(utc(2026, 1, 9, 14), utc(2026, 1, 12, 8)) == 2 * HOUR
    assert not hours.is_open(utc(2026, 1, 10, 12))
    assert hours.next_open(utc(2026, 1, 10, 12)) == utc(2026, 1, 12, 7)  # Monday 09:00 local


def test_office_hours_across_the_spring_change() -> None:
    hours = athens(OFFICE)
    # Friday 2026-03-27 16:00 EET (14:00 UTC) to Monday 2026-03-30 10:00 EEST (07:00 UTC):
    # 65 hours pass, 66 on the wall; 2 of them are open.
    start, end = utc(2026, 3, 27, 14), utc(2026, 3, 30, 7)
    assert end - start == 65 * HOUR
    assert hours.working_seconds(start, end) == 2 * HOUR
    assert hours.next_open(utc(2026, 3, 28, 12)) == utc(2026, 3, 30, 6)  # 09:00 EEST


def test_whole_day_on_a_change_lasts_23_or_25_hours() -> None:
    hours = athens({"sun": ["00:00-24:00"]})
    # Sunday 2026-03-29 runs from 00:00 EET (Sat 22:00 UTC) to 24:00 EEST (Sun 21:00 UTC).
    assert hours.working_seconds(utc(2026, 3, 28, 0), utc(2026, 3, 31, 0)) == 23 * HOUR
    # Sunday 2026-10-25 runs from 00:00 EEST (Sat 21:00 UTC) to 24:00 EET (Sun 22:00 UTC).
    assert hours.working_seconds(utc(2026, 10, 24, 0), utc(2026, 10, 27, 0)) == 25 * HOUR
    # An ordinary Sunday has 24.
    assert hours.working_seconds(utc(2026, 1, 10, 0), utc(2026, 1, 13, 0)) == 24 * HOUR


def test_a_range_over_the_repeated_hour_lasts_longer() -> None:
    # 02:00-05:00 on 2026-10-25 in Athens: 03:00-04:00 happens twice, so four hours pass.
    hours = athens({"sun": ["02:00-05:00"]})
    assert hours.working_seconds(utc(2026, 10, 24, 0), utc(2026, 10, 26, 0)) == 4 * HOUR
    # and on the spring Sunday the hour 03:00-04:00 never happens: two hours.
    assert hours.working_seconds(utc(2026, 3, 28, 0), utc(2026, 3, 30, 0)) == 2 * HOUR


def test_holidays_close_the_whole_day() -> None:
    hours = athens(OFFICE, (date(2026, 12, 25),))
    # Thursday 2026-12-24 16:00 local (14:00 UTC) to Monday 2026-12-28 10:00 local: Thu 1 h, Fri closed, Mon 1 h.
    assert hours.working_seconds(utc(2026, 12, 24, 14), utc(2026, 12, 28, 8)) == 2 * HOUR
    assert not hours.is_open(utc(2026, 12, 25, 10))
    assert hours.next_open(utc(2026, 12, 24, 16)) == utc(2026, 12, 28, 7)


def test_overnight_ranges_belong_to_the_day_they_start() -> None:
    night = {day: ["22:00-06:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    hours = athens(night, (date(2026, 12, 25),))
    # Thursday's shift runs into the holiday morning; the holiday's own shift does not happen.
    assert hours.is_open(utc(2026, 12, 25, 3))  # Fri 05:00 local
    assert not hours.is_open(utc(2026, 12, 25, 21))  # Fri 23:00 local
    # Thu 2026-12-24 21:00 local to Mon 2026-12-28 12:00 local: only Thursday's 8 hours.
    assert hours.working_seconds(utc(2026, 12, 24, 19), utc(2026, 12, 28, 10)) == 8 * HOUR
    # Monday's shift is the next opening: 22:00 local = 20:00 UTC.
    assert hours.next_open(utc(2026, 12, 25, 5)) == utc(2026, 12, 28, 20)


def test_overlapping_ranges_count_once() -> None:
    hours = athens({"mon": ["20:00-02:00"], "tue": ["01:00-05:00"]})
    # Monday 2026-01-12 20:00 to Tuesday 05:00 local: 9 hours, not 10.
    assert hours.working_seconds(utc(2026, 1, 12, 0), utc(2026, 1, 14, 0)) == 9 * HOUR
    assert hours.is_open(utc(2026, 1, 12, 23, 30))  # Tue 01:30 local, inside both


def test_no_hours_set_means_always_open() -> None:
    assert working_seconds(None, 100.0, 250.0) == 150.0
    assert working_seconds(None, 250.0, 100.0) == 0.0


# --- the parser and the checks ---

@pytest.mark.parametrize(("text", "expected"), [
    ("09:00-17:00", TimeRange(540, 1020)), (" 9:30 - 12:00 ", TimeRange(570, 720)),
    ("00:00-24:00", TimeRange(0, 1440)), ("22:00-06:00", TimeRange(1320, 360)), ("18:00-00:00", TimeRange(1080, 0)),
])
def test_ranges_parse(text: str, expected: TimeRange) -> None:
    assert parse_range(text) == expected


@pytest.mark.parametrize("text", [
    "", "9-17", "09:00", "09:00-", "25:00-26:00", "09:60-10:00", "09:00-24:01", "24:00-02:00", "10:00-10:00",
    "00:00-00:00", "٠٩:٠٠-١٧:٠٠", "09:00-17:00-18:00", "09:00 17:00", "x" * 1000, "09:00\n-17:00\x00",
])
def test_ugly_ranges_are_refused_by_name(text: str) -> None:
    with pytest.raises(BusinessHoursError):
        parse_range(text)


@given(st.text(max_size=40))
def test_any_text_is_a_range_or_a_business_hours_error(text: str) -> None:
    try:
        parsed = parse_range(text)
    except BusinessHoursError:
        return
    assert 0 <= parsed.start < 1440 and 0 <= parsed.end <= 1440
    assert parse_range(str(parsed)) == parsed


@given(st.integers(0, 1439), st.integers(0, 1440))
def test_ranges_round_trip(start: int, end: int) -> None:
    text = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
    if end == start:
        with pytest.raises(BusinessHoursError):
            parse_range(text)
    else:
        assert parse_range(text) == TimeRange(start, end)


@pytest.mark.parametrize(("timezone", "weekly", "key"), [
    ("Europe/Athns", OFFICE, "timezone"), ("../etc/passwd", OFFICE, "timezone"), ("Europe", OFFICE, "timezone"),
    ("", OFFICE, "timezone"), ("Europe/Athens", {"monday": ["09:00-17:00"]}, "monday"),
    ("Europe/Athens", {"tue": ["9-5"]}, "weekly.tue[0]"), ("Europe/Athens", {}, "no open hours"),
    ("Europe/Athens", {"sat": []}, "no open hours"),
])
def test_wrong_hours_are_refused_naming_the_key(timezone: str, weekly: dict[str, list[str]], key: str) -> None:
    with pytest.raises(BusinessHoursError, match=key.replace("[", r"\[").replace("]", r"\]")):
        BusinessHours.parse(timezone, weekly)


# --- properties over random weeks in zones with odd changes ---

ZONES = ["Europe/Athens", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC", "America/Santiago",
         "Pacific/Chatham"]
MINUTES = st.integers(0, 1439).map(lambda m: m - m % 15)


@st.composite
def business_hours(draw: st.DrawFn) -> BusinessHours:
    weekly: dict[str, list[str]] = {}
    for day in WEEKDAYS:
        ranges = []
        for _ in range(draw(st.integers(0, 2))):
            start, end = draw(MINUTES), draw(st.integers(1, 1440).map(lambda m: m - m % 15))
            if end != start:
                ranges.append(str(TimeRange(start, end)))
        weekly[day] = ranges
    if not any(weekly.values()):
        weekly["wed"] = ["10:00-11:00"]
    holidays = draw(st.lists(st.dates(date(2025, 12, 1), date(2027, 2, 1)), max_size=30))
    return BusinessHours.parse(draw(st.sampled_from(ZONES)), weekly, holidays)


TIMES = st.integers(int(utc(2026, 1, 1)), int(utc(2027, 1, 1))).map(float)
FEW = settings(max_examples=150, deadline=None)


@FEW
@given(business_hours(), TIMES, TIMES, TIMES)
def test_working_seconds_add_up_over_a_split_point(hours: BusinessHours, a: float, b: float, c: float) -> None:
    start, middle, end = sorted((a, b, c))
    whole = hours.working_seconds(start, end)
    assert math.isclose(whole, hours.working_seconds(start, middle) + hours.working_seconds(middle, end),
                        abs_tol=1e-6)
    assert 0.0 <= whole <= end - start


@FEW
@given(business_hours(), TIMES)
def test_next_open_is_open_and_nothing_counts_before_it(hours: BusinessHours, t: float) -> None:
    opens = hours.next_open(t)
    assert opens >= t
    assert hours.is_open(opens)
    assert hours.working_seconds(t, opens) == 0.0
    assert (opens == t) == hours.is_open(t)


@FEW
@given(business_hours(), TIMES, st.integers(1, 30 * 86400))
def test_closed_throughout_counts_zero(hours: BusinessHours, t: float, length: int) -> None:
    if hours.next_open(t) >= t + length:
        assert hours.working_seconds(t, t + length) == 0.0
    else:
        assert hours.working_seconds(t, t + length) > 0.0
