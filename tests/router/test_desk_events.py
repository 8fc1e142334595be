"""What the router tells the agents' desk: case notices with history, thread messages, delivery marks."""

from __future__ import annotations

import dataclasses

import pytest

from bot.app import Helpline
from router.messages import ActionKind, DeskEvent, DeskEventKind, from_json
from tests.drivers import Agent, Customer
from tests.router.test_flow import case_number_in


@pytest.fixture
def desk_helpline(helpline: Helpline) -> Helpline:
    helpline.router.config = dataclasses.replace(helpline.router.config, desk=True)
    return helpline


async def desk_events(helpline: Helpline) -> list[DeskEvent]:
    return [from_json(DeskEvent, fields["data"]) for _, fields in await helpline.redis.xrange(helpline.keys.desk)]


async def test_no_desk_no_desk_events(helpline: Helpline, customer: Customer) -> None:
    await customer.say("human")
    assert await desk_events(helpline) == []


async def test_case_life_as_the_desk_sees_it(desk_helpline: Helpline, customer: Customer, agent: Agent) -> None:
    await customer.say("How long does delivery take?")
    number = case_number_in((await customer.say("no"))[-1].text)
    waiting = (await desk_events(desk_helpline))[0]
    assert waiting.kind is DeskEventKind.CASE_WAITING and waiting.case == number and waiting.team == "support"
    assert f"#{number}" in waiting.history[-1].text  # the customer was told the number
    roles = [line.role for line in waiting.history]
    assert roles[:2] == ["customer", "bot"] and "customer" in roles[2:]
    assert waiting.history[0].text == "How long does delivery take?"
    assert waiting.customer_name == "Ann Customer" and waiting.channel == "console" and waiting.queued_at > 0

    await customer.say("Are you there?", platform_id="m-2")
    await agent.act(ActionKind.CLAIM, number)
    await agent.act(ActionKind.REPLY, number, text="Yes, I am.")
    await agent.act(ActionKind.NOTE, number, text="VIP customer")
    await agent.act(ActionKind.TRANSFER, number, team="billing")
    await agent.act(ActionKind.CLAIM, number)
    await agent.act(ActionKind.RELEASE, number)
    await agent.act(ActionKind.RESOLVE, number)
    await customer.say("4")

    events = await desk_events(desk_helpline)
    kinds = [event.kind for event in events]
    assert kinds == [DeskEventKind.CASE_WAITING, DeskEventKind.CUSTOMER_MESSAGE, DeskEventKind.CASE_CLAIMED,
                     DeskEventKind.AGENT_MESSAGE, DeskEventKind.NOTE, DeskEventKind.CASE_TRANSFERRED,
                     DeskEventKind.CASE_CLAIMED, DeskEventKind.CASE_RELEASED, DeskEventKind.CASE_RESOLVED,
                     DeskEventKind.CASE_RATED]
    assert events[1].text == "Are you there?" and events[1].platform_id == "m-2"
    assert events[2].agent_name == "Maria"
    assert events[3].text == "Yes, I am."
    assert events[5].from_team == "support" and events[5].team == "billing" and events[5].history
    assert events[-1].csat == 4
    assert len({event.id for event in events}) == len(events)
