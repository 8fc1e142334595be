"""SLA on the Slack desk: the re-announcement mentioning the on-call group, and the escalated case's new notice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.app import Helpline
from channels.slack import create
from channels.slack.adapter import SlackChannel
from router.messages import DeskEvent, DeskEventKind, from_json
from router.worker import StreamWorker
from tests.drivers import Customer, case_hash
from tests.router.test_flow import case_number_in
from tests.router.test_sla import MINUTE, MONDAY_10, OFFICE, configure, sweep, utc
from tests.slack.conftest import BILLING, DM, EVE, SUPPORT, TEAMS, dispatch, event_body, message_event, slack_section
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_desk import settle, show_desk

ONCALL = "S0ONCALL1"
SLA_TEAMS = {"support": {**TEAMS["support"], "oncall_usergroup": ONCALL, "first_response_minutes": 30},
             "billing": {**TEAMS["billing"], "oncall_usergroup": None, "first_response_minutes": None}}


@pytest.fixture
async def sla_slack(fake: FakeSlack, desk_helpline: Helpline) -> AsyncIterator[SlackChannel]:
    channel = create(slack_section(fake), desk_helpline.channel_context(), SLA_TEAMS)
    await channel._identify()
    yield channel
    await channel.stop()


def top_level(fake: FakeSlack, channel: str) -> list[dict]:
    return [post for post in fake.posts(channel) if not post.get("thread_ts")]


async def desk_events(helpline: Helpline, kind: DeskEventKind) -> list[DeskEvent]:
    entries = await helpline.redis.xrange(helpline.keys.desk)
    found = [from_json(DeskEvent, fields["data"]) for _, fields in entries]
    return [event for event in found if event.kind is kind]


async def test_a_case_near_its_target_is_announced_again_mentioning_the_on_call_group(
        desk_helpline: Helpline, worker: StreamWorker, sla_slack: SlackChannel, fake: FakeSlack) -> None:
    clock = configure(desk_helpline, MONDAY_10)
    customer = Customer(desk_helpline, worker, name="Ann <!channel> & co")
    number = case_number_in((await customer.say("I want to talk to a human"))[-1].text)
    await show_desk(desk_helpline, sla_slack)
    assert len(top_level(fake, SUPPORT)) == 1  # the case's notice

    await sweep(desk_helpline, worker, clock, MONDAY_10 + 26 * MINUTE)
    await settle(desk_helpline, worker, sla_slack)
    posts = top_level(fake, SUPPORT)
    assert len(posts) == 2
    warning = posts[1]
    assert warning["text"] == (f"⏰ <!subteam^{ONCALL}> Case #{number} from Ann &lt;!channel&gt; &amp; co has waited "
                               "26m for a first response (target: 30 min).")
    buttons = [element for block in warning["blocks"] if block["type"] == "actions" for element in block["elements"]]
    assert [(button["action_id"], button["value"]) for button in buttons] == [("hl_claim", str(number))]

    # Shown again (a redelivered desk event) or swept again: still one warning.
    for event in await desk_events(desk_helpline, DeskEventKind.SLA_WARNING):
        await sla_slack.desk.show(event)
    await sweep(desk_helpline, worker, clock, MONDAY_10 + 40 * MINUTE)
    await settle(desk_helpline, worker, sla_slack)
    assert len(top_level(fake, SUPPORT)) == 2
    assert "<!channel>" not in json.dumps(fake.posts())


async def test_an_escalated_case_moves_to_the_other_teams_channel(
        desk_helpline: Helpline, worker: StreamWorker, sla_slack: SlackChannel, fake: FakeSlack) -> None:
    clock = configure(desk_helpline, MONDAY_10)
    customer = Customer(desk_helpline, worker)
    number = case_number_in((await customer.say("I want to talk to a human"))[-1].text)
    await show_desk(desk_helpline, sla_slack)
    old_notice = (await sla_slack.desk.mapping(number))["ts"]

    await sweep(desk_helpline, worker, clock, MONDAY_10 + 61 * MINUTE)
    await settle(desk_helpline, worker, sla_slack)
    assert (await case_hash(desk_helpline, number))["team"] == "billing"
    moved = [post["text"] for post in fake.posts(SUPPORT, thread_ts=old_notice)]
    assert any("Transferred to Billing by Helpline (SLA escalation)" in text for text in moved)
    assert len(top_level(fake, BILLING)) == 1 and f"Case #{number}" in top_level(fake, BILLING)[0]["text"]
    # Escalated without a warning first (the sweep was late): no mention of anyone in billing.
    assert "subteam" not in json.dumps(fake.posts(BILLING))


@pytest.mark.parametrize(("ask", "word", "back"), [
    ("I want to talk to a human", "status", "Monday 19 January at 09:00"),
    ("θέλω να μιλήσω με άνθρωπο", "κατάσταση", "Δευτέρα 19 Ιανουαρίου, στις 09:00"),
    ("θέλω να μιλήσω με άνθρωπο", "status", "Δευτέρα 19 Ιανουαρίου, στις 09:00"),  # a word of every language
    ("gribu runāt ar cilvēku", "statuss", "pirmdien, 19. janvārī, plkst. 09:00"),
    ("szeretnék egy ügyintézővel beszélni", "állapot", "január 19. (hétfő) 09:00 órától"),
])
async def test_status_in_a_slack_message_gives_the_place_and_when_the_team_is_back(
        desk_helpline: Helpline, worker: StreamWorker, sla_slack: SlackChannel, fake: FakeSlack, ask: str, word: str,
        back: str) -> None:
    configure(desk_helpline, utc(2026, 1, 17, 10), OFFICE)  # Saturday
    sender = desk_helpline.channel_sender(sla_slack, block_ms=10)
    await dispatch(sla_slack, event_body(message_event(DM, EVE, ask)))
    await worker.drain()
    await sender.drain()
    number = case_number_in(fake.posts(DM)[-1]["text"])
    await dispatch(sla_slack, event_body(message_event(DM, EVE, word)))
    await worker.drain()
    await sender.drain()
    status = fake.posts(DM)[-1]["text"]
    assert f"#{number}" in status and "1" in status and back in status
