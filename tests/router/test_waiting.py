"""What a waiting customer is told: rounded waits, when the team is back, in all four languages."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.business_hours import BusinessHours
from router.texts import load_texts
from router.waiting import Expectation, expect, expectation_text, opening_phrase, rounded_wait

REPO = Path(__file__).resolve().parents[2]
TEXTS = load_texts(REPO / "config" / "messages", ["en", "el", "lv", "hu"])
OFFICE = BusinessHours.parse("Europe/Athens", {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
                             [datetime(2026, 12, 25).date()])


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=timezone.utc).timestamp()  # type: ignore[misc]


@pytest.mark.parametrize(("seconds", "expected"), [
    (0, ("wait_minute", 1)), (80, ("wait_minute", 1)), (100, ("wait_minutes", 2)), (7 * 60 + 20, ("wait_minutes", 7)),
    (9 * 60 + 40, ("wait_minutes", 10)), (12 * 60 + 40, ("wait_minutes", 15)), (52 * 60, ("wait_minutes", 50)),
    (53 * 60, ("wait_hour", 1)), (89 * 60, ("wait_hour", 1)), (100 * 60, ("wait_hours", 2)),
    (20 * 3600, ("wait_hours", 20)), (21 * 3600, ("wait_day", 1)), (3 * 86400, ("wait_days", 3)),
    (30 * 86400, None),
])
def test_waits_are_rounded_as_people_say_them(seconds: float, expected: tuple[str, int] | None) -> None:
    assert rounded_wait(seconds) == expected


@given(st.floats(0, 14 * 86400))
def test_a_rounded_wait_is_near_the_real_one(seconds: float) -> None:
    rounded = rounded_wait(seconds)
    assert rounded is not None
    key, number = rounded
    unit = {"minute": 60, "hour": 3600, "day": 86400}[key.removeprefix("wait_").rstrip("s")]
    assert number >= 1
    assert number == 1 or number == 11 or number % 10 != 1  # no "21 minutes": see rounded_wait
    if seconds >= 90:
        assert abs(number * unit - seconds) <= 0.5 * max(seconds, 60)


def test_the_median_of_recent_waits_is_the_estimate_when_open() -> None:
    monday_noon = utc(2026, 1, 12, 10)
    assert expect(OFFICE, [60.0, 600.0, 900.0], monday_noon) == Expectation(wait=600.0)
    assert expect(OFFICE, [], monday_noon) == Expectation()
    assert expect(None, [120.0, 240.0], monday_noon) == Expectation(wait=180.0)


def test_outside_hours_the_opening_replaces_the_estimate() -> None:
    saturday = utc(2026, 1, 10, 10)
    assert expect(OFFICE, [60.0], saturday) == Expectation(opens_at=utc(2026, 1, 12, 7))


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Our team is away at the moment and will be back on Monday 28 December at 09:00."),
    ("el", "Θα είναι ξανά κοντά σας: Δευτέρα 28 Δεκεμβρίου, στις 09:00."),
    ("hu", "legközelebb december 28. (hétfő) 09:00 órától lesz ismét elérhető."),
    ("lv", "atkal būs pieejama pirmdien, 28. decembrī, plkst. 09:00."),
])
def test_when_the_team_is_back_in_each_language(language: str, expected: str) -> None:
    christmas_eve_evening = utc(2026, 12, 24, 17)  # 19:00 in Athens; the 25th is a holiday
    expectation = expect(OFFICE, [], christmas_eve_evening)
    text = expectation_text(TEXTS, language, expectation, OFFICE, christmas_eve_evening)
    assert expected in text


@pytest.mark.parametrize(("language", "today", "tomorrow"), [
    ("en", "today at 09:00", "tomorrow at 09:00"), ("el", "σήμερα στις 09:00", "αύριο στις 09:00"),
    ("hu", "ma 09:00 órától", "holnap 09:00 órától"), ("lv", "šodien plkst. 09:00", "rīt plkst. 09:00"),
])
def test_today_and_tomorrow_are_said_so(language: str, today: str, tomorrow: str) -> None:
    early_tuesday = utc(2026, 1, 13, 4)  # 06:00 in Athens
    assert opening_phrase(TEXTS, language, OFFICE, utc(2026, 1, 13, 7), early_tuesday) == today
    tuesday_evening = utc(2026, 1, 13, 17)
    assert opening_phrase(TEXTS, language, OFFICE, utc(2026, 1, 14, 7), tuesday_evening) == tomorrow


def test_the_opening_is_read_on_the_teams_clock_across_a_time_change() -> None:
    # Saturday 2026-03-28 in Athens (EET); the team opens on Monday 09:00 EEST, 06:00 UTC.
    saturday = utc(2026, 3, 28, 12)
    assert OFFICE.next_open(saturday) == utc(2026, 3, 30, 6)
    assert opening_phrase(TEXTS, "en", OFFICE, OFFICE.next_open(saturday), saturday) == "on Monday 30 March at 09:00"


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "The estimated wait is about 10 minutes."), ("el", "Ο εκτιμώμενος χρόνος αναμονής είναι περίπου 10 λεπτά."),
    ("hu", "A várható várakozási idő körülbelül 10 perc."), ("lv", "Paredzamais gaidīšanas laiks ir apmēram 10 minūtes."),
])
def test_the_estimate_in_each_language(language: str, expected: str) -> None:
    assert expectation_text(TEXTS, language, Expectation(wait=610.0), None, 0.0) == expected


def test_nothing_is_said_without_data() -> None:
    assert expectation_text(TEXTS, "en", Expectation(), OFFICE, 0.0) == ""
    assert expectation_text(TEXTS, "en", Expectation(wait=60 * 86400), None, 0.0) == ""


@pytest.mark.parametrize("language", ["en", "el", "hu", "lv"])
@pytest.mark.parametrize("key", ["case_opened_away", "case_opened_on_request_away", "complaint_opened_away"])
def test_every_case_opened_text_has_an_outside_hours_variant(language: str, key: str) -> None:
    saturday = utc(2026, 1, 17, 10)
    when = opening_phrase(TEXTS, language, OFFICE, OFFICE.next_open(saturday), saturday)
    text = TEXTS.render(language, key, case=1001, position=3, when=when)
    assert "#1001" in text and when in text
    assert text != TEXTS.render("en", key, case=1001, position=3, when=when) or language == "en"
