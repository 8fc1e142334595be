"""The agents' desk end to end: the router in-process, Slack a loopback fake, Redis real."""

from __future__ import annotations

import asyncio
import json
import re
import time

from bot.app import Helpline
from channels.slack.adapter import SlackChannel
from router.messages import DeskEvent, from_json
from router.sla import SlaPolicy, SlaRules
from router.worker import StreamWorker
from tests.drivers import Customer, case_hash
from tests.router.test_flow import case_number_in
from tests.slack.conftest import (
    ANN,
    BILLING,
    BOB,
    CAROL,
    EVE,
    SUPPORT,
    block_action,
    dispatch,
    event_body,
    message_event,
    slash,
)
from tests.slack.fake_slack import Failure, FakeSlack


async def show_desk(helpline: Helpline, slack: SlackChannel) -> None:
    await helpline.desk_worker(slack, block_ms=10).drain()


async def settle(helpline: Helpline, worker: StreamWorker, slack: SlackChannel) -> None:
    """Let the router decide what is in the inbox, the desk hear the verdicts and show the events."""
    await worker.drain()
    await slack.desk.drain()
    await show_desk(helpline, slack)


async def open_case(helpline: Helpline, customer: Customer, slack: SlackChannel) -> tuple[int, str]:
    """A console customer asks for a person; returns the case number and its notice's ts."""
    await customer.say("How long does delivery take?")
    number = case_number_in((await customer.say("no"))[-1].text)
    await show_desk(helpline, slack)
    mapping = await slack.desk.mapping(number)
    assert mapping["channel"] == SUPPORT
    return number, mapping["ts"]


async def claim(helpline: Helpline, worker: StreamWorker, slack: SlackChannel, user: str, number: int) -> None:
    await dispatch(slack, block_action(user, SUPPORT, "hl_claim", str(number)))
    await settle(helpline, worker, slack)


async def test_new_case_notice_with_history_and_buttons(desk_helpline: Helpline, customer: Customer,
                                                        slack: SlackChannel, fake: FakeSlack) -> None:
    number, _ = await open_case(desk_helpline, customer, slack)
    notice = fake.posts(SUPPORT)[0]
    text = json.dumps(notice["blocks"])
    assert f"Case #{number}" in text and "Ann Customer" in text and "console" in text and "waiting" in text
    assert "How long does delivery take?" in text  # the exchange so far
    actions = [element for block in notice["blocks"] if block["type"] == "actions" for element in block["elements"]]
    assert [element["action_id"] for element in actions] == ["hl_claim", "hl_transfer"]
    assert [option["value"] for option in actions[1]["options"]] == [f"{number}:billing"]


async def test_claim_race_has_one_winner(desk_helpline: Helpline, customer: Customer, worker: StreamWorker,
                                         slack: SlackChannel, fake: FakeSlack) -> None:
    number, ts = await open_case(desk_helpline, customer, slack)
    await asyncio.gather(dispatch(slack, block_action(ANN, SUPPORT, "hl_claim", str(number), ts)),
                         dispatch(slack, block_action(BOB, SUPPORT, "hl_claim", str(number), ts)))
    await settle(desk_helpline, worker, slack)
    winner = (await case_hash(desk_helpline, number))["agent"]
    loser = BOB if winner == ANN else ANN
    refusals = fake.called("chat.postEphemeral")
    assert [refusal["user"] for refusal in refusals] == [loser]
    assert "assigned" in refusals[0]["text"]
    updates = [update for update in fake.called("chat.update") if update["ts"] == ts]
    assert f"Claimed by <@{winner}>" in json.dumps(updates[-1]["blocks"])
    assert "hl_claim" not in json.dumps(updates[-1]["blocks"])
    controls = fake.posts(SUPPORT, thread_ts=ts)[-1]
    assert ["hl_resolve", "hl_release", "hl_transfer"] == [
        element["action_id"] for element in controls["blocks"][-1]["elements"]]


async def test_only_the_assigned_agent_is_relayed_and_notes_stay_inside(
        desk_helpline: Helpline, customer: Customer, worker: StreamWorker, slack: SlackChannel,
        fake: FakeSlack) -> None:
    number, ts = await open_case(desk_helpline, customer, slack)
    await claim(desk_helpline, worker, slack, ANN, number)
    await customer.inbox()  # "an agent joined"
    for user, text in ((ANN, "Hi, *your parcel* left today: <https://track.example/1|tracking>"),
                       (BOB, "I think it was lost"), (ANN, "note: check with the courier")):
        await dispatch(slack, event_body(message_event(SUPPORT, user, text, thread_ts=ts)))
    await settle(desk_helpline, worker, slack)
    relayed = [message.text for message in await customer.inbox()]
    assert relayed == ["Ann: Hi, your parcel left today: tracking (https://track.example/1)"]
    transcript = (await desk_helpline.channel_context().desk.case(number))["transcript"]  # type: ignore[union-attr]
    notes = [line["text"] for line in transcript if line["role"] == "note"]
    assert notes == ["I think it was lost", "check with the courier"]
    assert fake.called("chat.postEphemeral") == []


async def test_customer_messages_and_delivery_marks_in_the_thread(
        desk_helpline: Helpline, customer: Customer, worker: StreamWorker, slack: SlackChannel,
        fake: FakeSlack) -> None:
    number, ts = await open_case(desk_helpline, customer, slack)
    await claim(desk_helpline, worker, slack, ANN, number)
    await customer.say("Still <waiting> & @channel", platform_id="m-9")
    await show_desk(desk_helpline, slack)
    copy = fake.posts(SUPPORT, thread_ts=ts)[-1]["text"]
    assert "Still &lt;waiting&gt; &amp; @channel" in copy and "<" not in copy.replace("<@", "")
    reply = message_event(SUPPORT, ANN, "On its way", thread_ts=ts)
    await dispatch(slack, event_body(reply))
    await settle(desk_helpline, worker, slack)
    await desk_helpline.console_sender(block_ms=10).drain()  # the customer's channel accepts it
    await settle(desk_helpline, worker, slack)
    assert {"channel": SUPPORT, "timestamp": reply["ts"], "name": "white_check_mark"}.items() <= \
        fake.called("reactions.add")[-1].items()


async def test_delivery_failure_is_shown_in_the_thread(desk_helpline: Helpline, worker: StreamWorker,
                                                       slack: SlackChannel, fake: FakeSlack) -> None:
    # A Slack DM customer this time: their channel is the one that fails.
    dm_event = message_event("D0DIRECT01", EVE, "human please")
    await dispatch(slack, event_body(dm_event))
    await worker.drain()
    await desk_helpline.channel_sender(slack, block_ms=10).drain()
    await show_desk(desk_helpline, slack)
    number = int(re.search(r"#(\d+)", fake.posts("D0DIRECT01")[-1]["text"]).group(1))  # type: ignore[union-attr]
    ts = (await slack.desk.mapping(number))["ts"]
    await claim(desk_helpline, worker, slack, ANN, number)
    await desk_helpline.channel_sender(slack, block_ms=10).drain()
    reply = message_event(SUPPORT, ANN, "Hello there", thread_ts=ts)
    await dispatch(slack, event_body(reply))
    await settle(desk_helpline, worker, slack)
    fake.fail("chat.postMessage", Failure(200, "is_archived"))
    await desk_helpline.channel_sender(slack, block_ms=10).drain()
    await settle(desk_helpline, worker, slack)
    warnings = [post["text"] for post in fake.posts(SUPPORT, thread_ts=ts) if "not delivered" in post["text"]]
    assert warnings == ["⚠️ not delivered: chat.postMessage: is_archived"]
    assert await desk_helpline.redis.xlen(desk_helpline.keys.dead_letters) == 1


async def test_transfer_to_another_queue_channel(desk_helpline: Helpline, customer: Customer, worker: StreamWorker,
                                                 slack: SlackChannel, fake: FakeSlack) -> None:
    number, ts = await open_case(desk_helpline, customer, slack)
    await claim(desk_helpline, worker, slack, ANN, number)
    await dispatch(slack, block_action(ANN, SUPPORT, "hl_transfer", f"{number}:billing", thread_ts=ts, select=True))
    await settle(desk_helpline, worker, slack)
    assert (await case_hash(desk_helpline, number))["team"] == "billing"
    notice = fake.posts(BILLING)[-1]
    text = json.dumps(notice["blocks"])
    assert f"Case #{number}" in text and "Transferred from Customer Support" in text
    assert "How long does delivery take?" in text  # the transcript travels with it
    assert any("Transferred to Billing" in post["text"] for post in fake.posts(SUPPORT, thread_ts=ts))
    new_ts = (await slack.desk.mapping(number))["ts"]
    assert (await slack.desk.mapping(number))["channel"] == BILLING and new_ts != ts
    # Carol is named for billing, Ann is in its user group; Bob is a member of the channel.
    await dispatch(slack, block_action(CAROL, BILLING, "hl_claim", str(number), new_ts))
    await settle(desk_helpline, worker, slack)
    assert (await case_hash(desk_helpline, number))["agent"] == CAROL


async def test_unauthorised_user_is_refused_and_nothing_changes(
        desk_helpline: Helpline, customer: Customer, worker: StreamWorker, slack: SlackChannel,
        fake: FakeSlack) -> None:
    number, ts = await open_case(desk_helpline, customer, slack)
    inbox_before = await desk_helpline.redis.xlen(desk_helpline.keys.inbox)
    await dispatch(slack, block_action(EVE, SUPPORT, "hl_claim", str(number), ts))
    await dispatch(slack, slash(EVE, SUPPORT, f"claim {number}"))
    await settle(desk_helpline, worker, slack)
    assert await desk_helpline.redis.xlen(desk_helpline.keys.inbox) == inbox_before
    assert (await case_hash(desk_helpline, number))["status"] == "queued"
    refusal = fake.called("chat.postEphemeral")
    assert refusal[0]["user"] == EVE and "Only Customer Support's agents" in refusal[0]["text"]


async def test_resolve_and_release_buttons(desk_helpline: Helpline, customer: Customer, worker: StreamWorker,
                                           slack: SlackChannel, fake: FakeSlack) -> None:
    number, ts = await open_case(desk_helpline, customer, slack)
    await claim(desk_helpline, worker, slack, ANN, number)
    await dispatch(slack, block_action(ANN, SUPPORT, "hl_release", str(number), thread_ts=ts))
    await settle(desk_helpline, worker, slack)
    assert (await case_hash(desk_helpline, number))["status"] == "queued"
    assert "hl_claim" in json.dumps(fake.called("chat.update")[-1]["blocks"])
    await claim(desk_helpline, worker, slack, BOB, number)
    await dispatch(slack, block_action(BOB, SUPPORT, "hl_resolve", str(number), thread_ts=ts))
    await settle(desk_helpline, worker, slack)
    assert (await case_hash(desk_helpline, number))["status"] == "resolved"
    assert "Resolved by <@U0BOB0001>" in json.dumps(fake.called("chat.update")[-1]["blocks"])


async def test_slash_commands(desk_helpline: Helpline, customer: Customer, worker: StreamWorker,
                              slack: SlackChannel, fake: FakeSlack) -> None:
    number, ts = await open_case(desk_helpline, customer, slack)
    queue = await dispatch(slack, slash(ANN, SUPPORT, "queue"))
    assert f"#{number} · Ann Customer · console" in json.loads(queue.body)["text"]
    assert json.loads(queue.body)["response_type"] == "ephemeral"
    assert "SLA" not in json.loads(queue.body)["text"]  # the team has no SLA
    desk_helpline.__dict__["sla_rules"] = SlaRules({"support": SlaPolicy(30 * 60)})  # now it has one
    await desk_helpline.redis.hset(desk_helpline.keys.case(number), "queued_at", repr(time.time() - 40 * 60))
    queue = await dispatch(slack, slash(ANN, SUPPORT, "queue"))
    assert re.search(rf"#{number} · Ann Customer · console · en · waiting 40m · SLA breached 10m ago",
                     json.loads(queue.body)["text"]), json.loads(queue.body)["text"]
    await dispatch(slack, slash(ANN, SUPPORT, f"claim {number}"))
    await settle(desk_helpline, worker, slack)
    assert (await case_hash(desk_helpline, number))["agent"] == ANN
    shown = await dispatch(slack, slash(ANN, SUPPORT, f"case {number}"))
    assert "assigned" in json.loads(shown.body)["text"]
    await customer.inbox()
    await dispatch(slack, slash(ANN, SUPPORT, "reply greeting"))
    await settle(desk_helpline, worker, slack)
    relayed = [message.text for message in await customer.inbox()]
    assert relayed == ["Ann: Hello Ann Customer, thank you for waiting. My name is Ann and I am looking at your "
                       "request now."]
    await dispatch(slack, slash(ANN, SUPPORT, "away"))
    assert await desk_helpline.redis.hget(desk_helpline.keys.agent(ANN), "status") == "away"
    await dispatch(slack, slash(ANN, SUPPORT, "back"))
    assert await desk_helpline.redis.hget(desk_helpline.keys.agent(ANN), "status") == "available"
    await dispatch(slack, slash(ANN, SUPPORT, "resolve"))  # her only case
    await settle(desk_helpline, worker, slack)
    assert (await case_hash(desk_helpline, number))["status"] == "resolved"


async def test_rate_limit_is_honoured_by_the_desk_worker(desk_helpline: Helpline, customer: Customer,
                                                         slack: SlackChannel, fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", Failure(429, retry_after=0.2), Failure(503))
    await customer.say("human")
    await show_desk(desk_helpline, slack)
    assert len(fake.posts(SUPPORT)) == 3  # two refused, the third posted
    events = [from_json(DeskEvent, fields["data"]) for _, fields in
              await desk_helpline.redis.xrange(desk_helpline.keys.desk)]
    assert (await slack.desk.mapping(events[0].case))["ts"]


async def test_what_the_bot_answers_while_a_case_waits_is_in_the_thread(
        desk_helpline: Helpline, customer: Customer, slack: SlackChannel, fake: FakeSlack) -> None:
    number, ts = await open_case(desk_helpline, customer, slack)
    replies = await customer.say("How long does delivery take?")  # the FAQ knows, though a person will follow
    assert replies[0].text == "Delivery takes 2 to 4 working days." and f"#{number}" in replies[1].text
    await show_desk(desk_helpline, slack)
    thread = [post["text"] for post in fake.posts(SUPPORT, thread_ts=ts)]
    assert any("How long does delivery take?" in text for text in thread)  # the customer's question
    assert any("answered from the FAQ" in text and "2 to 4 working days" in text for text in thread)
    assert (await case_hash(desk_helpline, number))["status"] == "queued"
