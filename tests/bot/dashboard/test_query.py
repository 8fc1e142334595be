"""The dashboard's query parameters: durations, dates, unix times, names; everything else a QueryError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.dashboard.query import MAX_SPAN_SECONDS, DashboardQuery, QueryError, parse_query

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp()


def test_defaults_are_the_last_seven_days_by_day() -> None:
    assert parse_query({}, NOW) == DashboardQuery(NOW - 7 * 86400, NOW, None, None, 86400)


def test_a_short_period_is_charted_by_the_hour() -> None:
    assert parse_query({"since": "24h", "team": "billing"}, NOW) == DashboardQuery(NOW - 86400, NOW, "billing", None, 3600)


def test_dates_and_unix_times() -> None:
    query = parse_query({"since": "2026-11-24", "until": "2026-12-01T00:00:00+00:00", "channel": "email"}, NOW)
    assert query.since == datetime(2026, 11, 24, tzinfo=UTC).timestamp()
    assert query.until == datetime(2026, 12, 1, tzinfo=UTC).timestamp() and query.channel == "email"
    assert parse_query({"since": "1764000000", "until": "1764100000"}, NOW).since == 1764000000


@pytest.mark.parametrize("params", [
    {"since": "7 days"}, {"since": "-7d"}, {"since": "7y"}, {"since": "2026-12-01", "until": "2026-11-01"},
    {"since": f"{MAX_SPAN_SECONDS // 86400 + 1}d"}, {"team": "a\nb"}, {"team": "a" * 65},
    {"channel": "e\x00mail"}, {"since": "x" * 41}, {"since": "9999-99-99"}, {"since": "0001-01-01"},
])
def test_bad_parameters_are_refused_with_their_name(params: dict[str, str]) -> None:
    with pytest.raises(QueryError):
        parse_query(params, NOW)


@given(st.dictionaries(st.sampled_from(["since", "until", "team", "channel", "other"]), st.text(max_size=50)))
def test_any_parameters_give_a_query_or_a_query_error(params: dict[str, str]) -> None:
    try:
        query = parse_query(params, NOW)
    except QueryError:
        return
    assert query.since < query.until and query.until - query.since <= MAX_SPAN_SECONDS
