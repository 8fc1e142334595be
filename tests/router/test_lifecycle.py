"""Each case transition of router/lifecycle.py on its own, on a real Redis, and its table against states.md."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from router import lifecycle
from router.lifecycle import BOT, TRANSITIONS, CloseReason, OpenReason, Transition
from router.messages import OutboundMessage, from_json, new_id
from router.store import HIGH_PRIORITY, NORMAL_PRIORITY, Case, CaseStatus, Conversation
from router.turn import Turn

STATES_MD = Path(__file__).resolve().parents[2] / "router" / "states.md"
_T = TypeVar("_T")


def test_the_transition_table_is_the_diagram_of_states_md() -> None:
    arrows = set()
    for line in STATES_MD.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*(\w+) --> (\w+): (\w+)", line)
        if match and match.group(3) in Transition.__members__.values():
            arrows.add((match.group(1), Transition(match.group(3)), match.group(2)))
    assert arrows == {(str(origin), transition, str(target)) for origin, transition, target in TRANSITIONS}


def test_every_status_has_a_way_out_but_the_bot_starts_only_with_open() -> None:
    assert {transition for origin, transition, _ in TRANSITIONS if origin == BOT} == {Transition.OPEN}
    for status in CaseStatus:
        assert any(lifecycle.allowed(status, transition) for transition in Transition), status
    assert not lifecycle.allowed(CaseStatus.ASSIGNED, Transition.CLOSE)  # an agent's case is not closed under them
    assert not lifecycle.allowed(CaseStatus.QUEUED, Transition.RELEASE)


class Desk:
    """Runs lifecycle functions in real transactions and reads back what they wrote."""

    def __init__(self, helpline) -> None:  # type: ignore[no-untyped-def]
        self.helpline = helpline
        self.redis = helpline.redis
        self.keys = helpline.keys
        self.now = time.time()

    async def run(self, body: Callable[[Turn], Awaitable[_T]]) -> _T:
        async with self.redis.pipeline(transaction=True) as pipe:
            turn = Turn(pipe, self.keys, new_id(), self.now, self.helpline.texts, self.helpline.router.config)
            assert not await turn.already_done()  # as the router does: WATCH first, so reads answer at once
            result = await body(turn)
            await turn.commit()
        return result

    async def conversation(self, language: str = "en") -> Conversation:
        conversation = Conversation(id=new_id(), channel="console", address=new_id(), customer_name="Ann",
                                    language=language, created_at=self.now)

        async def save(turn: Turn) -> None:
            turn.save_conversation(conversation)

        await self.run(save)
        return conversation

    async def reload(self, conversation: Conversation) -> Conversation:
        data = await self.redis.hgetall(self.keys.conversation(conversation.id))
        return Conversation.from_hash(conversation.id, data)

    async def case(self, number: int) -> Case:
        return Case.from_hash(await self.redis.hgetall(self.keys.case(number)))

    async def queue(self, team: str = "support") -> list[int]:
        return [int(number) for number in await self.redis.zrange(self.keys.queue(team), 0, -1)]

    async def open_cases(self, agent: str) -> int:
        return int(await self.redis.hget(self.keys.agent(agent), "open_cases") or 0)

    async def told(self, conversation: Conversation) -> list[OutboundMessage]:
        entries = await self.redis.xrange(self.keys.outbox("console"))
        messages = [from_json(OutboundMessage, fields["data"]) for _, fields in entries]
        return [message for message in messages if message.conversation == conversation.id]

    async def events(self, name: str) -> list[dict[str, str]]:
        return [fields for _, fields in await self.redis.xrange(self.keys.events) if fields["type"] == name]

    async def open(self, reason: OpenReason = OpenReason.REQUESTED, language: str = "en") -> tuple[Case, Conversation]:
        conversation = await self.conversation(language)
        case = await self.run(lambda turn: lifecycle.open_case(turn, conversation, team=None, reason=reason,
                                                               subject="my parcel"))
        self.now += 1
        return case, await self.reload(conversation)


@pytest.fixture
def desk(helpline) -> Desk:  # type: ignore[no-untyped-def]
    return Desk(helpline)


async def test_open_queues_the_case_links_the_conversation_and_tells_the_customer(desk: Desk) -> None:
    case, conversation = await desk.open()
    stored = await desk.case(case.number)
    assert stored.status is CaseStatus.QUEUED and stored.priority == NORMAL_PRIORITY and stored.reason == "requested"
    assert await desk.queue() == [case.number]
    assert conversation.case == case.number and conversation.pending is None
    assert f"#{case.number}" in (await desk.told(conversation))[-1].text
    [event] = await desk.events("case_opened")
    assert event["reason"] == "requested" and event["priority"] == str(NORMAL_PRIORITY)


async def test_a_complaint_is_served_before_older_cases(desk: Desk) -> None:
    older, _ = await desk.open()
    complaint, conversation = await desk.open(OpenReason.COMPLAINT)
    assert (await desk.case(complaint.number)).priority == HIGH_PRIORITY
    assert await desk.queue() == [complaint.number, older.number]
    assert "high priority" in (await desk.told(conversation))[-1].text


async def test_claim_takes_the_case_off_the_queue_onto_the_agents_count(desk: Desk) -> None:
    case, conversation = await desk.open()
    claimed = await desk.run(lambda turn: lifecycle.claim(turn, case, conversation, "maria", "Maria"))
    stored = await desk.case(case.number)
    assert stored.status is CaseStatus.ASSIGNED and stored.agent == "maria" and stored.claimed_at == desk.now
    assert claimed == stored
    assert await desk.queue() == [] and await desk.open_cases("maria") == 1
    assert "Maria" in (await desk.told(conversation))[-1].text


async def test_release_keeps_the_customers_place_and_lowers_the_agents_count(desk: Desk) -> None:
    first, conversation = await desk.open()
    second, _ = await desk.open()
    claimed = await desk.run(lambda turn: lifecycle.claim(turn, first, conversation, "maria", "Maria"))
    await desk.run(lambda turn: lifecycle.release(turn, claimed, conversation))
    assert await desk.queue() == [first.number, second.number]  # still ahead of the later case
    assert await desk.open_cases("maria") == 0
    stored = await desk.case(first.number)
    assert stored.status is CaseStatus.QUEUED and stored.agent == "" and stored.last_agent == "maria"


async def test_transfer_moves_queues_and_names_the_team_in_the_customers_language(desk: Desk) -> None:
    case, conversation = await desk.open(language="el")
    claimed = await desk.run(lambda turn: lifecycle.claim(turn, case, conversation, "maria", "Maria"))
    await desk.run(lambda turn: lifecycle.transfer(turn, claimed, conversation, "billing", "maria", "Maria"))
    assert await desk.queue("support") == [] and await desk.queue("billing") == [case.number]
    assert await desk.open_cases("maria") == 0
    assert (await desk.case(case.number)).team == "billing"
    expected = desk.helpline.router.config.team_name("billing", "el")
    assert expected in (await desk.told(conversation))[-1].text


async def test_resolve_asks_for_a_rating_and_waits_for_it(desk: Desk) -> None:
    case, conversation = await desk.open()
    claimed = await desk.run(lambda turn: lifecycle.claim(turn, case, conversation, "maria", "Maria"))
    await desk.run(lambda turn: lifecycle.resolve(turn, claimed, conversation, "maria", "Maria"))
    stored = await desk.case(case.number)
    assert stored.status is CaseStatus.RESOLVED and stored.resolved_at == desk.now and stored.last_agent == "maria"
    assert await desk.open_cases("maria") == 0
    assert await desk.redis.zscore(desk.keys.resolved, str(case.number)) == desk.now
    resolved, prompt = (await desk.told(conversation))[-2:]
    assert "Maria" in resolved.text and [option.value for option in prompt.options] == [
        f"rate:{score}" for score in range(1, 6)]


async def test_resolving_a_waiting_case_takes_it_off_the_queue(desk: Desk) -> None:
    case, conversation = await desk.open()
    await desk.run(lambda turn: lifecycle.resolve(turn, case, conversation, "maria", "Maria"))
    assert await desk.queue() == [] and await desk.open_cases("maria") == 0


async def _resolved(desk: Desk) -> tuple[Case, Conversation]:
    case, conversation = await desk.open()
    claimed = await desk.run(lambda turn: lifecycle.claim(turn, case, conversation, "maria", "Maria"))
    resolved = await desk.run(lambda turn: lifecycle.resolve(turn, claimed, conversation, "maria", "Maria"))
    desk.now += 1
    return resolved, conversation


async def test_reopen_goes_back_to_the_last_agent_when_available(desk: Desk) -> None:
    case, conversation = await _resolved(desk)
    await desk.run(lambda turn: lifecycle.reopen(turn, case, conversation, by="customer"))
    stored = await desk.case(case.number)
    assert stored.status is CaseStatus.ASSIGNED and stored.agent == "maria" and stored.reopened == 1
    assert await desk.open_cases("maria") == 1
    assert await desk.redis.zscore(desk.keys.resolved, str(case.number)) is None


async def test_reopen_goes_ahead_of_older_cases_when_the_agent_is_away(desk: Desk) -> None:
    case, conversation = await _resolved(desk)
    older, _ = await desk.open()  # waiting before the case comes back
    await desk.redis.hset(desk.keys.agent("maria"), "status", "away")
    await desk.run(lambda turn: lifecycle.reopen(turn, case, conversation, by="customer"))
    stored = await desk.case(case.number)
    assert stored.status is CaseStatus.QUEUED and stored.priority == HIGH_PRIORITY and stored.agent == ""
    assert await desk.queue() == [case.number, older.number]
    assert await desk.open_cases("maria") == 0


async def test_close_after_a_rating_frees_the_conversation(desk: Desk) -> None:
    case, conversation = await _resolved(desk)
    await desk.run(lambda turn: lifecycle.close(turn, case, conversation, CloseReason.RATED, rating=4))
    stored = await desk.case(case.number)
    assert stored.status is CaseStatus.CLOSED and stored.csat == 4 and stored.closed_at == desk.now
    assert (await desk.reload(conversation)).case is None
    assert await desk.redis.zscore(desk.keys.resolved, str(case.number)) is None
    assert [event["csat"] for event in await desk.events("case_rated")] == ["4"]
    assert [event["why"] for event in await desk.events("case_closed")] == ["rated"]


async def test_the_customer_closes_a_waiting_case(desk: Desk) -> None:
    case, conversation = await desk.open()
    await desk.run(lambda turn: lifecycle.close(turn, case, conversation, CloseReason.SOLVED_BY_CUSTOMER))
    assert (await desk.case(case.number)).status is CaseStatus.CLOSED
    assert await desk.queue() == [] and (await desk.reload(conversation)).case is None
    assert f"#{case.number}" in (await desk.told(conversation))[-1].text


async def test_a_transition_outside_the_table_writes_nothing(desk: Desk) -> None:
    case, conversation = await desk.open()
    claimed = await desk.run(lambda turn: lifecycle.claim(turn, case, conversation, "maria", "Maria"))
    with pytest.raises(AssertionError, match="not a transition"):
        await desk.run(lambda turn: _close_now(turn, claimed, conversation))
    assert (await desk.case(case.number)).status is CaseStatus.ASSIGNED


async def _close_now(turn: Turn, case: Case, conversation: Conversation) -> None:
    await lifecycle.close(turn, case, conversation, CloseReason.NOT_RATED)
