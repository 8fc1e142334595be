"""The agent's listings: the queue shows what the customer said last, --mine the cases an agent holds."""

from __future__ import annotations

import re

from bot.agent_desk import LATEST_LINE_WINDOW, claimed_cases, queue_listing
from router.messages import ActionKind
from tests.drivers import Agent, Customer


async def open_case(customer: Customer, text: str = "I want to talk to a human") -> int:
    replies = await customer.say(text)
    found = re.search(r"#(\d+)", replies[-1].text)
    assert found, [reply.text for reply in replies]
    return int(found.group(1))


async def test_queue_shows_the_latest_customer_message_and_keeps_the_subject(helpline, worker) -> None:
    customer = Customer(helpline, worker, name="Eleni")
    number = await open_case(customer)
    await customer.say("my parcel 4711 is a week late")

    [item] = (await queue_listing(helpline))["support"]
    assert item["case"] == number and item["customer"] == "Eleni"
    assert item["subject"] == "I want to talk to a human"
    assert item["latest_message"] == "my parcel 4711 is a week late"
    assert item["latest_message_at"] > 0


async def test_latest_message_is_found_behind_many_agent_lines(helpline, worker, agent: Agent) -> None:
    customer = Customer(helpline, worker)
    number = await open_case(customer)
    await customer.say("the parcel never came")
    assert (await agent.act(ActionKind.CLAIM, number))["ok"]
    for index in range(LATEST_LINE_WINDOW + 2):  # more than one window of notes after the customer's line
        assert (await agent.act(ActionKind.NOTE, number, text=f"note {index}"))["ok"]
    assert (await agent.act(ActionKind.RELEASE, number))["ok"]

    [item] = (await queue_listing(helpline))["support"]
    assert item["latest_message"] == "the parcel never came"


async def test_mine_lists_only_the_cases_the_agent_holds(helpline, worker) -> None:
    maria, janis = Agent(helpline, worker, "Maria"), Agent(helpline, worker, "Janis")
    held, released, resolved, others, waiting = [await open_case(Customer(helpline, worker)) for _ in range(5)]
    for number in (held, released, resolved):
        assert (await maria.act(ActionKind.CLAIM, number))["ok"]
    assert (await maria.act(ActionKind.RELEASE, released))["ok"]
    assert (await maria.act(ActionKind.RESOLVE, resolved))["ok"]
    assert (await janis.act(ActionKind.CLAIM, others))["ok"]

    mine = await claimed_cases(helpline, "Maria")
    assert [item["case"] for item in mine] == [held]
    assert mine[0]["team"] == "support" and mine[0]["latest_message"] == "I want to talk to a human"
    assert [item["case"] for item in await claimed_cases(helpline, "janis")] == [others]  # names match as ids do
    assert await claimed_cases(helpline, "Nobody") == []
    assert waiting in [item["case"] for item in (await queue_listing(helpline))["support"]]


async def test_mine_reads_cases_in_pages(helpline, worker, agent: Agent, monkeypatch) -> None:
    import bot.agent_desk

    monkeypatch.setattr(bot.agent_desk, "CASE_SCAN_PAGE", 2)
    numbers = [await open_case(Customer(helpline, worker)) for _ in range(5)]
    for number in numbers[1::2]:
        assert (await agent.act(ActionKind.CLAIM, number))["ok"]
    assert [item["case"] for item in await claimed_cases(helpline, "Maria")] == numbers[1::2]


async def test_an_empty_desk_lists_nothing(helpline) -> None:
    assert await claimed_cases(helpline, "Maria") == []
    assert await queue_listing(helpline) == {"billing": [], "support": []}
