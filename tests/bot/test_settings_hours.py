"""Teams' business hours in the settings file: read into the router's value, errors that name the key."""

from __future__ import annotations

from datetime import date

import pytest

from bot.settings import SettingsError, parse_settings
from router.business_hours import TimeRange

HOURS = """\
teams:
  support:
    business_hours:
      timezone: Europe/Athens
      weekly:
        mon: ["09:00-13:00", "14:00-18:00"]
        sat: []
      holidays: [2026-12-25, "2027-01-01"]
"""


def test_business_hours_reach_the_router_as_a_typed_value() -> None:
    hours = parse_settings(HOURS, "c.yaml", {}).teams["support"].business_hours
    assert hours is not None
    value = hours.hours()
    assert value.timezone == "Europe/Athens"
    assert value.weekly[0] == (TimeRange(540, 780), TimeRange(840, 1080))
    assert value.weekly[5] == () and value.weekly[6] == ()
    assert value.holidays == {date(2026, 12, 25), date(2027, 1, 1)}


def test_a_team_without_business_hours_is_always_open() -> None:
    assert parse_settings("teams: {support: {}}\n", "c.yaml", {}).teams["support"].business_hours is None


@pytest.mark.parametrize(("change", "expected"), [
    (("Europe/Athens", "Mars/Olympus"), "c.yaml:4: teams.support.business_hours.timezone: Value error, 'Mars/Olympus' "
                                        "is not a known time zone"),
    (('"09:00-13:00"', '"9 to 1"'), "teams.support.business_hours.weekly.mon: Value error, [0] '9 to 1' is not a time range"),
    (("14:00-18:00", "14:00-25:00"), "teams.support.business_hours.weekly.mon: Value error, [1] '14:00-25:00': the end"),
    (("sat: []", "saturday: []"), "teams.support.business_hours.weekly.saturday: unknown key"),
    (('"2027-01-01"', '"2027-13-01"'), "teams.support.business_hours.holidays.1"),
    (('        mon: ["09:00-13:00", "14:00-18:00"]\n', ""), "weekly has no open hours on any day"),
])
def test_wrong_business_hours_name_the_key(change: tuple[str, str], expected: str) -> None:
    with pytest.raises(SettingsError) as error:
        parse_settings(HOURS.replace(*change), "c.yaml", {})
    assert expected in str(error.value)
