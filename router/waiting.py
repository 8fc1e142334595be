"""What a customer whose case waits is told to expect: when the team is back, or about how long it takes.

The estimate is the median wait of the team's last claimed cases (`Keys.waits`, kept by `claim`),
in open hours, rounded to a figure a person would say ("about 10 minutes"); without any it is left out.
Outside business hours the customer reads when the team is back instead, in the team's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from statistics import median

from router.business_hours import BusinessHours
from router.texts import Texts

MAX_ESTIMATE_DAYS = 14  # a longer "estimate" says more about a stalled queue than about a wait


@dataclass(frozen=True, slots=True)
class Expectation:
    opens_at: float | None = None  # the team is away until then
    wait: float | None = None  # estimated seconds of waiting, when there is data


def expect(hours: BusinessHours | None, recent_waits: list[float], now: float) -> Expectation:
    """What to tell a customer waiting for the team with `hours` at `now`."""
    if hours is not None and not hours.is_open(now):
        return Expectation(opens_at=hours.next_open(now))
    if not recent_waits:
        return Expectation()
    return Expectation(wait=float(median(recent_waits)))


def rounded_wait(seconds: float) -> tuple[str, int] | None:
    """The text key and number for a wait as people say it: 1-9 minutes, 10-55 by fives, hours, days."""
    minutes = max(seconds, 0.0) / 60
    if minutes < 1.5:
        return "wait_minute", 1
    if minutes < 9.5:
        return "wait_minutes", round(minutes)
    if minutes < 52.5:
        return "wait_minutes", 5 * round(minutes / 5)
    hours = minutes / 60
    if hours < 1.5:
        return "wait_hour", 1
    if hours < 21.5:
        return "wait_hours", round(hours)
    days = hours / 24
    if days < 1.5:
        return "wait_day", 1
    if days < MAX_ESTIMATE_DAYS + 0.5:
        return "wait_days", round(days)
    return None


def opening_phrase(texts: Texts, language: str, hours: BusinessHours, opens_at: float, now: float) -> str:
    """When the team is back, in the customer's language and the team's time zone ("tomorrow at 09:00")."""
    local, today = hours.local(opens_at), hours.local(now).date()
    time = f"{local.hour:02d}:{local.minute:02d}"
    if local.date() == today:
        return texts.render(language, "opens_today", time=time)
    if local.date() == today + timedelta(days=1):
        return texts.render(language, "opens_tomorrow", time=time)
    weekdays = _names(texts, language, "weekday_names", 7)
    months = _names(texts, language, "month_names", 12)
    if weekdays is None or months is None:
        return f"{local:%Y-%m-%d} {time}"  # a messages file with broken name lists still says when
    return texts.render(language, "opens_on", weekday=weekdays[local.weekday()], day=local.day,
                        month=months[local.month - 1], time=time)


def expectation_text(texts: Texts, language: str, expectation: Expectation, hours: BusinessHours | None,
                     now: float) -> str:
    """The sentence to add to a case-opened or status message; "" when there is nothing to say."""
    if expectation.opens_at is not None and hours is not None:
        when = opening_phrase(texts, language, hours, expectation.opens_at, now)
        return texts.render(language, "outside_hours", when=when)
    if expectation.wait is not None:
        rounded = rounded_wait(expectation.wait)
        if rounded is not None:
            key, number = rounded
            return texts.render(language, "wait_estimate", wait=texts.render(language, key, n=number))
    return ""


def _names(texts: Texts, language: str, key: str, count: int) -> list[str] | None:
    names = [name.strip() for name in texts.render(language, key).split(",")]
    return names if len(names) == count and all(names) else None
