"""Every figure of a report on a scripted week of events, against numbers worked out by hand below.

The week: Monday 2026-11-23 00:00 UTC (T0) to the next Monday. Times are offsets from T0 in seconds.

c0  telegram en  (before the week) case 999 opened T0-1d, claimed by maria; resolved in the week at +5000
c1  telegram en  FAQ answer `refund`, "yes it helped"                              -> handled by the bot alone
c2  telegram en  small talk only                                                    -> not a question
c3  email el     rephrase asked, no match -> case 1001 (support) at +100; a bot message delivered at +101
                 (never agent time); maria claims +400, replies +460, delivered +465 (first response 365);
                 resolves +1000 (resolution 900); CSAT 5, NPS 10, CES 2
c4  slack hu     asks for a person -> case 1002 (support) at +3600; anna replies +3800 (delivery failed),
                 again +3900, delivered +3905 (first response 305); transfers to billing +4000; bob claims,
                 resolves +7200 (resolution 3600, not first contact: transferred); CSAT 3, NPS 5, CES 6
c5  telegram en  FAQ answer `shipping` on day 1, "no" -> case 1003 (support) at +86460; maria replies +86520
                 with no delivery report (the reply stands in: 60); resolves +86700 (240); CSAT 4.
                 Reopened +90000 (back to maria), delivered +90110 (110), resolved +90300 (300);
                 rated 1 then 2 for round 1 (the last counts: 2); NPS 9. Not first contact: reopened.
c6  email en     day 2: no match -> case 1004 (billing), never claimed                 -> backlog
c7  telegram lv  day 3: complaint -> case 1005 (support) at +259210; maria replies, delivered +260210
                 (1000); still assigned                                                 -> backlog
c8  telegram en  the week before: FAQ answer `refund` (previous_count 1)
after the week: case 1006 opened (not counted); plus unreadable entries (no type, garbage numbers).

Hand-worked:
conversations 7 (c1-c7); with a question 6 (all but c2); by the bot alone 1 (c1): 1/6; handed off 5/6
opened 5 (1001-1005); resolved 5 (999, 1001, 1002, 1003 twice); reopened 1; backlog 2 (1004, 1005)
first response [60, 110, 305, 365, 1000]: median 305, p90 365 + 0.6 * 635 = 746
resolution [240, 300, 900, 3600, 91400] (999: from T0-1d to +5000): median 900, p90 3600 + 0.6 * 87800 = 56280
first-contact resolution: 999 yes, 1001 yes, 1002 no, 1003 no: 0.5
CSAT [5, 3, 4, 2]: 2 of 4 satisfied: 0.5; NPS [10, 5, 9]: (2 - 1) / 3 = 33.33; CES [2, 6]: 4.0
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from router.keys import Keys
from router.report import ReportQuery, build_report

T0 = datetime(2026, 11, 23, tzinfo=UTC).timestamp()
DAY = 86400.0
WEEK = 7 * DAY


async def write(redis: Redis, keys: Keys, entries: list[tuple[float, dict[str, str]]]) -> None:
    """XADD in time order with the stream id of the moment, as the router writes them."""
    for at, fields in sorted(entries, key=lambda pair: pair[0]):
        await redis.xadd(keys.events, fields, id=f"{int(at * 1000)}-*")


def event(event_type: str, at: float, /, **fields: object) -> tuple[float, dict[str, str]]:
    return at, {"type": event_type, "at": repr(at), **{name: str(value) for name, value in fields.items()}}


async def script_week(redis: Redis, keys: Keys) -> None:
    entries: list[tuple[float, dict[str, str]]] = []

    async def e(event_type: str, offset: float, /, **fields: object) -> None:
        entries.append(event(event_type, T0 + offset, **fields))

    # c8, the week before
    await e("message_in", -2 * DAY, conversation="c8", channel="telegram", language="en")
    await e("faq_match", -2 * DAY, conversation="c8", decision="answer", faq_entry="refund", question="refund?")
    await e("bot_answer", -2 * DAY, conversation="c8", faq_entry="refund")
    # c0 / case 999, opened before the week
    await e("message_in", -DAY, conversation="c0", channel="telegram", language="en")
    await e("case_opened", -DAY, case=999, conversation="c0", team="support", reason="handoff", channel="telegram",
            language="en")
    await e("case_claimed", -DAY + 60, case=999, agent="maria", team="support", waited="60")
    # c1: answered by the bot
    await e("conversation_started", 10, conversation="c1", channel="telegram", language="en")
    await e("message_in", 10, conversation="c1", channel="telegram", language="en")
    await e("faq_match", 10, conversation="c1", decision="answer", faq_entry="refund", question="can I get a refund")
    await e("bot_answer", 10, conversation="c1", faq_entry="refund")
    await e("message_delivered", 11, conversation="c1", channel="telegram", author="bot")
    await e("answer_helpful", 30, conversation="c1", faq_entry="refund")
    # c2: small talk
    await e("message_in", 20, conversation="c2", channel="telegram", language="en")
    await e("small_talk", 20, conversation="c2", kind="greeting")
    # c3: case 1001
    await e("message_in", 40, conversation="c3", channel="email", language="el")
    await e("faq_match", 40, conversation="c3", decision="none", question="where is my parcel?", language="el")
    await e("rephrase_asked", 40, conversation="c3", question="where is my parcel?", language="el")
    await e("message_in", 100, conversation="c3", channel="email", language="el")
    await e("faq_match", 100, conversation="c3", decision="none", question="where is my parcel", language="el")
    await e("no_match", 100, conversation="c3", question="where is my parcel", language="el")
    await e("case_opened", 100, case=1001, conversation="c3", team="support", reason="no_match", channel="email",
            language="el")
    await e("message_delivered", 101, conversation="c3", case=1001, channel="email", author="bot")
    await e("case_claimed", 400, case=1001, agent="maria", team="support", waited="300")
    await e("first_response", 460, case=1001, agent="maria", after="360")
    await e("agent_reply", 460, case=1001, agent="maria", chars=20)
    await e("message_delivered", 465, conversation="c3", case=1001, channel="email", author="agent")
    await e("case_resolved", 1000, case=1001, agent="maria", team="support", after="900", reopened=0)
    await e("rating_asked", 1000, case=1001, conversation="c3", round=0, channel="email", team="support")
    await e("case_rated", 1100, case=1001, conversation="c3", csat=5, agent="maria", round=0)
    await e("nps_rated", 1110, case=1001, conversation="c3", nps=10, round=0)
    await e("ces_rated", 1120, case=1001, conversation="c3", ces=2, round=0)
    # c4: case 1002, transferred
    await e("message_in", 3600, conversation="c4", channel="slack", language="hu")
    await e("handoff_requested", 3600, conversation="c4", question="I want to talk to a human", language="hu")
    await e("case_opened", 3600, case=1002, conversation="c4", team="support", reason="asked", channel="slack",
            language="hu")
    await e("case_claimed", 3700, case=1002, agent="anna", team="support", waited="100")
    await e("agent_reply", 3800, case=1002, agent="anna", chars=10)
    await e("delivery_failed", 3801, conversation="c4", case=1002, channel="slack", author="agent", why="500")
    await e("agent_reply", 3900, case=1002, agent="anna", chars=10)
    await e("message_delivered", 3905, conversation="c4", case=1002, channel="slack", author="agent")
    await e("case_transferred", 4000, case=1002, agent="anna", from_team="support", team="billing")
    await e("case_claimed", 4100, case=1002, agent="bob", team="billing", waited="100")
    await e("agent_reply", 4200, case=1002, agent="bob", chars=10)
    await e("message_delivered", 4205, conversation="c4", case=1002, channel="slack", author="agent")
    await e("case_resolved", 7200, case=1002, agent="bob", team="billing", after="3600", reopened=0)
    await e("case_rated", 7300, case=1002, conversation="c4", csat=3, agent="bob")
    await e("nps_rated", 7310, case=1002, conversation="c4", nps=5)
    await e("ces_rated", 7320, case=1002, conversation="c4", ces=6)
    # c0: case 999 resolved in the week
    await e("case_resolved", 5000, case=999, agent="maria", team="support", after=f"{DAY + 5000}", reopened=0)
    # c5: case 1003, reopened
    await e("message_in", DAY + 400, conversation="c5", channel="telegram", language="en")
    await e("faq_match", DAY + 400, conversation="c5", decision="answer", faq_entry="shipping",
            question="how long is shipping")
    await e("bot_answer", DAY + 400, conversation="c5", faq_entry="shipping")
    await e("message_in", DAY + 460, conversation="c5", channel="telegram", language="en")
    await e("answer_not_helpful", DAY + 460, conversation="c5", faq_entry="shipping")
    await e("case_opened", DAY + 460, case=1003, conversation="c5", team="support", reason="not_helpful",
            channel="telegram", language="en")
    await e("case_claimed", DAY + 500, case=1003, agent="maria", team="support", waited="40")
    await e("agent_reply", DAY + 520, case=1003, agent="maria", chars=10)
    await e("case_resolved", DAY + 700, case=1003, agent="maria", team="support", after="240", reopened=0)
    await e("case_rated", DAY + 800, case=1003, conversation="c5", csat=4, agent="maria", round=0)
    await e("message_in", DAY + 3600, conversation="c5", channel="telegram", language="en")
    await e("case_reopened", DAY + 3600, case=1003, conversation="c5", by="customer", agent="maria", team="support")
    await e("agent_reply", DAY + 3700, case=1003, agent="maria", chars=10)
    await e("message_delivered", DAY + 3710, conversation="c5", case=1003, channel="telegram", author="agent")
    await e("case_resolved", DAY + 3900, case=1003, agent="maria", team="support", after="3440", reopened=1)
    await e("case_rated", DAY + 4000, case=1003, conversation="c5", csat=1, agent="maria", round=1)
    await e("case_rated", DAY + 4050, case=1003, conversation="c5", csat=2, agent="maria", round=1)
    await e("nps_rated", DAY + 4060, case=1003, conversation="c5", nps=9, round=1)
    # c6: case 1004, waiting in billing
    await e("message_in", 2 * DAY, conversation="c6", channel="email", language="en")
    await e("faq_match", 2 * DAY, conversation="c6", decision="none", question="where is my parcel", language="en")
    await e("no_match", 2 * DAY, conversation="c6", question="where is my parcel", language="en")
    await e("case_opened", 2 * DAY + 10, case=1004, conversation="c6", team="billing", reason="no_match",
            channel="email", language="en")
    # c7: case 1005, a complaint, still with maria
    await e("message_in", 3 * DAY + 10, conversation="c7", channel="telegram", language="lv")
    await e("complaint", 3 * DAY + 10, conversation="c7", question="this is unacceptable", language="lv")
    await e("case_opened", 3 * DAY + 10, case=1005, conversation="c7", team="support", reason="complaint",
            channel="telegram", language="lv", priority=0)
    await e("case_claimed", 3 * DAY + 500, case=1005, agent="maria", team="support", waited="490")
    await e("agent_reply", 3 * DAY + 1000, case=1005, agent="maria", chars=10)
    await e("message_delivered", 3 * DAY + 1010, conversation="c7", case=1005, channel="telegram", author="agent")
    # ugly entries: skipped or read as missing, never a crash
    entries.append((T0 + 50, {"at": repr(T0 + 50), "case": "1001"}))  # no type
    await e("case_rated", 2 * DAY, case=1001, csat="abc")  # garbage number
    await e("case_rated", 2 * DAY, case=1001, csat="9")  # out of range
    await e("case_resolved", 2 * DAY, case="x17", agent="maria")  # no case number
    entries.append((T0 + 60, {"type": "case_claimed", "at": "nan", "case": "77"}))  # the time from the id
    # after the week
    await e("message_in", WEEK + 100, conversation="c9", channel="telegram", language="en")
    await e("case_opened", WEEK + 100, case=1006, conversation="c9", team="support", channel="telegram")
    await write(redis, keys, entries)


@pytest.fixture
async def week(redis: Redis, prefix: str) -> Keys:
    keys = Keys(prefix)
    await script_week(redis, keys)
    return keys


async def test_the_headline_figures_equal_the_hand_worked_ones(redis: Redis, week: Keys) -> None:
    report = (await build_report(redis, week, ReportQuery(since=T0, until=T0 + WEEK))).to_json()
    assert report["since"] == "2026-11-23T00:00:00Z" and report["until"] == "2026-11-30T00:00:00Z"
    assert report["conversations"] == 7
    assert report["conversations_with_question"] == 6
    assert report["deflection_rate"] == round(1 / 6, 4)
    assert report["handoff_rate"] == round(5 / 6, 4)
    assert report["cases"] == {"opened": 5, "resolved": 5, "reopened": 1, "backlog": 2}
    assert report["first_response_seconds"] == {"median": 305.0, "p90": 746.0, "count": 5}
    assert report["resolution_seconds"] == {"median": 900.0, "p90": 56280.0, "count": 5}
    assert report["first_contact_resolution"] == 0.5
    assert report["csat"] == {"responses": 4, "score": 0.5,
                              "distribution": {"1": 0, "2": 1, "3": 1, "4": 1, "5": 1},
                              "asked": 1}  # only 1001's survey was announced with rating_asked
    assert report["nps"] == {"responses": 3, "score": 33.33}
    assert report["ces"] == {"responses": 2, "average": 4.0}


async def test_per_team_agent_channel_and_language(redis: Redis, week: Keys) -> None:
    report = (await build_report(redis, week, ReportQuery(since=T0, until=T0 + WEEK))).to_json()
    support, billing = report["by_team"]["support"], report["by_team"]["billing"]
    # support: cases of c3, c4 (opened there), c5, c7; billing: c4 (transferred in), c6
    assert (support["conversations"], billing["conversations"]) == (4, 2)
    assert support["deflection_rate"] is None and support["handoff_rate"] is None  # the bot has no team
    assert support["cases"] == {"opened": 4, "resolved": 4, "reopened": 1, "backlog": 1}
    assert billing["cases"] == {"opened": 1, "resolved": 1, "reopened": 0, "backlog": 1}
    # 1002 was answered while still with support (before its transfer): every first response is support's
    assert support["first_response_seconds"]["count"] == 5 and billing["first_response_seconds"]["count"] == 0
    # support's resolutions [240, 300, 900, 91400]: median 600, p90 900 + 0.7 * 90500 = 64250
    assert support["resolution_seconds"] == {"median": 600.0, "p90": 64250.0, "count": 4}
    assert billing["resolution_seconds"] == {"median": 3600.0, "p90": 3600.0, "count": 1}
    assert (support["first_contact_resolution"], billing["first_contact_resolution"]) == (round(2 / 3, 4), 0.0)
    assert (support["csat"]["score"], billing["csat"]["score"]) == (round(2 / 3, 4), 0.0)

    maria, anna, bob = (report["by_agent"][name] for name in ("maria", "anna", "bob"))
    assert maria["first_response_seconds"] == {"median": 237.5, "p90": 1000 - 0.3 * 635, "count": 4}
    assert anna["first_response_seconds"] == {"median": 305.0, "p90": 305.0, "count": 1}
    assert bob["first_response_seconds"]["count"] == 0  # bob answered after anna had
    assert maria["resolution_seconds"]["count"] == 4 and bob["resolution_seconds"]["median"] == 3600.0
    assert maria["first_contact_resolution"] == round(2 / 3, 4) and bob["first_contact_resolution"] == 0.0
    assert maria["csat"]["responses"] == 3 and bob["csat"]["distribution"]["3"] == 1

    telegram, email, slack = (report["by_channel"][name] for name in ("telegram", "email", "slack"))
    assert (telegram["conversations"], email["conversations"], slack["conversations"]) == (4, 2, 1)
    assert telegram["deflection_rate"] == round(1 / 3, 4) and telegram["handoff_rate"] == round(2 / 3, 4)
    assert email["deflection_rate"] == 0.0 and email["handoff_rate"] == 1.0
    assert telegram["cases"] == {"opened": 2, "resolved": 3, "reopened": 1, "backlog": 1}
    assert set(report["by_language"]) == {"en", "el", "hu", "lv"}
    assert report["by_language"]["el"]["first_response_seconds"]["median"] == 365.0


async def test_filters_by_team_and_channel(redis: Redis, week: Keys) -> None:
    billing = (await build_report(redis, week, ReportQuery(since=T0, until=T0 + WEEK, team="billing"))).to_json()
    assert billing["team"] == "billing"
    assert billing["cases"] == {"opened": 1, "resolved": 1, "reopened": 0, "backlog": 1}
    assert billing["deflection_rate"] is None
    assert set(billing["by_agent"]) == {"bob"}  # anna's work on 1002 was support's
    email = (await build_report(redis, week, ReportQuery(since=T0, until=T0 + WEEK, channel="email"))).to_json()
    assert email["conversations"] == 2 and email["cases"]["opened"] == 2
    assert email["first_response_seconds"] == {"median": 365.0, "p90": 365.0, "count": 1}
    assert email["top_entries"] == []  # both FAQ answers were on telegram
    assert set(email["by_channel"]) == {"email"}


async def test_top_entries_gaps_and_topics_with_last_week(redis: Redis, week: Keys) -> None:
    report = (await build_report(redis, week, ReportQuery(since=T0, until=T0 + WEEK))).to_json()
    assert report["top_entries"] == [{"entry": "refund", "answered": 1, "resolved_rate": 1.0},
                                     {"entry": "shipping", "answered": 1, "resolved_rate": 0.0}]
    # c3 twice and c6 once asked where the parcel is (c3's case resolved afterwards, c6's not); c4 asked
    # for a person. Without a knowledge base there is no closest entry.
    assert report["top_gaps"] == [{"question": "where is my parcel", "count": 3, "closest_entry": None},
                                  {"question": "I want to talk to a human", "count": 1, "closest_entry": None}]
    topics = {(t["kind"], t["topic"]): t for t in report["topics"]}
    assert topics[("entry", "refund")] == {"topic": "refund", "kind": "entry", "count": 1, "resolution_rate": 1.0,
                                           "previous_count": 1}
    assert topics[("entry", "shipping")]["previous_count"] == 0
    assert topics[("gap", "where is my parcel")]["resolution_rate"] == round(2 / 3, 4)
    assert topics[("gap", "I want to talk to a human")]["resolution_rate"] == 1.0


async def test_daily_series(redis: Redis, week: Keys) -> None:
    series = (await build_report(redis, week, ReportQuery(since=T0, until=T0 + WEEK))).to_json()["series"]
    assert series["bucket_seconds"] == 86400
    assert series["starts"][0] == "2026-11-23T00:00:00Z" and len(series["starts"]) == 7
    assert series["conversations_by_channel"] == {"email": [1, 0, 1, 0, 0, 0, 0], "slack": [1, 0, 0, 0, 0, 0, 0],
                                                  "telegram": [2, 1, 0, 1, 0, 0, 0]}
    assert series["deflection_rate"] == [round(1 / 3, 4), 0.0, 0.0, 0.0, None, None, None]
    assert series["first_response_median_seconds"] == [335.0, 85.0, None, 1000.0, None, None, None]
    assert series["resolution_median_seconds"] == [3600.0, 270.0, None, None, None, None, None]
    assert series["csat_score"] == [0.5, 0.5, None, None, None, None, None]


async def test_an_hourly_bucket_and_an_empty_period(redis: Redis, week: Keys) -> None:
    day = (await build_report(redis, week, ReportQuery(since=T0, until=T0 + DAY, bucket_seconds=3600))).to_json()
    assert len(day["series"]["starts"]) == 24
    assert day["series"]["first_response_median_seconds"][0] == 365.0  # 1001 at +465
    assert day["series"]["first_response_median_seconds"][1] == 305.0  # 1002 at +3905
    empty = (await build_report(redis, week, ReportQuery(since=T0 - 30 * DAY, until=T0 - 20 * DAY))).to_json()
    assert empty["conversations"] == 0 and empty["deflection_rate"] is None
    assert empty["first_response_seconds"] == {"median": None, "p90": None, "count": 0}
    assert empty["csat"]["score"] is None and empty["nps"]["score"] is None and empty["ces"]["average"] is None


class NineToFive:
    """Working time Monday to Friday 09:00-17:00 UTC, counted hour by hour (an independent reckoning
    of what business hours do to the clocks)."""

    def working_seconds(self, start: float, end: float) -> float:
        total, at = 0.0, start
        while at < end:
            moment = datetime.fromtimestamp(at, UTC)
            next_hour = (int(at) // 3600 + 1) * 3600
            step = min(end, next_hour) - at
            if moment.weekday() < 5 and 9 <= moment.hour < 17:
                total += step
            at += step
        return total


async def test_business_hours_pause_the_clocks(redis: Redis, week: Keys) -> None:
    # A case opened Friday 16:00 and answered Monday 10:00 waited 1 + 1 = 2 working hours.
    friday, monday = T0 + 4 * DAY + 16 * 3600, T0 + WEEK + 10 * 3600
    await redis.delete(week.events)
    await write(redis, week, [
        event("case_opened", friday, case=2001, conversation="w", team="support", channel="email"),
        event("message_delivered", monday, case=2001, conversation="w", author="agent")])
    query = ReportQuery(since=T0 + WEEK, until=T0 + WEEK + DAY, history_seconds=14 * DAY)
    report = (await build_report(redis, week, query, hours={"support": NineToFive()})).to_json()
    assert report["first_response_seconds"] == {"median": 7200.0, "p90": 7200.0, "count": 1}
    wall = (await build_report(redis, week, query)).to_json()
    assert wall["first_response_seconds"]["median"] == monday - friday
    billing_hours = (await build_report(redis, week, query, hours={"billing": NineToFive()})).to_json()
    assert billing_hours["first_response_seconds"]["median"] == monday - friday  # support has none: wall clock


async def test_a_reply_reported_undelivered_is_no_first_response(redis: Redis, prefix: str) -> None:
    keys = Keys(prefix)
    await write(redis, keys, [
        event("case_opened", T0, case=1, conversation="a", team="support", channel="email"),
        event("agent_reply", T0 + 60, case=1, agent="maria"),
        event("delivery_failed", T0 + 61, case=1, conversation="a", author="agent", channel="email"),
        event("case_resolved", T0 + 120, case=1, agent="maria", team="support"),
        event("case_closed", T0 + 200, case=1, conversation="a"),
        # a case on a channel without delivery reports: its reply stands in
        event("case_opened", T0, case=2, conversation="b", team="support", channel="console"),
        event("agent_reply", T0 + 30, case=2, agent="maria"),
    ])
    report = (await build_report(redis, keys, ReportQuery(since=T0, until=T0 + DAY))).to_json()
    assert report["first_response_seconds"] == {"median": 30.0, "p90": 30.0, "count": 1}
    assert report["cases"]["backlog"] == 1


async def test_a_question_answered_while_a_case_is_open_is_no_deflection(redis: Redis, prefix: str) -> None:
    keys = Keys(prefix)
    await write(redis, keys, [
        event("message_in", T0 - DAY, conversation="a", channel="telegram", language="en"),
        event("case_opened", T0 - DAY, case=1, conversation="a", team="support", channel="telegram"),
        event("message_in", T0 + 10, conversation="a", channel="telegram", language="en", case=1),
        event("faq_match", T0 + 10, conversation="a", decision="answer", faq_entry="refund", question="q", case=1),
        event("bot_answer", T0 + 10, conversation="a", faq_entry="refund", case=1),
    ])
    report = (await build_report(redis, keys, ReportQuery(since=T0, until=T0 + DAY))).to_json()
    assert report["conversations"] == 1 and report["conversations_with_question"] == 0
    assert report["deflection_rate"] is None
    assert report["top_entries"] == [{"entry": "refund", "answered": 1, "resolved_rate": 1.0}]
