"""The retention sweep (router/retention.py) on a real Redis: what goes, what stays, and the races."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from bot.settings import Settings
from router.messages import ActionKind, DeliveryReport, InboundMessage, Sender, inbox_fields, new_id
from router.retention import Swept, sweep_retention
from router.sweeper import close_unrated
from router.turn import Turn
from tests.drivers import Agent, Customer, case_hash, events
from tests.router.test_flow import case_number_in

DAY = 86400.0
DAYS = 90.0


def customer_keys(helpline: Any, customer: Customer, conversation_id: str) -> list[str]:
    keys = helpline.keys
    return [keys.conversation(conversation_id), keys.transcript(conversation_id),
            keys.address("console", customer.address)]


async def conversation_of(helpline: Any, customer: Customer) -> str:
    return str(await helpline.redis.get(helpline.keys.address("console", customer.address)))


async def all_keys(helpline: Any) -> set[str]:
    return {str(key) async for key in helpline.redis.scan_iter(match=f"{helpline.keys.prefix}*", count=1000)}


@pytest.fixture
def days_ago(helpline: Any) -> Iterator[Callable[[float], None]]:
    """Set the router's clock `n` days back (0: now again), so conversations can be made old."""
    router = helpline.router
    real = router.clock

    def set_back(days: float) -> None:
        router.clock = (lambda: real() - days * DAY) if days else real

    yield set_back
    router.clock = real


def new_customer(helpline: Any, worker: Any) -> Customer:
    return Customer(helpline, worker)


async def test_an_idle_conversation_goes_whole_and_nothing_else(helpline, worker, customer: Customer,
                                                                days_ago) -> None:
    days_ago(DAYS + 5)
    assert await customer.say("hello")
    old = await conversation_of(helpline, customer)
    other = new_customer(helpline, worker)
    days_ago(DAYS - 5)  # idle, but not for long enough
    assert await other.say("hello")
    kept = await conversation_of(helpline, other)
    days_ago(0)
    before = await all_keys(helpline)
    assert set(customer_keys(helpline, customer, old)) <= before

    swept = await sweep_retention(helpline.redis, helpline.keys, DAYS)

    assert (swept.removed, swept.kept_open) == (1, 0)
    after = await all_keys(helpline)
    # Exactly its hash, transcript and address went (and the marker that the old data was indexed came).
    assert before - after == set(customer_keys(helpline, customer, old))
    assert after - before == {helpline.keys.retention_indexed}
    assert await helpline.redis.zrange(helpline.keys.conversations, 0, -1) == [kept]
    assert await helpline.redis.exists(*customer_keys(helpline, other, kept)) == 3
    removed = [e for e in await events(helpline) if e["type"] == "conversation_removed"]
    assert [(e["conversation"], e["channel"]) for e in removed] == [(old, "console")]
    # The events of the removed conversation stay, for the reports.
    assert any(e["type"] == "conversation_started" and e["conversation"] == old for e in await events(helpline))
    # The customer writing again starts afresh, and is answered.
    replies = await customer.say("How long does delivery take?")
    assert replies and replies[0].text.startswith("Delivery")
    assert await conversation_of(helpline, customer) not in (old, "None")
    assert (await sweep_retention(helpline.redis, helpline.keys, DAYS)).removed == 0


@pytest.mark.parametrize("days", [0, None])
async def test_zero_or_null_keeps_everything(helpline, customer: Customer, days_ago, days) -> None:
    days_ago(10 * 365)
    assert await customer.say("hello")
    days_ago(0)
    before = await all_keys(helpline)
    assert await sweep_retention(helpline.redis, helpline.keys, days) == Swept()
    assert await all_keys(helpline) == before


async def test_a_conversation_with_an_open_case_is_never_removed(helpline, worker, customer: Customer,
                                                                 agent: Agent, days_ago) -> None:
    days_ago(DAYS + 30)
    number = case_number_in((await customer.say("I want to talk to a person"))[-1].text)
    conversation = await conversation_of(helpline, customer)
    later = time.time() + DAYS * DAY  # far past the retention of everything written so far
    keys = customer_keys(helpline, customer, conversation)
    for status, act in (("queued", None), ("assigned", ActionKind.CLAIM), ("resolved", ActionKind.RESOLVE)):
        if act is not None:
            days_ago(DAYS + 20)
            await agent.act(act, number)
            days_ago(0)
        assert (await case_hash(helpline, number))["status"] == status
        swept = await sweep_retention(helpline.redis, helpline.keys, DAYS, now=later)
        assert (swept.removed, swept.kept_open) == (0, 1), status
        assert all([await helpline.redis.exists(key) for key in keys]), status
        later += DAYS * DAY  # the kept one is looked at again a retention later, not every sweep
        assert (await sweep_retention(helpline.redis, helpline.keys, DAYS, now=later - 1)).kept_open == 0

    # Closed (nobody rated it): it goes a retention after the close, and the case keeps no customer words.
    assert await close_unrated(helpline.redis, helpline.keys, 7, now=time.time() + 8 * DAY) == 1
    await worker.drain()
    case = await case_hash(helpline, number)
    assert case["status"] == "closed" and case["subject"] and case["customer_name"]
    assert await sweep_retention(helpline.redis, helpline.keys, DAYS, now=time.time() + DAYS * DAY - 60) == Swept()
    swept = await sweep_retention(helpline.redis, helpline.keys, DAYS, now=time.time() + DAYS * DAY + 60)
    assert (swept.removed, swept.cases_scrubbed) == (1, 1)
    assert not any([await helpline.redis.exists(key) for key in keys])
    case = await case_hash(helpline, number)
    assert case["status"] == "closed" and case["subject"] == "" and case["customer_name"] == ""
    assert case["conversation"] == conversation and case["team"] and float(case["closed_at"])  # the numbers stay
    assert {"case_opened", "case_claimed", "case_resolved", "case_closed"} <= {
        e["type"] for e in await events(helpline) if e.get("case") == str(number)}
    assert await helpline.redis.zcard(helpline.keys.closed) == 0


async def test_a_reopened_case_keeps_its_text(helpline, worker, customer: Customer, agent: Agent) -> None:
    number = case_number_in((await customer.say("I want to talk to a person"))[-1].text)
    await agent.act(ActionKind.RESOLVE, number)
    await close_unrated(helpline.redis, helpline.keys, 7, now=time.time() + 8 * DAY)
    await worker.drain()
    assert await helpline.redis.zscore(helpline.keys.closed, str(number)) is not None
    assert (await agent.act(ActionKind.REOPEN, number))["ok"]
    assert await helpline.redis.zscore(helpline.keys.closed, str(number)) is None
    await sweep_retention(helpline.redis, helpline.keys, DAYS, now=time.time() + 2 * DAYS * DAY)
    assert (await case_hash(helpline, number))["subject"]


@pytest.mark.parametrize("optimistic", [True, False], ids=["optimistic", "watch"])
async def test_a_message_racing_the_removal_is_handled_once_in_a_fresh_conversation(
        helpline, customer: Customer, days_ago, optimistic: bool) -> None:
    """The sweep removes the conversation after the router read it and before it commits: the commit
    fails its check, the message is decided again and starts a fresh conversation; nothing is half done."""
    helpline.router.optimistic = optimistic
    days_ago(DAYS + 1)
    assert await customer.say("hello")
    old = await conversation_of(helpline, customer)
    days_ago(0)
    router = helpline.router
    decide = router._on_message
    swept: list[Any] = []

    async def sweep_between_read_and_commit(turn: Turn, message: Any) -> None:
        await decide(turn, message)
        if not swept:  # the first attempt only
            swept.append(await sweep_retention(helpline.redis, helpline.keys, DAYS))

    router._on_message = sweep_between_read_and_commit  # type: ignore[method-assign]
    try:
        replies = await customer.say("How long does delivery take?")
    finally:
        router._on_message = decide  # type: ignore[method-assign]
    assert swept and swept[0].removed == 1
    assert len(replies) == 2 and replies[0].text.startswith("Delivery")  # answered once: answer + "did it help?"
    fresh = await conversation_of(helpline, customer)
    assert fresh != old
    assert not await helpline.redis.exists(helpline.keys.conversation(old), helpline.keys.transcript(old))
    lines = [fields for _, fields in await helpline.redis.xrange(helpline.keys.transcript(fresh))]
    assert [line["role"] for line in lines].count("customer") == 1
    assert await helpline.redis.hget(helpline.keys.conversation(fresh), "channel") == "console"
    arrived = [e for e in await events(helpline) if e["type"] == "message_in"]
    assert [e["conversation"] for e in arrived] == [old, fresh]
    assert await helpline.redis.zrange(helpline.keys.conversations, 0, -1) == [fresh]


async def test_messages_and_two_sweepers_at_once(helpline, worker, days_ago) -> None:
    """Two services sweep while customers write: every message is handled exactly once, each conversation
    goes once (or is kept because its customer wrote first), and a second round finds nothing."""
    days_ago(DAYS + 2)
    customers = [new_customer(helpline, worker) for _ in range(40)]
    for someone in customers:
        assert await someone.say("hello")
    old = {someone.address: await conversation_of(helpline, someone) for someone in customers}
    days_ago(0)
    writing = customers[::2]
    sent = []  # (message id, inbox entry id)
    for someone in writing:
        message = InboundMessage(id=new_id(), channel="console", address=someone.address,
                                 sender=Sender(id=someone.address, name=someone.name),
                                 text="How long does delivery take?", received_at=time.time())
        sent.append((message.id, str(await helpline.redis.xadd(helpline.keys.inbox, inbox_fields(message)))))

    first, second, _ = await asyncio.gather(sweep_retention(helpline.redis, helpline.keys, DAYS, batch=7),
                                            sweep_retention(helpline.redis, helpline.keys, DAYS, batch=5),
                                            worker.drain())
    await worker.drain()
    removed = [e["conversation"] for e in await events(helpline) if e["type"] == "conversation_removed"]
    assert first.removed + second.removed == len(removed) == len(set(removed))
    assert set(removed) <= set(old.values())
    # Every message: in once, answered once, in the conversation its address leads to now.
    arrived = [e["entry"] for e in await events(helpline) if e["type"] == "message_in"]
    for (message_id, entry_id), someone in zip(sent, writing):
        assert arrived.count(entry_id) == 1
        replies = [m for m in await someone.inbox() if m.id.startswith(f"{entry_id}.")]
        assert len(replies) == 2, replies  # the answer and "did this help?", once
        conversation = await conversation_of(helpline, someone)
        assert conversation != "None"
        texts = [f["text"] for _, f in await helpline.redis.xrange(helpline.keys.transcript(conversation))
                 if f["role"] == "customer"]
        assert texts.count("How long does delivery take?") == 1
        if old[someone.address] in removed:
            assert conversation == message_id and texts == ["How long does delivery take?"]
        else:
            assert conversation == old[someone.address] and texts == ["hello", "How long does delivery take?"]
    # The silent ones are all gone; nothing left is due.
    for someone in customers[1::2]:
        assert not await helpline.redis.exists(*customer_keys(helpline, someone, old[someone.address]))
    again = await sweep_retention(helpline.redis, helpline.keys, DAYS)
    assert again.removed == 0


async def test_data_stored_before_the_sweep_existed_is_indexed_once(helpline, worker, customer: Customer,
                                                                    agent: Agent, days_ago) -> None:
    days_ago(DAYS + 3)
    assert await customer.say("hello")
    old = await conversation_of(helpline, customer)
    other = new_customer(helpline, worker)
    number = case_number_in((await other.say("I want to talk to a person"))[-1].text)
    await agent.act(ActionKind.RESOLVE, number)
    await close_unrated(helpline.redis, helpline.keys, 7, now=helpline.router.clock() + 8 * DAY)
    await worker.drain()
    days_ago(0)
    recent = new_customer(helpline, worker)
    assert await recent.say("hello")
    # As stored by a version without the indexes.
    await helpline.redis.delete(helpline.keys.conversations, helpline.keys.closed, helpline.keys.retention_indexed)

    swept = await sweep_retention(helpline.redis, helpline.keys, DAYS)

    assert (swept.removed, swept.cases_scrubbed) == (2, 1)
    assert not await helpline.redis.exists(*customer_keys(helpline, customer, old))
    assert await helpline.redis.exists(*customer_keys(helpline, recent, await conversation_of(helpline, recent))) == 3
    assert (await case_hash(helpline, number))["subject"] == ""
    assert await helpline.redis.exists(helpline.keys.retention_indexed)


def test_the_setting() -> None:
    assert Settings().retention.conversation_days == 90
    assert Settings.model_validate({"retention": {"conversation_days": None}}).retention.conversation_days is None
    assert Settings.model_validate({"retention": {"conversation_days": 0}}).retention.conversation_days == 0
    with pytest.raises(ValidationError, match="conversation_days"):
        Settings.model_validate({"retention": {"conversation_days": -1}})
    with pytest.raises(ValidationError, match="conversation_dayz"):
        Settings.model_validate({"retention": {"conversation_dayz": 30}})



@pytest.mark.parametrize(("channel", "days"), [("telegram", 2), ("email", 14), ("slack", 14)])
async def test_seen_marks_last_the_platform_s_redelivery_window(helpline, worker, channel: str, days: int) -> None:
    """Telegram drops an undelivered update after 24 hours: its seen marks need two days, not fourteen; a
    redelivery inside the window is still dropped."""
    keys = helpline.keys

    async def deliver() -> None:
        message = InboundMessage(id=new_id(), channel=channel, address="chat-1", sender=Sender(id="u1", name="Ann"),
                                 text="How long does delivery take?", received_at=time.time(), platform_id="42:7")
        await helpline.redis.xadd(keys.inbox, inbox_fields(message))
        await worker.drain()

    await deliver()
    await deliver()  # the platform sends it again
    ttl = await helpline.redis.ttl(keys.seen(channel, "42:7"))
    assert days * DAY - 60 < ttl <= days * DAY
    assert [e["type"] for e in await events(helpline)].count("message_in") == 1


async def test_a_late_delivery_failure_leaves_no_transcript_for_good(helpline, worker, customer: Customer,
                                                                  days_ago) -> None:
    """A failure report for a conversation removed meanwhile writes a system line to a transcript of its
    own: that transcript is indexed like any, and goes a retention later."""
    days_ago(DAYS + 1)
    assert await customer.say("hello")
    old = await conversation_of(helpline, customer)
    days_ago(0)
    assert (await sweep_retention(helpline.redis, helpline.keys, DAYS)).removed == 1
    report = DeliveryReport(id=new_id(), message_id="m1", channel="console", conversation=old, delivered=False,
                            reason="gave up", at=time.time())
    await helpline.redis.xadd(helpline.keys.inbox, inbox_fields(report))
    await worker.drain()
    assert await helpline.redis.exists(helpline.keys.transcript(old))
    assert (await sweep_retention(helpline.redis, helpline.keys, DAYS)).removed == 0
    assert (await sweep_retention(helpline.redis, helpline.keys, DAYS, now=time.time() + DAYS * DAY + 60)).removed == 1
    assert not await helpline.redis.exists(helpline.keys.transcript(old), helpline.keys.conversation(old))


@pytest.mark.parametrize("days", [DAYS, 0])
async def test_the_service_s_sweeps_run_the_retention(helpline, customer: Customer, days_ago, days) -> None:
    from router.sweeper import sweep_forever

    days_ago(DAYS + 1)
    assert await customer.say("hello")
    key = helpline.keys.conversation(await conversation_of(helpline, customer))
    stop = asyncio.Event()
    sweeps = asyncio.create_task(sweep_forever(helpline.redis, helpline.keys, 7, stop, interval=0.05,
                                               retention_days=days))
    try:
        for _ in range(100):
            if not await helpline.redis.exists(key):
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(sweeps, 5)
    assert bool(await helpline.redis.exists(key)) is (days == 0)


def _without_customer_words(report: dict[str, Any]) -> dict[str, Any]:
    """The report but its gap questions (the customer's words, which the retention removes)."""
    return {**report, "top_gaps": None, "topics": [t for t in report["topics"] if t["kind"] != "gap"]}


async def test_the_events_keep_no_question_and_old_reports_keep_their_figures(helpline, worker, agent: Agent) -> None:
    """The customer's words of the events live in the `questions` stream, which the sweep trims to the
    retention; the events stay, so a report over a period past the retention has the same figures."""
    from router.report import ReportQuery, build_report

    words = "zqxj wibble frobnicate my parcel"
    start = time.time()
    answered = Customer(helpline, worker)
    assert (await answered.say("How long does delivery take?"))[0].text.startswith("Delivery")
    asking = Customer(helpline, worker)
    await asking.say(words)
    number = case_number_in((await asking.say(words))[-1].text)  # asked again: a case
    await agent.act(ActionKind.CLAIM, number)
    await agent.act(ActionKind.REPLY, number, text="Let me check.")
    await agent.act(ActionKind.RESOLVE, number)
    await asking.say("", option="rate:4")
    query = ReportQuery(since=start - 1, until=time.time() + 0.01, bucket_seconds=3600)
    await asyncio.sleep(0.02)  # what comes next is after the report's period
    recorded = await events(helpline)
    assert not [e for e in recorded if any(words in value for value in e.values())]  # no words in `events`
    before = (await build_report(helpline.redis, helpline.keys, query)).to_json()
    assert [gap["question"] for gap in before["top_gaps"]] == [words]  # read from the questions stream
    from bot.commands_faq import read_gap_questions

    gaps_before = [q.text for q in await read_gap_questions(helpline.redis, helpline.keys.events, 3600)]
    assert gaps_before.count(words) == 2  # `helpline faq gaps` reads them there too
    asked = await helpline.redis.xlen(helpline.keys.questions)
    later = time.time() + DAYS * DAY - 3600  # asked a retention later: its words stay at the sweep below
    await helpline.redis.xadd(helpline.keys.questions, {"ref": "r-late", "question": "kept"}, id=f"{int(later * 1000)}-0")

    swept = await sweep_retention(helpline.redis, helpline.keys, DAYS, now=time.time() + DAYS * DAY + 60)

    assert asked >= 3 and swept.questions_removed == asked and swept.removed == 2
    assert len(await events(helpline)) > len(recorded)  # every event stays (and the removals are added)
    after = (await build_report(helpline.redis, helpline.keys, query)).to_json()
    assert after["top_gaps"] == []
    assert _without_customer_words(after) == _without_customer_words(before)
    assert after["conversations"] == 2 and after["cases"]["opened"] == 1 and after["csat"]["responses"] == 1
    assert await read_gap_questions(helpline.redis, helpline.keys.events, 3600) == []
    remaining = await helpline.redis.xrange(helpline.keys.questions)
    assert [fields["question"] for _, fields in remaining] == ["kept"]
