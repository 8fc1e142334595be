"""`helpline report`: the same figures as build_report, as JSON, CSV (one row per figure per grouping)
and text; bare requests for a person are left out of the gaps, as `faq gaps` leaves them out."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.commands_report import parse_moment, query_of
from router.keys import Keys
from router.report import ReportQuery, build_report
from tests.bot.test_cli_flow import helpline, write_config
from tests.router.report.test_scripted import T0, WEEK, script_week

SINCE, UNTIL = "2026-11-23", "2026-11-30T00:00:00Z"


async def test_json_is_build_reports_json(tmp_path: Path, prefix: str, redis: Redis) -> None:
    keys = Keys(prefix)
    await script_week(redis, keys)
    config = write_config(tmp_path, prefix)
    code, out, err = await helpline(config, "report", "--since", SINCE, "--until", UNTIL, "--json")
    assert code == 0, err
    body = json.loads(out)
    expected = (await build_report(redis, keys, ReportQuery(since=T0, until=T0 + WEEK))).to_json()
    # Top gaps differ on purpose: the command leaves out "I want to talk to a human" and knows the FAQ.
    assert [gap["question"] for gap in body.pop("top_gaps")] == ["where is my parcel"]
    expected.pop("top_gaps")
    body["topics"] = [t for t in body["topics"] if t["kind"] == "entry"]
    expected["topics"] = [t for t in expected["topics"] if t["kind"] == "entry"]
    assert body == expected
    assert body["conversations"] == 7 and body["cases"]["backlog"] == 2


async def test_csv_has_one_row_per_figure_per_grouping(tmp_path: Path, prefix: str, redis: Redis) -> None:
    await script_week(redis, Keys(prefix))
    code, out, err = await helpline(write_config(tmp_path, prefix), "report", "--since", SINCE, "--until", UNTIL,
                                    "--team", "support", "--csv")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["grouping", "group", "figure", "value"]
    table = {(grouping, group, figure): value for grouping, group, figure, value in rows[1:]}
    assert len(table) == len(rows) - 1  # no figure twice
    assert table[("all", "", "cases.opened")] == "4"
    assert table[("all", "", "deflection_rate")] == ""  # no data: an empty cell
    assert table[("agent", "maria", "first_response_seconds.median")] == "237.5"
    assert table[("channel", "email", "csat.distribution.5")] == "1"
    assert ("agent", "bob", "cases.resolved") not in table  # bob resolved for billing


async def test_text_reads_like_a_summary(tmp_path: Path, prefix: str, redis: Redis) -> None:
    await script_week(redis, Keys(prefix))
    code, out, err = await helpline(write_config(tmp_path, prefix), "report", "--since", SINCE, "--until", UNTIL)
    assert code == 0, err
    assert "Conversations            7 (6 with a question)" in out
    assert "Handled by the bot alone 17%" in out
    assert "First response           median 5.1 min, 90% within 12.4 min (5 cases)" in out
    assert "CSAT                     50% satisfied (4-5) of 4 answers" in out
    assert "By agent" in out and "maria" in out


async def test_bad_periods_are_usage_errors(tmp_path: Path, prefix: str) -> None:
    config = write_config(tmp_path, prefix)
    for args in (("--since", "yesterday"), ("--since", "1d", "--until", "2d"), ("--since", "0x1f")):
        code, _, err = await helpline(config, "report", *args)
        assert code == 2 and "helpline:" in err, args


def test_moments_and_buckets() -> None:
    now = T0 + 12 * 3600
    assert parse_moment("12h", now) == T0
    assert parse_moment("2026-11-23", now) == T0
    assert parse_moment("2026-11-23T02:00+02:00", now) == T0
    assert query_of("1d", None, None, None, now=now).bucket_seconds == 3600
    assert query_of("30d", None, "", "email", now=now).bucket_seconds == 86400
    assert query_of("30d", None, "", "email", now=now).team is None
    assert query_of("0001-01-01", None, None, None, now=now).since < 0  # any span gets a bounded series


def test_customer_words_reach_the_terminal_without_escape_sequences() -> None:
    from bot.commands_report import render_text

    body = {"since": "a", "until": "b", "team": None, "channel": None}
    figures = {"conversations": 1, "conversations_with_question": 1, "deflection_rate": None, "handoff_rate": None,
               "cases": {"opened": 0, "resolved": 0, "reopened": 0, "backlog": 0},
               "first_response_seconds": {"median": None, "p90": None, "count": 0},
               "resolution_seconds": {"median": None, "p90": None, "count": 0}, "first_contact_resolution": None,
               "csat": {"responses": 0, "score": None, "distribution": {}}, "nps": {"responses": 0, "score": None},
               "ces": {"responses": 0, "average": None}}
    body.update(figures)
    body.update({"by_team": {}, "by_agent": {"\x1b[31mevil": figures}, "by_channel": {}, "by_language": {},
                 "top_entries": [], "top_gaps": [{"question": "hi\x1b]0;pwned\x07" + "x" * 200, "count": 1,
                                                  "closest_entry": None}],
                 "topics": [{"topic": "\x1b[2J", "kind": "gap", "count": 1, "previous_count": 0,
                             "resolution_rate": None}]})
    text = render_text(body)
    assert "\x1b" not in text and "\x07" not in text
    assert max(len(line) for line in text.splitlines()) < 200


async def test_business_hours_pause_the_clocks_across_a_weekend_and_a_clock_change(
        tmp_path: Path, prefix: str, redis: Redis) -> None:
    """support works Mon-Fri 09:00-17:00 in Athens. Case 1 opens Friday 2026-10-23 16:00 Athens (EEST,
    13:00 UTC) and is answered Monday 10:00 Athens, after summer time ended on Sunday (EET, 08:00 UTC):
    1 h on Friday + 1 h on Monday = 7200 working seconds, where the wall clock says 67 h. It is resolved
    Monday 16:30 Athens: 1 h on Friday + 7.5 h on Monday = 30600. Billing has no hours: wall clock."""
    from datetime import UTC, datetime

    import yaml

    from tests.router.report.test_scripted import event, write

    opened, answered, resolved = (datetime(2026, 10, day, hour, minute, tzinfo=UTC).timestamp()
                                  for day, hour, minute in ((23, 13, 0), (26, 8, 0), (26, 14, 30)))
    await write(redis, Keys(prefix), [
        event("message_in", opened, conversation="a", channel="email", language="el"),
        event("case_opened", opened, case=1, conversation="a", team="support", channel="email", language="el"),
        event("agent_reply", answered - 5, case=1, agent="maria"),
        event("message_delivered", answered, case=1, conversation="a", author="agent", channel="email"),
        event("case_resolved", resolved, case=1, agent="maria", team="support"),
        event("message_in", opened, conversation="b", channel="email", language="en"),
        event("case_opened", opened, case=2, conversation="b", team="billing", channel="email", language="en"),
        event("message_delivered", answered, case=2, conversation="b", author="agent", channel="email"),
    ])
    config = write_config(tmp_path, prefix)
    settings = yaml.safe_load(config.read_text())
    settings["teams"]["support"]["business_hours"] = {
        "timezone": "Europe/Athens",
        "weekly": {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}}
    config.write_text(yaml.safe_dump(settings))
    code, out, err = await helpline(config, "report", "--since", "2026-10-23", "--until", "2026-10-27", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["by_team"]["support"]["first_response_seconds"]["median"] == 7200.0
    assert body["by_team"]["support"]["resolution_seconds"]["median"] == 30600.0
    assert body["by_team"]["billing"]["first_response_seconds"]["median"] == answered - opened == 67 * 3600


@given(st.text(max_size=40))
def test_any_moment_text_is_a_time_or_a_value_error(text: str) -> None:
    try:
        moment = parse_moment(text, T0)
    except ValueError:
        return
    assert math.isfinite(moment)


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from("mhdw"))
def test_a_span_is_that_far_back(count: int, unit: str) -> None:
    seconds = count * {"m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    try:
        assert parse_moment(f"{count}{unit}", T0) == T0 - seconds
    except ValueError:
        assert seconds > 10 * 365 * 86400
