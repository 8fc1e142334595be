"""The dashboard's report query from a request's parameters (outside input: bounded and checked).

`since` and `until` are a duration back from now (`90m`, `24h`, `7d`, `2w`), an ISO 8601 date or
time (UTC when no offset is given), or unix seconds; `until` defaults to now, `since` to 7 days
before `until`. `team` and `channel` are names as in the settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_SPAN_SECONDS = 400 * 86400  # a year and a bit: longer would read the whole events stream for one page
HOURLY_UP_TO_SECONDS = 2 * 86400  # as `helpline report`: up to two days by the hour, longer by the day
_DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")  # team keys are the settings' own: any printable name
DEFAULT_SINCE = "7d"


class QueryError(ValueError):
    """A parameter that cannot be read; the message names it."""


@dataclass(frozen=True, slots=True)
class DashboardQuery:
    since: float
    until: float
    team: str | None = None
    channel: str | None = None
    bucket_seconds: int = 86400


def parse_query(params: Mapping[str, str], now: float) -> DashboardQuery:
    until = parse_time(params.get("until") or "", now, "until") if params.get("until") else now
    since = parse_time(params.get("since") or DEFAULT_SINCE, until, "since")
    if since >= until:
        raise QueryError("since must be before until")
    if until - since > MAX_SPAN_SECONDS:
        raise QueryError(f"the period may be at most {MAX_SPAN_SECONDS // 86400} days")
    team = _name(params.get("team"), "team")
    channel = _name(params.get("channel"), "channel")
    bucket = 3600 if until - since <= HOURLY_UP_TO_SECONDS else 86400
    return DashboardQuery(since, until, team, channel, bucket)


def parse_time(text: str, now: float, what: str) -> float:
    """A duration back from `now`, an ISO 8601 date or time, or unix seconds."""
    text = text.strip()
    if len(text) > 40:
        raise QueryError(f"{what}: too long")
    match = _DURATION.match(text)
    if match:
        return now - int(match.group(1)) * _UNITS[match.group(2)]
    if re.fullmatch(r"\d{9,11}(\.\d{1,6})?", text):
        return float(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(f"{what}: write a duration (24h, 7d), an ISO date or unix seconds") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        raise QueryError(f"{what}: out of range") from None


def _name(value: str | None, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not _NAME.match(value):
        raise QueryError(f"{what}: at most 64 characters, no control characters")
    return value
