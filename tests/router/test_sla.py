"""SLA steps, the outside-hours notice and the wait estimate, end to end through the real streams.

Time is the router's clock (`Router.clock`), set by the test, and the `now` handed to the sweep.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.app import Helpline
from router.business_hours import BusinessHours, working_seconds
from router.messages import ActionKind, AgentAction, inbox_fields, new_id
from router.sla import SlaPolicy, SlaRules, SlaState, SlaStep, due_step, sla_status
from router.store import Case, CaseStatus
from router.sweeper import check_slas
from router.worker import StreamWorker
from tests.drivers import Agent, Customer, case_hash, events
from tests.router.test_flow import case_number_in

MINUTE = 60.0
OFFICE = BusinessHours.parse("Europe/Athens", {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")})
SUPPORT_SLA = SlaPolicy(first_response_seconds=30 * MINUTE, warn_before_seconds=5 * MINUTE,
                        escalate_after_seconds=60 * MINUTE, escalate_to="billing")
BILLING_SLA = SlaPolicy(first_response_seconds=30 * MINUTE, escalate_after_seconds=45 * MINUTE, escalate_to="support")


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=timezone.utc).timestamp()  # type: ignore[misc]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


MONDAY_10 = utc(2026, 1, 12, 8)  # 10:00 in Athens


def configure(helpline: Helpline, now: float, hours: BusinessHours | None = None) -> Clock:
    clock = Clock(now)
    helpline.router.clock = clock
    helpline.router.config = dataclasses.replace(
        helpline.router.config, sla={"support": SUPPORT_SLA, "billing": BILLING_SLA},
        business_hours={"support": hours} if hours else {})
    return clock


async def sweep(helpline: Helpline, worker: StreamWorker, clock: Clock, at: float) -> int:
    """Move the clock to `at`, sweep, and let the router take what the sweep asked for."""
    clock.now = at
    asked = await check_slas(helpline.redis, helpline.keys, helpline.router.config, now=at)
    await worker.drain()
    return asked


def kinds(found: list[dict[str, str]]) -> list[str]:
    return [event["type"] for event in found]


async def test_a_waiting_case_is_warned_once_then_escalated_once(helpline: Helpline, worker: StreamWorker,
                                                                 customer: Customer) -> None:
    clock = configure(helpline, MONDAY_10)
    number = case_number_in((await customer.say("I want to talk to a human"))[-1].text)

    assert await sweep(helpline, worker, clock, MONDAY_10 + 24 * MINUTE) == 0  # 25 minutes is the warning
    assert await sweep(helpline, worker, clock, MONDAY_10 + 25 * MINUTE) == 1
    warnings = [event for event in await events(helpline) if event["type"] == "sla_warning"]
    assert len(warnings) == 1
    assert warnings[0]["case"] == str(number) and warnings[0]["team"] == "support"
    assert float(warnings[0]["waited"]) == 25 * MINUTE
    assert await sweep(helpline, worker, clock, MONDAY_10 + 40 * MINUTE) == 0  # once
    assert await customer.inbox() == []  # the warning is for the team, not the customer

    assert await sweep(helpline, worker, clock, MONDAY_10 + 60 * MINUTE) == 1
    case = await case_hash(helpline, number)
    assert case["team"] == "billing" and case["status"] == "queued"
    assert await helpline.redis.zscore(helpline.keys.queue("billing"), str(number)) is not None
    assert await helpline.redis.zscore(helpline.keys.queue("support"), str(number)) is None
    found = await events(helpline)
    escalated = [event for event in found if event["type"] == "case_escalated"]
    assert len(escalated) == 1
    assert escalated[0]["from_team"] == "support" and escalated[0]["team"] == "billing"
    assert float(escalated[0]["waited"]) == 60 * MINUTE
    assert "case_transferred" in kinds(found)
    told = await customer.inbox()
    assert len(told) == 1 and "Billing" in told[0].text and f"#{number}" in told[0].text

    # Billing's own limits have long passed, but a case is escalated once: not back to support.
    assert await sweep(helpline, worker, clock, MONDAY_10 + 300 * MINUTE) == 0
    assert (await case_hash(helpline, number))["team"] == "billing"
    assert kinds(await events(helpline)).count("case_escalated") == 1


async def test_a_claimed_case_is_left_alone(helpline: Helpline, worker: StreamWorker, customer: Customer,
                                            agent: Agent) -> None:
    clock = configure(helpline, MONDAY_10)
    number = case_number_in((await customer.say("I want to talk to a human"))[-1].text)
    clock.now = MONDAY_10 + 10 * MINUTE
    await agent.act(ActionKind.CLAIM, number)
    assert await sweep(helpline, worker, clock, MONDAY_10 + 90 * MINUTE) == 0
    # Answered, then released: the customer had a first response, the clock does not run again.
    await agent.act(ActionKind.REPLY, number, text="Looking into it")
    await agent.act(ActionKind.RELEASE, number)
    assert await sweep(helpline, worker, clock, MONDAY_10 + 200 * MINUTE) == 0
    assert "sla_warning" not in kinds(await events(helpline))


async def test_a_step_the_sweep_asked_for_is_decided_again_by_the_router(helpline: Helpline, worker: StreamWorker,
                                                                         customer: Customer) -> None:
    clock = configure(helpline, MONDAY_10)
    first = case_number_in((await customer.say("I want to talk to a human"))[-1].text)
    second = case_number_in((await Customer(helpline, worker).say("I want to talk to a human"))[-1].text)
    clock.now = MONDAY_10 + 26 * MINUTE
    # An agent's claim of the first case is in the inbox before the sweep's requests are read.
    claim = AgentAction(id=new_id(), kind=ActionKind.CLAIM, case=first, agent="maria", agent_name="Maria")
    await helpline.redis.xadd(helpline.keys.inbox, inbox_fields(claim))
    assert await check_slas(helpline.redis, helpline.keys, helpline.router.config, now=clock.now) == 2
    await check_slas(helpline.redis, helpline.keys, helpline.router.config, now=clock.now)  # a second service
    await worker.drain()
    warnings = [event for event in await events(helpline) if event["type"] == "sla_warning"]
    assert [event["case"] for event in warnings] == [str(second)]  # four requests, one warning


async def test_business_hours_pause_the_sla_clock(helpline: Helpline, worker: StreamWorker,
                                                  customer: Customer) -> None:
    friday_1650 = utc(2026, 1, 16, 14, 50)  # Athens; the team closes at 17:00
    clock = configure(helpline, friday_1650, OFFICE)
    opened = (await customer.say("I want to talk to a human"))[-1].text
    assert "away" not in opened  # open when the case opened
    number = case_number_in(opened)
    # 10 minutes on Friday, then nothing until Monday 09:00: 25 minutes are reached at Monday 09:15.
    assert await sweep(helpline, worker, clock, utc(2026, 1, 17, 12)) == 0
    assert await sweep(helpline, worker, clock, utc(2026, 1, 19, 7, 14)) == 0
    assert await sweep(helpline, worker, clock, utc(2026, 1, 19, 7, 15)) == 1
    warning = [event for event in await events(helpline) if event["type"] == "sla_warning"][0]
    assert warning["case"] == str(number) and float(warning["waited"]) == 25 * MINUTE


async def test_outside_hours_the_customer_hears_when_the_team_is_back(helpline: Helpline, customer: Customer) -> None:
    saturday = utc(2026, 1, 17, 10)
    configure(helpline, saturday, OFFICE)
    opened = (await customer.say("I want to talk to a human"))[-1].text
    number = case_number_in(opened)
    assert opened == (f"Of course, I'm passing you on to our team. Your case number is #{number} and your position "
                      "in the queue is 1. Our team is away at the moment and will be back on Monday 19 January at "
                      "09:00; an agent will reply to you here then.")
    notice = [event for event in await events(helpline) if event["type"] == "outside_hours"]
    assert len(notice) == 1
    assert notice[0]["case"] == str(number) and notice[0]["team"] == "support"
    assert float(notice[0]["opens_at"]) == utc(2026, 1, 19, 7)
    # Asking for the status says the same.
    status = (await customer.say("/case"))[0].text
    assert status == (f"Your case #{number} is waiting for an agent. Your position in the queue: 1. Our team is away "
                      "at the moment and will be back on Monday 19 January at 09:00. An agent will answer you then.")


async def test_outside_hours_in_greek(helpline: Helpline, worker: StreamWorker) -> None:
    configure(helpline, utc(2026, 1, 17, 10), OFFICE)
    customer = Customer(helpline, worker)
    opened = (await customer.say("θέλω να μιλήσω με άνθρωπο"))[-1].text
    assert opened.endswith("Θα είναι ξανά κοντά σας: Δευτέρα 19 Ιανουαρίου, στις 09:00. "
                           "Τότε ένας εκπρόσωπός μας θα σας απαντήσει εδώ.")


async def test_the_estimate_comes_from_recent_waits(helpline: Helpline, worker: StreamWorker, agent: Agent) -> None:
    clock = configure(helpline, MONDAY_10)
    first = Customer(helpline, worker)
    opened = (await first.say("I want to talk to a human"))[-1].text
    assert "estimated wait" not in opened  # no data yet: nothing is guessed
    for waited in (4, 10, 11):  # median 10 minutes
        customer = Customer(helpline, worker)
        clock.now += MINUTE
        number = case_number_in((await customer.say("I want to talk to a human"))[-1].text)
        clock.now += waited * MINUTE
        await agent.act(ActionKind.CLAIM, number)
    late = Customer(helpline, worker)
    opened = (await late.say("I want to talk to a human"))[-1].text
    assert "your position in the queue is 2" in opened  # the first customer still waits
    assert opened.endswith("The estimated wait is about 10 minutes.")
    status = (await late.say("/case"))[0].text
    assert "position in the queue: 2" in status and status.endswith("The estimated wait is about 10 minutes.")
    assert await helpline.redis.llen(helpline.keys.waits("support")) == 3


async def test_the_kept_waits_are_bounded(helpline: Helpline, worker: StreamWorker, agent: Agent) -> None:
    clock = configure(helpline, MONDAY_10)
    helpline.router.config = dataclasses.replace(helpline.router.config, recent_waits=2)
    for _ in range(4):
        customer = Customer(helpline, worker)
        number = case_number_in((await customer.say("I want to talk to a human"))[-1].text)
        clock.now += MINUTE
        await agent.act(ActionKind.CLAIM, number)
    assert await helpline.redis.llen(helpline.keys.waits("support")) == 2


@pytest.mark.parametrize("word", ["status", "κατάσταση", "állapot", "statuss", "Status?", "any news?"])
async def test_status_in_a_word_answers_with_the_place_in_the_queue(helpline: Helpline, worker: StreamWorker,
                                                                    word: str) -> None:
    customer = Customer(helpline, worker)
    number = case_number_in((await customer.say("I want to talk to a human"))[-1].text)
    replies = await customer.say(word)
    assert len(replies) == 1 and f"#{number}" in replies[0].text
    assert "case_status_asked" in kinds(await events(helpline))


# -- the decision alone -----------------------------------------------------------------------

def waiting(**changes: object) -> Case:
    return dataclasses.replace(Case(number=1001, conversation="c", status=CaseStatus.QUEUED, team="support",
                                    queued_at=MONDAY_10), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("case", "minutes", "expected"), [
    (waiting(), 24, None), (waiting(), 25, SlaStep.WARN), (waiting(sla_warned_at=1.0), 50, None),
    (waiting(sla_warned_at=1.0), 60, SlaStep.ESCALATE), (waiting(), 61, SlaStep.ESCALATE),
    (waiting(escalated_at=1.0), 500, None), (waiting(status=CaseStatus.ASSIGNED), 500, None),
    (waiting(first_response_at=MONDAY_10 + 1), 500, None),  # answered, then released
    (waiting(first_response_at=MONDAY_10 - 1), 25, SlaStep.WARN),  # answered before it was reopened
    (waiting(team="billing"), 500, None),  # no policy given below for billing
])
def test_due_steps(case: Case, minutes: float, expected: SlaStep | None) -> None:
    policy = SUPPORT_SLA if case.team == "support" else None
    assert due_step(case, policy, None, MONDAY_10 + minutes * MINUTE) == expected


async def test_odd_entries_in_the_kept_waits_spoil_nothing(helpline: Helpline, customer: Customer) -> None:
    configure(helpline, MONDAY_10)
    await helpline.redis.rpush(helpline.keys.waits("support"), "not a number", "", "nan", "inf", "-5", "600")
    opened = (await customer.say("I want to talk to a human"))[-1].text
    assert opened.endswith("The estimated wait is about 10 minutes.")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 14 * 86400), st.booleans(), st.booleans(), st.sampled_from([None, OFFICE]))
def test_steps_follow_the_counted_wait(after: int, warned: bool, escalated: bool, hours: BusinessHours | None) -> None:
    case = waiting(sla_warned_at=1.0 if warned else 0.0, escalated_at=1.0 if escalated else 0.0)
    now = MONDAY_10 + after
    counted = working_seconds(hours, case.queued_at, now)
    step = due_step(case, SUPPORT_SLA, hours, now)
    if escalated or counted < SUPPORT_SLA.warn_at:
        assert step is None
    elif counted >= (SUPPORT_SLA.escalate_after_seconds or 0):
        assert step is SlaStep.ESCALATE
    else:
        assert step is (None if warned else SlaStep.WARN)


# -- the state shown to agents and supervisors ------------------------------------------------

FRIDAY_1650 = utc(2026, 1, 16, 14, 50)  # 16:50 in Athens, ten office minutes before the weekend


@pytest.mark.parametrize(("case", "hours", "now", "state", "left", "paused"), [
    (waiting(), None, MONDAY_10 + 10 * MINUTE, SlaState.OK, 20 * MINUTE, False),
    (waiting(), None, MONDAY_10 + 25 * MINUTE, SlaState.NEAR_BREACH, 5 * MINUTE, False),  # the warning point
    (waiting(), None, MONDAY_10 + 30 * MINUTE, SlaState.BREACHED, 0.0, False),
    (waiting(), None, MONDAY_10 + 42 * MINUTE, SlaState.BREACHED, -12 * MINUTE, False),
    (waiting(sla_warned_at=1.0, escalated_at=1.0), None, MONDAY_10 + 90 * MINUTE, SlaState.BREACHED, -60 * MINUTE,
     False),  # escalated: still breached, and shown so
    # Queued at 16:50 on Friday: over the weekend ten minutes have counted, twenty are left, the clock stands.
    (waiting(queued_at=FRIDAY_1650), OFFICE, FRIDAY_1650 + 2 * 86400, SlaState.OK, 20 * MINUTE, True),
    # Monday 9:17 in Athens: 27 office minutes counted.
    (waiting(queued_at=FRIDAY_1650), OFFICE, utc(2026, 1, 19, 7, 17), SlaState.NEAR_BREACH, 3 * MINUTE, False),
])
def test_sla_status(case: Case, hours: BusinessHours | None, now: float, state: SlaState, left: float,
                    paused: bool) -> None:
    status = sla_status(case, SUPPORT_SLA, hours, now)
    assert status is not None
    assert (status.state, status.left_seconds, status.paused) == (state, left, paused)
    assert status.to_json() == {"state": str(state), "target_seconds": 30 * MINUTE, "left_seconds": left,
                                "paused": paused}


def test_no_sla_status_without_a_policy_or_once_answered() -> None:
    assert sla_status(waiting(), None, None, MONDAY_10 + 500 * MINUTE) is None
    assert sla_status(waiting(first_response_at=MONDAY_10 + 1), SUPPORT_SLA, None, MONDAY_10 + 500 * MINUTE) is None
    assert sla_status(waiting(status=CaseStatus.ASSIGNED), SUPPORT_SLA, None, MONDAY_10 + 500 * MINUTE) is None
    rules = SlaRules(policies={"support": SUPPORT_SLA})
    assert rules.status(waiting(team="billing"), MONDAY_10 + 500 * MINUTE) is None
    assert rules.status(waiting(), MONDAY_10 + 500 * MINUTE) is not None
