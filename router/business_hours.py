"""A team's business hours and holidays, and clock arithmetic over them (pure: no Redis, no clock).

Times are unix seconds. The week and the holidays are read in the team's time zone (zoneinfo), so
"09:00-17:00" is always 09:00 to 17:00 on the wall clock, and a whole day on which the clocks change
lasts 23 or 25 hours. A range that ends at or before its start ("22:00-06:00") runs overnight into
the next day. A range belongs to the day it starts on: a holiday cancels the ranges that start on
it, while the eve's overnight range still runs into the holiday's morning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_RANGES_PER_DAY = 8
MAX_HOLIDAYS = 1000
_MAX_ZONE_CHARS = 64
_MAX_RANGE_CHARS = 32
_DAY_MINUTES = 24 * 60

# ASCII digits only: `\d` would take Arabic-Indic or full-width digits too.
_RANGE = re.compile(r"\s*([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})\s*", re.ASCII)


class BusinessHoursError(ValueError):
    """Business hours that cannot be used; the message names the part that is wrong."""


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Open from `start` to `end`, in minutes after local midnight; `end <= start` runs past midnight."""

    start: int  # 0..1439
    end: int  # 0..1440 (24:00)

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


def parse_range(text: str) -> TimeRange:
    """`"09:00-17:30"` as a TimeRange; `24:00` may end a range; raises BusinessHoursError."""
    if not isinstance(text, str) or len(text) > _MAX_RANGE_CHARS:
        raise BusinessHoursError("a time range is written like 09:00-17:00")
    match = _RANGE.fullmatch(text)
    if match is None:
        raise BusinessHoursError(f"{text!r} is not a time range like 09:00-17:00")
    start_hour, start_minute, end_hour, end_minute = (int(part) for part in match.groups())
    if start_hour > 23 or start_minute > 59:
        raise BusinessHoursError(f"{text!r}: the start is not a time of day (00:00 to 23:59)")
    if end_minute > 59 or end_hour > 24 or (end_hour == 24 and end_minute):
        raise BusinessHoursError(f"{text!r}: the end is not a time of day (00:00 to 24:00)")
    start, end = start_hour * 60 + start_minute, end_hour * 60 + end_minute
    if end == start:
        raise BusinessHoursError(f"{text!r}: a range must not start and end at the same time (write 00:00-24:00 "
                                 "for the whole day)")
    return TimeRange(start, end)


def load_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (e.g. Europe/Athens); raises BusinessHoursError for anything else."""
    if not isinstance(name, str) or not name or len(name) > _MAX_ZONE_CHARS:
        raise BusinessHoursError("the time zone is an IANA name such as Europe/Athens")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError for paths ("../x"), OSError for folders ("Europe"): all a wrong name to the admin.
        raise BusinessHoursError(f"{name!r} is not a known time zone (an IANA name such as Europe/Athens)") from None


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """When a team answers: ranges per weekday (Monday first) in `timezone`, closed on `holidays`."""

    timezone: str
    weekly: tuple[tuple[TimeRange, ...], ...]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        load_zone(self.timezone)
        if len(self.weekly) != 7:
            raise BusinessHoursError("weekly: one list of ranges for each of the seven days")
        if not any(self.weekly):
            raise BusinessHoursError("weekly: no open hours on any day (leave business_hours out for always open)")
        if any(len(day) > MAX_RANGES_PER_DAY for day in self.weekly):
            raise BusinessHoursError(f"weekly: at most {MAX_RANGES_PER_DAY} ranges a day")
        if len(self.holidays) > MAX_HOLIDAYS:
            raise BusinessHoursError(f"holidays: at most {MAX_HOLIDAYS} dates")

    @classmethod
    def parse(cls, timezone: str, weekly: Mapping[str, Sequence[str]], holidays: Iterable[date] = ()) -> BusinessHours:
        """From settings' texts: `{"mon": ["09:00-17:00"], ...}`; a day left out is closed.

        Raises BusinessHoursError naming the key (`weekly.mon[0]`, `timezone`, ...).
        """
        unknown = sorted(set(weekly) - set(WEEKDAYS))
        if unknown:
            raise BusinessHoursError(f"weekly: {unknown[0]!r} is not a day (use {', '.join(WEEKDAYS)})")
        days: list[tuple[TimeRange, ...]] = []
        for day in WEEKDAYS:
            ranges = []
            for index, text in enumerate(weekly.get(day, ())):
                try:
                    ranges.append(parse_range(text))
                except BusinessHoursError as error:
                    raise BusinessHoursError(f"weekly.{day}[{index}]: {error}") from None
            days.append(tuple(ranges))
        try:
            load_zone(timezone)
        except BusinessHoursError as error:
            raise BusinessHoursError(f"timezone: {error}") from None
        return cls(timezone, tuple(days), frozenset(holidays))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # zoneinfo caches its instances

    def local(self, t: float) -> datetime:
        """The wall-clock time `t` in the team's time zone."""
        return datetime.fromtimestamp(t, self.zone)

    def is_open(self, t: float) -> bool:
        """Whether the team is within its hours at `t`."""
        day = self.local(t).date()
        return any(start <= t < end for start, end in self._intervals_from(day - timedelta(days=1), day))

    def next_open(self, t: float) -> float:
        """`t` when open then, else the moment the team next opens."""
        first = self.local(t).date() - timedelta(days=1)
        # Every week has an open range, and each holiday can close only one day: this far is enough.
        horizon = 7 * (len(self.holidays) + 2)
        for offset in range(horizon):
            day = first + timedelta(days=offset)
            candidates = [max(start, t) for start, end in self._day_intervals(day) if end > t]
            if candidates:
                # Ranges starting on later days start later than any starting on this one.
                return min(candidates)
        raise BusinessHoursError("never open")  # unreachable for hours that passed __post_init__

    def working_seconds(self, start: float, end: float) -> float:
        """Seconds between `start` and `end` that fall within open hours (0 when `end <= start`)."""
        if end <= start:
            return 0.0
        first = self.local(start).date() - timedelta(days=1)
        last = self.local(end).date()
        total = 0.0
        for open_at, close_at in _merged(self._intervals_from(first, last)):
            total += max(0.0, min(close_at, end) - max(open_at, start))
        return total

    def _intervals_from(self, first: date, last: date) -> Iterator[tuple[float, float]]:
        day = first
        while day <= last:
            yield from self._day_intervals(day)
            day += timedelta(days=1)

    def _day_intervals(self, day: date) -> Iterator[tuple[float, float]]:
        if day in self.holidays:
            return
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        for time_range in self.weekly[day.weekday()]:
            end_minutes = time_range.end + (_DAY_MINUTES if time_range.overnight else 0)
            # Aware datetimes add wall-clock time, so 09:00 stays 09:00 on a day the clocks change.
            open_at = (midnight + timedelta(minutes=time_range.start)).timestamp()
            close_at = (midnight + timedelta(minutes=end_minutes)).timestamp()
            if close_at > open_at:  # a range inside a skipped hour (spring forward) can come out empty
                yield open_at, close_at


def _merged(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping ranges (an overnight range running into the next day's) counted once."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def working_seconds(hours: BusinessHours | None, start: float, end: float) -> float:
    """Seconds within `hours` between `start` and `end`; all of them when the team has no hours set."""
    if hours is None:
        return max(0.0, end - start)
    return hours.working_seconds(start, end)
