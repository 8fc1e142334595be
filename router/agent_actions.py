"""Agent actions on a case: claim, reply, note, transfer, release, resolve, reopen, close.

Each handler checks what the case's state allows (raising ActionRefused with the reason), then
writes its effects through the router's transaction, like every other inbox entry.
"""

from __future__ import annotations

import string
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from router.messages import ActionKind, AgentAction, DeskEventKind, QuickReply
from router.sanitize import clean_text
from router.store import Case, CaseStatus, Conversation, Transaction

if TYPE_CHECKING:
    from router.engine import Router


class ActionRefused(Exception):
    """An agent action that the case's state does not allow; the text says why."""


Handler = Callable[["Router", Transaction, AgentAction, Case, Conversation], Awaitable[str]]


async def _claim(router: Router, tx: Transaction, action: AgentAction, case: Case, conversation: Conversation) -> str:
    if case.status == CaseStatus.ASSIGNED and case.agent == action.agent:
        return f"case #{case.number} is already yours"
    if case.status != CaseStatus.QUEUED:
        raise ActionRefused(_why_not(case, "claim"))
    _assign(router, tx, case, action, conversation)
    return f"case #{case.number} is now yours"

def _assign(router: Router, tx: Transaction, case: Case, action: AgentAction, conversation: Conversation) -> Case:
    assigned = case.with_changes(status=CaseStatus.ASSIGNED, agent=action.agent, agent_name=action.agent_name,
                                 claimed_at=case.claimed_at or tx.now)
    tx.dequeue(case.team, case.number)
    tx.save_case(assigned)
    tx.agent_open_cases(action.agent, +1)
    tx.event("case_claimed", case=case.number, agent=action.agent, team=case.team,
             waited=f"{tx.now - case.queued_at:.3f}")
    tx.log(conversation.id, "system", f"claimed by {action.agent_name or action.agent}")
    router.say(tx, conversation, "agent_joined", agent_name=action.agent_name or action.agent, case=case.number)
    router.tell_desk(tx, DeskEventKind.CASE_CLAIMED, assigned)
    return assigned

async def _reply(router: Router, tx: Transaction, action: AgentAction, case: Case, conversation: Conversation) -> str:
    text, _ = clean_text(action.text, 40_000)
    if not text:
        raise ActionRefused("an empty reply is not sent")
    if case.status == CaseStatus.QUEUED:
        case = _assign(router, tx, case, action, conversation)  # answering a waiting case takes it
    elif case.status != CaseStatus.ASSIGNED:
        raise ActionRefused(_why_not(case, "reply to"))
    elif case.agent != action.agent:
        raise ActionRefused(f"case #{case.number} is assigned to {case.agent_name or case.agent}, not to you")
    if not case.first_response_at:
        case = case.with_changes(first_response_at=tx.now)
        tx.save_case(case)
        tx.event("first_response", case=case.number, agent=action.agent,
                 after=f"{tx.now - case.created_at:.3f}")
    tx.log(conversation.id, "agent", text, agent=action.agent_name or action.agent)
    tx.event("agent_reply", case=case.number, agent=action.agent, chars=len(text))
    relayed = string.Template(router.config.relay_template).safe_substitute(
        agent_name=action.agent_name or action.agent, message=text)
    router.send(tx, conversation, relayed, author="agent", agent_name=action.agent_name, source_ref=action.ref)
    router.tell_desk(tx, DeskEventKind.AGENT_MESSAGE, case, text=text, ref=action.ref)
    return f"reply sent to case #{case.number}"

async def _note(router: Router, tx: Transaction, action: AgentAction, case: Case, conversation: Conversation) -> str:
    text, _ = clean_text(action.text, 40_000)
    if not text:
        raise ActionRefused("an empty note is not saved")
    tx.log(conversation.id, "note", text, agent=action.agent_name or action.agent)
    tx.event("agent_note", case=case.number, agent=action.agent)
    router.tell_desk(tx, DeskEventKind.NOTE, case, text=text, ref=action.ref,
               agent=action.agent, agent_name=action.agent_name)
    return f"note added to case #{case.number}"

async def _transfer(router: Router, tx: Transaction, action: AgentAction, case: Case, conversation: Conversation) -> str:
    team = action.team or ""
    if team not in router.config.teams:
        raise ActionRefused(f"there is no team {team!r}; teams: {', '.join(sorted(router.config.teams))}")
    if case.status not in CaseStatus.OPEN:
        raise ActionRefused(_why_not(case, "transfer"))
    if case.team == team and case.status == CaseStatus.QUEUED:
        raise ActionRefused(f"case #{case.number} is already waiting in {team}'s queue")
    if case.status == CaseStatus.QUEUED:
        tx.dequeue(case.team, case.number)
    else:
        tx.agent_open_cases(case.agent, -1)
    moved = case.with_changes(status=CaseStatus.QUEUED, team=team, agent="", agent_name="",
                              last_agent=case.agent or case.last_agent,
                              last_agent_name=case.agent_name or case.last_agent_name)
    position = await tx.queue_position(team, moved.queue_score())
    tx.enqueue(moved)
    tx.save_case(moved)
    tx.event("case_transferred", case=case.number, agent=action.agent, from_team=case.team, team=team)
    tx.log(conversation.id, "system", f"transferred from {case.team} to {team}")
    router.say(tx, conversation, "transferred", case=case.number, team=router.config.teams[team], position=position)
    router.tell_desk(tx, DeskEventKind.CASE_TRANSFERRED, moved, from_team=case.team, agent=action.agent,
               agent_name=action.agent_name, history=await tx.history(conversation.id))
    return f"case #{case.number} moved to {team}'s queue"

async def _release(router: Router, tx: Transaction, action: AgentAction, case: Case, conversation: Conversation) -> str:
    if case.status != CaseStatus.ASSIGNED:
        raise ActionRefused(_why_not(case, "release"))
    # The customer keeps their place: the original queue time stays the score.
    released = case.with_changes(status=CaseStatus.QUEUED, agent="", agent_name="", last_agent=case.agent,
                                 last_agent_name=case.agent_name)
    position = await tx.queue_position(case.team, released.queue_score())
    tx.agent_open_cases(case.agent, -1)
    tx.enqueue(released)
    tx.save_case(released)
    tx.event("case_released", case=case.number, agent=case.agent, team=case.team)
    tx.log(conversation.id, "system", f"released by {case.agent_name or case.agent}")
    router.say(tx, conversation, "released", case=case.number, position=position)
    router.tell_desk(tx, DeskEventKind.CASE_RELEASED, released, agent=case.agent, agent_name=case.agent_name)
    return f"case #{case.number} is back in {case.team}'s queue"

async def _resolve(router: Router, tx: Transaction, action: AgentAction, case: Case, conversation: Conversation) -> str:
    if case.status not in CaseStatus.OPEN:
        raise ActionRefused(_why_not(case, "resolve"))
    if case.status == CaseStatus.QUEUED:
        tx.dequeue(case.team, case.number)
    else:
        tx.agent_open_cases(case.agent, -1)
    agent, agent_name = case.agent or action.agent, case.agent_name or action.agent_name
    resolved = case.with_changes(status=CaseStatus.RESOLVED, resolved_at=tx.now, agent="", agent_name="",
                                 last_agent=agent or case.last_agent,
                                 last_agent_name=agent_name or case.last_agent_name)
    tx.save_case(resolved)
    tx.awaiting_rating(resolved, True)
    tx.event("case_resolved", case=case.number, agent=agent, team=case.team,
             after=f"{tx.now - case.created_at:.3f}", reopened=case.reopened)
    tx.log(conversation.id, "system", f"resolved by {agent_name or agent or 'an admin'}")
    router.say(tx, conversation, "resolved", case=case.number, agent_name=agent_name or agent or "")
    router.tell_desk(tx, DeskEventKind.CASE_RESOLVED, resolved, agent=agent, agent_name=agent_name)
    router.say(tx, conversation, "rating_prompt",
              options=tuple(QuickReply(f"rate:{score}", str(score)) for score in range(1, 6)))
    return f"case #{case.number} resolved; the customer was asked to rate it"

async def _reopen_action(router: Router, tx: Transaction, action: AgentAction, case: Case,
                         conversation: Conversation) -> str:
    if case.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        raise ActionRefused(f"case #{case.number} is {case.status}, not resolved")
    if conversation.case not in (None, case.number):
        raise ActionRefused(f"the customer already has another open case #{conversation.case}")
    reopened = await router.reopen(tx, conversation, case, by=action.agent or "admin")
    return f"case #{case.number} reopened ({reopened.status})"

async def _close(router: Router, tx: Transaction, action: AgentAction, case: Case, conversation: Conversation) -> str:
    if case.status != CaseStatus.RESOLVED:
        raise ActionRefused(f"case #{case.number} is {case.status}, not resolved")
    closed = case.with_changes(status=CaseStatus.CLOSED, closed_at=tx.now)
    tx.save_case(closed)
    tx.awaiting_rating(closed, False)
    if conversation.case == case.number:
        tx.save_conversation(replace(conversation, case=None, pending={}))
    tx.event("case_closed", case=case.number, conversation=conversation.id, why="not rated")
    router.tell_desk(tx, DeskEventKind.CASE_CLOSED, closed)
    return f"case #{case.number} closed"


HANDLERS: dict[ActionKind, Handler] = {
    ActionKind.CLAIM: _claim,
    ActionKind.REPLY: _reply,
    ActionKind.NOTE: _note,
    ActionKind.TRANSFER: _transfer,
    ActionKind.RELEASE: _release,
    ActionKind.RESOLVE: _resolve,
    ActionKind.REOPEN: _reopen_action,
    ActionKind.CLOSE: _close,
}


def _why_not(case: Case, verb: str) -> str:
    if case.status == CaseStatus.ASSIGNED:
        return f"cannot {verb} case #{case.number}: it is assigned to {case.agent_name or case.agent}"
    return f"cannot {verb} case #{case.number}: it is {case.status}"
