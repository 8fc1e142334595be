"""Agent actions on a case: claim, reply, note, transfer, release, resolve, reopen, and the system's close.

Each handler checks what the case's state and the acting agent allow (raising ActionRefused with
the reason, which the agent reads), then takes the transition through `router.lifecycle`.
"""

from __future__ import annotations

import string
from collections.abc import Awaitable, Callable

from router import lifecycle
from router.events import Event
from router.lifecycle import CloseReason, Transition
from router.messages import ActionKind, AgentAction, DeskEventKind
from router.sanitize import clean_text
from router.sla import SlaStep, due_step, sla_waited
from router.store import Case, CaseStatus, Conversation
from router.turn import Turn

MAX_AGENT_TEXT_CHARS = 40_000


class ActionRefused(Exception):
    """An agent action that the case's state does not allow; the text says why."""


Handler = Callable[[Turn, AgentAction, Case, Conversation], Awaitable[str]]


def _check(case: Case, transition: Transition, verb: str) -> None:
    if not lifecycle.allowed(case.status, transition):
        raise ActionRefused(_why_not(case, verb))


async def _claim(turn: Turn, action: AgentAction, case: Case, conversation: Conversation) -> str:
    if case.status is CaseStatus.ASSIGNED and case.agent == action.agent:
        return f"case #{case.number} is already yours"
    _check(case, Transition.CLAIM, "claim")
    await lifecycle.claim(turn, case, conversation, action.agent, action.agent_name)
    return f"case #{case.number} is now yours"


async def _reply(turn: Turn, action: AgentAction, case: Case, conversation: Conversation) -> str:
    text, _ = clean_text(action.text, MAX_AGENT_TEXT_CHARS)
    if not text:
        raise ActionRefused("an empty reply is not sent")
    if case.status is CaseStatus.QUEUED:
        case = await lifecycle.claim(turn, case, conversation, action.agent, action.agent_name)  # answering takes it
    elif case.status is not CaseStatus.ASSIGNED:
        raise ActionRefused(_why_not(case, "reply to"))
    elif case.agent != action.agent:
        raise ActionRefused(f"case #{case.number} is assigned to {case.agent_name or case.agent}, not to you")
    if not case.first_response_at:
        case = case.with_changes(first_response_at=turn.now)
        turn.save_case(case)
        turn.event(Event.FIRST_RESPONSE, case=case.number, agent=action.agent, team=case.team,
                   after=f"{turn.now - case.created_at:.3f}")
    agent_name = action.agent_name or action.agent
    turn.log(conversation.id, "agent", text, agent=agent_name)
    turn.event(Event.AGENT_REPLY, case=case.number, agent=action.agent, chars=len(text))
    relayed = string.Template(turn.config.relay_template).safe_substitute(agent_name=agent_name, message=text)
    turn.send(conversation, relayed, author="agent", agent_name=action.agent_name, source_ref=action.ref)
    turn.tell_desk(DeskEventKind.AGENT_MESSAGE, case, text=text, ref=action.ref)
    return f"reply sent to case #{case.number}"


async def _note(turn: Turn, action: AgentAction, case: Case, conversation: Conversation) -> str:
    text, _ = clean_text(action.text, MAX_AGENT_TEXT_CHARS)
    if not text:
        raise ActionRefused("an empty note is not saved")
    turn.log(conversation.id, "note", text, agent=action.agent_name or action.agent)
    turn.event(Event.AGENT_NOTE, case=case.number, agent=action.agent)
    turn.tell_desk(DeskEventKind.NOTE, case, text=text, ref=action.ref, agent=action.agent,
                   agent_name=action.agent_name)
    return f"note added to case #{case.number}"


async def _transfer(turn: Turn, action: AgentAction, case: Case, conversation: Conversation) -> str:
    team = action.team or ""
    if team not in turn.config.teams:
        raise ActionRefused(f"there is no team {team!r}; teams: {', '.join(sorted(turn.config.teams))}")
    _check(case, Transition.TRANSFER, "transfer")
    if case.team == team and case.status is CaseStatus.QUEUED:
        raise ActionRefused(f"case #{case.number} is already waiting in {team}'s queue")
    await lifecycle.transfer(turn, case, conversation, team, action.agent, action.agent_name)
    return f"case #{case.number} moved to {team}'s queue"


async def _release(turn: Turn, action: AgentAction, case: Case, conversation: Conversation) -> str:
    _check(case, Transition.RELEASE, "release")
    await lifecycle.release(turn, case, conversation)
    return f"case #{case.number} is back in {case.team}'s queue"


async def _resolve(turn: Turn, action: AgentAction, case: Case, conversation: Conversation) -> str:
    _check(case, Transition.RESOLVE, "resolve")
    await lifecycle.resolve(turn, case, conversation, action.agent, action.agent_name)
    return f"case #{case.number} resolved; the customer was asked to rate it"


async def _reopen(turn: Turn, action: AgentAction, case: Case, conversation: Conversation) -> str:
    if not lifecycle.allowed(case.status, Transition.REOPEN):
        raise ActionRefused(f"case #{case.number} is {case.status}, not resolved or closed")
    if conversation.case not in (None, case.number):
        raise ActionRefused(f"the customer already has another open case #{conversation.case}")
    reopened = await lifecycle.reopen(turn, case, conversation, by=action.agent_name or action.agent)
    return f"case #{case.number} reopened ({reopened.status})"


async def _close(turn: Turn, action: AgentAction, case: Case, conversation: Conversation) -> str:
    # Only the closing sweep sends this, for resolved cases nobody rated within reopen_days.
    if case.status is not CaseStatus.RESOLVED:
        raise ActionRefused(f"case #{case.number} is {case.status}, not resolved")
    await lifecycle.close(turn, case, conversation, CloseReason.NOT_RATED)
    return f"case #{case.number} closed"


async def _sla_check(turn: Turn, action: AgentAction, case: Case, conversation: Conversation) -> str:
    # Only the SLA sweep sends this; the step is decided again here, on what this transaction read,
    # so a sweep repeated by several services, or one that raced a claim, changes nothing.
    policy, hours = turn.config.sla.get(case.team), turn.config.hours(case.team)
    step = due_step(case, policy, hours, turn.now)
    if step is None or policy is None:
        return f"case #{case.number}: no SLA step due"
    waited = sla_waited(case, hours, turn.now)
    if step is SlaStep.ESCALATE and policy.escalate_to in turn.config.teams:
        await lifecycle.escalate(turn, case, conversation, str(policy.escalate_to), waited)
        return f"case #{case.number} escalated to {policy.escalate_to}"
    await lifecycle.warn_sla(turn, case, waited)
    return f"case #{case.number}: the queue was warned"


HANDLERS: dict[ActionKind, Handler] = {
    ActionKind.CLAIM: _claim,
    ActionKind.REPLY: _reply,
    ActionKind.NOTE: _note,
    ActionKind.TRANSFER: _transfer,
    ActionKind.RELEASE: _release,
    ActionKind.RESOLVE: _resolve,
    ActionKind.REOPEN: _reopen,
    ActionKind.CLOSE: _close,
    ActionKind.SLA_CHECK: _sla_check,
}
# The system's own action; every other one must say which agent takes it.
NEEDS_NO_AGENT = frozenset({ActionKind.CLOSE, ActionKind.SLA_CHECK})


async def apply_action(turn: Turn, action: AgentAction, case: Case, conversation: Conversation) -> str:
    """Apply `action`; returns what the agent is told, or raises ActionRefused."""
    if not action.agent and action.kind not in NEEDS_NO_AGENT:
        raise ActionRefused(f"{action.kind.value} needs an agent: say who is acting (--agent NAME or "
                            "HELPLINE_AGENT in the terminal)")
    return await HANDLERS[action.kind](turn, action, case, conversation)


def _why_not(case: Case, verb: str) -> str:
    if case.status is CaseStatus.ASSIGNED:
        return f"cannot {verb} case #{case.number}: it is assigned to {case.agent_name or case.agent}"
    return f"cannot {verb} case #{case.number}: it is {case.status}"
