"""The conversation and case state machine, end to end through the inbox and outbox streams."""

from __future__ import annotations

import dataclasses
import re
import time

from router.messages import ActionKind
from tests.drivers import Agent, Customer, case_hash, events


def case_number_in(text: str) -> int:
    match = re.search(r"#(\d+)", text)
    assert match, f"no case number in {text!r}"
    return int(match.group(1))


async def test_faq_answer_then_yes_is_deflected(customer: Customer, helpline) -> None:
    replies = await customer.say("How long does delivery take?")
    assert replies[0].text == "Delivery takes 2 to 4 working days."
    assert [option.value for option in replies[1].options] == ["yes", "no"]
    replies = await customer.say("", option="yes")
    assert len(replies) == 1 and "Glad" in replies[0].text
    kinds = [event["type"] for event in await events(helpline)]
    assert "bot_answer" in kinds and "answer_helpful" in kinds and "case_opened" not in kinds


async def test_answer_in_customer_language_without_accents(customer: Customer) -> None:
    replies = await customer.say("Cik ilgi notiek piegade?")
    assert replies[0].text == "Piegāde aizņem 2 līdz 4 darba dienas."
    assert replies[0].language == "lv"


async def test_no_then_case_with_entry_team(customer: Customer, helpline) -> None:
    await customer.say("What is your return policy?")
    replies = await customer.say("no")
    number = case_number_in(replies[-1].text)
    case = await case_hash(helpline, number)
    assert case["status"] == "queued" and case["team"] == "billing" and case["reason"] == "not_helpful"
    assert await helpline.redis.zscore(helpline.keys.queue("billing"), str(number)) is not None


async def test_asking_for_a_person_opens_a_case_in_every_language(helpline, worker) -> None:
    for text in ("I want to talk to a human", "θέλω να μιλήσω με άνθρωπο", "gribu runāt ar cilvēku",
                 "szeretnék egy ügyintézővel beszélni", "thelo anthropo"):
        customer = Customer(helpline, worker)
        replies = await customer.say(text)
        number = case_number_in(replies[-1].text)
        assert (await case_hash(helpline, number))["reason"] == "requested", text


async def test_full_case_lifecycle(customer: Customer, agent: Agent, helpline) -> None:
    replies = await customer.say("my cat ate the invoice and the courier sang opera")
    assert [option.value for option in replies[-1].options] == ["person"]  # one turn to put it another way
    replies = await customer.say("the parrot is the witness")
    number = case_number_in(replies[-1].text)
    assert "1" in replies[-1].text  # first in the queue

    # While queued the bot stays quiet except one acknowledgement.
    first = await customer.say("hello? anyone?")
    second = await customer.say("still there?")
    assert len(first) == 1 and f"#{number}" in first[0].text and second == []

    result = await agent.act(ActionKind.CLAIM, number)
    assert result["ok"], result
    assert "Maria" in (await customer.inbox())[0].text

    result = await agent.act(ActionKind.REPLY, number, text="Let me check that for you.")
    assert result["ok"]
    relayed = await customer.inbox()
    assert [message.text for message in relayed] == ["Maria: Let me check that for you."]
    assert relayed[0].author == "agent"

    result = await agent.act(ActionKind.NOTE, number, text="customer seems confused")
    assert result["ok"]
    assert await customer.inbox() == []  # a note never reaches the customer

    result = await agent.act(ActionKind.RESOLVE, number)
    assert result["ok"]
    resolved = await customer.inbox()
    assert f"#{number}" in resolved[0].text
    assert [option.value for option in resolved[1].options] == [f"rate:{n}" for n in range(1, 6)]

    thanks = await customer.say("", option="rate:5")
    assert len(thanks) == 1
    case = await case_hash(helpline, number)
    assert case["status"] == "closed" and case["csat"] == "5" and float(case["first_response_at"]) > 0

    # After rating, the bot answers again.
    replies = await customer.say("How do I change my password?")
    assert replies[0].text.startswith("Open Account")
    kinds = [event["type"] for event in await events(helpline)]
    for kind in ("case_opened", "case_claimed", "first_response", "agent_reply", "agent_note", "case_resolved",
                 "case_rated", "case_closed"):
        assert kind in kinds, kind


async def test_message_after_resolution_reopens_to_last_agent(customer: Customer, agent: Agent, helpline) -> None:
    number = case_number_in((await customer.say("agent please"))[-1].text)
    await agent.act(ActionKind.CLAIM, number)
    await agent.act(ActionKind.RESOLVE, number)
    await customer.inbox()
    thanked = await customer.say("thanks")
    assert len(thanked) == 1 and (await case_hash(helpline, number))["status"] == "resolved"
    replies = await customer.say("actually it is still broken")
    assert f"#{number}" in replies[0].text
    case = await case_hash(helpline, number)
    assert case["status"] == "assigned" and case["agent"] == "maria" and case["reopened"] == "1"


async def test_suggestions_then_a_pick_or_none_of_these(customer: Customer, helpline) -> None:
    # Thresholds that turn every match into a suggestion make this independent of matcher scores.
    helpline.router.config = dataclasses.replace(helpline.router.config, answer_at=1.01, suggest_at=0.0)
    replies = await customer.say("delivery and returns")
    options = replies[-1].options
    assert 2 <= len(options) <= 4
    assert options[-1].value == "none" and all(o.value.startswith("pick:") for o in options[:-1])
    picked = options[0].value.removeprefix("pick:")
    replies = await customer.say("", option=options[0].value)
    assert replies[0].text == helpline.knowledge_base.current.answer(picked, "en")
    assert [option.value for option in replies[1].options] == ["yes", "no"]

    await customer.say("delivery and returns")
    replies = await customer.say(str(len(options)))  # the last number is "none of these"
    number = case_number_in(replies[-1].text)
    assert (await case_hash(helpline, number))["reason"] == "none_of_these"
    assert "suggestions_rejected" in [event["type"] for event in await events(helpline)]


async def test_transfer_and_release_keep_the_customer_informed(customer: Customer, agent: Agent, helpline) -> None:
    number = case_number_in((await customer.say("operator"))[-1].text)
    await agent.act(ActionKind.CLAIM, number)
    await customer.inbox()
    result = await agent.act(ActionKind.TRANSFER, number, team="billing")
    assert result["ok"]
    assert "Billing" in (await customer.inbox())[0].text
    case = await case_hash(helpline, number)
    assert case["team"] == "billing" and case["status"] == "queued" and case["agent"] == ""
    assert await helpline.redis.zscore(helpline.keys.queue("support"), str(number)) is None
    assert await helpline.redis.zscore(helpline.keys.queue("billing"), str(number)) is not None

    refused = await agent.act(ActionKind.TRANSFER, number, team="nosuchteam")
    assert not refused["ok"] and "nosuchteam" in refused["message"]

    await agent.act(ActionKind.CLAIM, number)
    result = await agent.act(ActionKind.RELEASE, number)
    assert result["ok"]
    assert (await case_hash(helpline, number))["status"] == "queued"


async def test_actions_refused_with_reasons(agent: Agent, customer: Customer, helpline, worker) -> None:
    assert not (await agent.act(ActionKind.CLAIM, 999999))["ok"]
    number = case_number_in((await customer.say("human"))[-1].text)
    await agent.act(ActionKind.CLAIM, number)
    other = Agent(helpline, worker, "Janis")
    refused = await other.act(ActionKind.CLAIM, number)
    assert not refused["ok"] and "Maria" in refused["message"]
    refused = await other.act(ActionKind.REPLY, number, text="hi")
    assert not refused["ok"]
    assert not (await agent.act(ActionKind.REPLY, number, text="   "))["ok"]


async def test_commands_work_in_every_state(customer: Customer, agent: Agent) -> None:
    assert "own words" in (await customer.say("/help"))[0].text
    assert "don't have any open cases" in (await customer.say("/case"))[0].text
    number = case_number_in((await customer.say("/human"))[-1].text)
    status = await customer.say("/case")
    assert f"#{number}" in status[0].text and "waiting" in status[0].text
    await agent.act(ActionKind.CLAIM, number)
    await customer.inbox()
    assert "Maria" in (await customer.say("/case"))[0].text


async def test_a_stale_button_changes_nothing(customer: Customer, helpline) -> None:
    await customer.say("How long does delivery take?")
    await customer.say("", option="yes")
    assert await customer.say("", option="no") == []
    assert "case_opened" not in [event["type"] for event in await events(helpline)]


async def test_unrated_resolved_cases_are_closed_by_the_sweep(customer: Customer, agent: Agent, helpline,
                                                              worker) -> None:
    from router.sweeper import close_unrated

    number = case_number_in((await customer.say("human"))[-1].text)
    await agent.act(ActionKind.RESOLVE, number)
    await customer.inbox()
    keys, days = helpline.keys, helpline.settings.router.reopen_days
    assert await close_unrated(helpline.redis, keys, days) == 0  # not due yet
    assert await close_unrated(helpline.redis, keys, days, now=time.time() + days * 86400 + 60) == 1
    await worker.drain()
    case = await case_hash(helpline, number)
    assert case["status"] == "closed" and case["csat"] == "0"
    assert await helpline.redis.zcard(keys.resolved) == 0
    assert "case_closed" in [event["type"] for event in await events(helpline)]
    # The customer starts afresh with the bot.
    assert (await customer.say("How long does delivery take?"))[0].text.startswith("Delivery")


async def test_the_reopen_window_is_counted_in_days(customer: Customer, agent: Agent, helpline) -> None:
    """reopen_days is days: two days after a resolve the customer's problem reopens; eight days after, a new start."""
    days = helpline.settings.router.reopen_days
    assert days == 7
    router = helpline.router
    real_clock = router.clock
    for later_days, reopens in ((2, True), (days + 1, False)):
        router.clock = real_clock
        number = case_number_in((await customer.say("agent please"))[-1].text)
        await agent.act(ActionKind.CLAIM, number)
        await agent.act(ActionKind.RESOLVE, number)
        await customer.inbox()
        router.clock = lambda later=later_days: real_clock() + later * 86400
        replies = await customer.say("the blue widget still rattles when it spins")
        case = await case_hash(helpline, number)
        if reopens:
            assert case["status"] == "assigned" and f"#{number}" in replies[0].text
            await agent.act(ActionKind.RESOLVE, number)
            await customer.say("", option="rate:5")
        else:
            assert case["status"] == "closed"
            assert all(f"#{number}" not in reply.text for reply in replies)  # the bot's turn again, no reopening
            conversation = await helpline.redis.hgetall(helpline.keys.conversation(case["conversation"]))
            assert conversation["case"] == ""
