"""Every transition of a case, each one function writing its whole set of effects (router/states.md).

A transition's effects are: the case hash, its place in a team's queue or in its agent's open-case
count, the set of resolved cases waiting for a rating, the conversation's link to the case, the
events, the transcript's system line, what the customer is told, and the desk notice. They all go
into the entry's one transaction (`Turn`), so a transition happens whole or not at all.

The functions do not decide *whether* a transition may happen: the engine and the agent actions
check `allowed()` (and their own rules, such as who may release) first.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from enum import StrEnum

from router.business_hours import working_seconds
from router.events import Event
from router.log_context import note as note_ids
from router.messages import Attachment, DeskEventKind
from router.pending import Surveying
from router.store import HIGH_PRIORITY, NORMAL_PRIORITY, Case, CaseStatus, Conversation
from router.survey_questions import ask_rating
from router.turn import Turn
from router.waiting import expect, expectation_text, opening_phrase

log = logging.getLogger(__name__)


class Transition(StrEnum):
    OPEN = "open"
    CLAIM = "claim"
    RELEASE = "release"
    TRANSFER = "transfer"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    CLOSE = "close"


class OpenReason(StrEnum):
    REQUESTED = "requested"
    COMPLAINT = "complaint"
    NO_MATCH = "no_match"
    NOT_HELPFUL = "not_helpful"
    NONE_OF_THESE = "none_of_these"
    ATTACHMENT = "attachment"


class CloseReason(StrEnum):
    RATED = "rated"
    NOT_RATED = "not_rated"  # reopen_days passed without a rating
    SOLVED_BY_CUSTOMER = "solved_by_customer"  # the customer said so while the case waited


BOT = "bot"  # the state of a conversation without a case, where `open` starts

# (from, transition, to): the arrows of router/states.md, which a test checks against this table.
TRANSITIONS: frozenset[tuple[str, Transition, str]] = frozenset({
    (BOT, Transition.OPEN, CaseStatus.QUEUED),
    (CaseStatus.QUEUED, Transition.CLAIM, CaseStatus.ASSIGNED),
    (CaseStatus.ASSIGNED, Transition.RELEASE, CaseStatus.QUEUED),
    (CaseStatus.ASSIGNED, Transition.TRANSFER, CaseStatus.QUEUED),
    (CaseStatus.QUEUED, Transition.TRANSFER, CaseStatus.QUEUED),
    (CaseStatus.QUEUED, Transition.RESOLVE, CaseStatus.RESOLVED),
    (CaseStatus.ASSIGNED, Transition.RESOLVE, CaseStatus.RESOLVED),
    (CaseStatus.RESOLVED, Transition.CLOSE, CaseStatus.CLOSED),
    (CaseStatus.QUEUED, Transition.CLOSE, CaseStatus.CLOSED),
    (CaseStatus.RESOLVED, Transition.REOPEN, CaseStatus.ASSIGNED),
    (CaseStatus.RESOLVED, Transition.REOPEN, CaseStatus.QUEUED),
    (CaseStatus.CLOSED, Transition.REOPEN, CaseStatus.ASSIGNED),
    (CaseStatus.CLOSED, Transition.REOPEN, CaseStatus.QUEUED),
})
_ALLOWED = {(origin, transition) for origin, transition, _ in TRANSITIONS}

_OPENED_TEXT = {OpenReason.REQUESTED: "case_opened_on_request", OpenReason.COMPLAINT: "complaint_opened"}
# The case-opened texts' outside-hours variants, naming when the team is back ($when).
_AWAY_TEXT = {key: f"{key}_away" for key in ("case_opened", "case_opened_on_request", "complaint_opened")}


def allowed(status: CaseStatus, transition: Transition) -> bool:
    """Whether a case in `status` may take `transition`."""
    return (status, transition) in _ALLOWED


def _arrive(case: Case, transition: Transition, **changes: object) -> Case:
    changed = case.with_changes(**changes)
    if (case.status, transition, changed.status) not in TRANSITIONS:
        raise AssertionError(f"case #{case.number}: {transition} from {case.status} to {changed.status} "
                             "is not a transition of router/states.md")
    return changed


def _leave_place(turn: Turn, case: Case) -> None:
    """A case leaving its status leaves its team's queue, or its agent's open cases."""
    if case.status is CaseStatus.QUEUED:
        turn.dequeue(case.team, case.number)
    elif case.status is CaseStatus.ASSIGNED:
        turn.agent_open_cases(case.agent, -1)


def _unlink(turn: Turn, conversation: Conversation, case: Case) -> None:
    if conversation.case == case.number:
        turn.save_conversation(replace(conversation, case=None, pending=None))


async def open_case(turn: Turn, conversation: Conversation, *, team: str | None, reason: OpenReason,
                    subject: str, attachments: tuple[Attachment, ...] = ()) -> Case:
    """A new case for the conversation, waiting in its team's queue; a complaint goes ahead of the rest."""
    team = team if team in turn.config.teams else turn.config.default_team
    priority = HIGH_PRIORITY if reason is OpenReason.COMPLAINT else NORMAL_PRIORITY
    # The score depends on priority and time only, so number and place are read in one round trip.
    score = Case(number=0, conversation="", status=CaseStatus.QUEUED, team=team, priority=priority,
                 queued_at=turn.now).queue_score()
    number, position = await turn.open_case_reads(team, score)
    case = Case(
        number=number, conversation=conversation.id, status=CaseStatus.QUEUED, team=team,
        channel=conversation.channel, customer_name=conversation.customer_name, language=conversation.language,
        priority=priority, reason=reason, subject=subject[:200], created_at=turn.now, queued_at=turn.now)
    linked = replace(conversation, case=number, pending=None)
    turn.save_case(case)
    turn.enqueue(case)
    turn.save_conversation(linked)
    turn.event(Event.CASE_OPENED, case=number, conversation=conversation.id, team=team, reason=reason,
               priority=priority, channel=conversation.channel, language=conversation.language)
    await say_with_expectation(turn, linked, case, _OPENED_TEXT.get(reason, "case_opened"), case=number,
                               position=position)
    note_ids(case=number)
    # Ids only (the scope adds the conversation's): the customer's words stay out of the log.
    log.info("opening case #%s for team %s (%s)", number, team, reason.value)
    turn.tell_desk(DeskEventKind.CASE_WAITING, case, history=await turn.desk_history(conversation.id),
                   attachments=attachments)
    return case


async def say_with_expectation(turn: Turn, conversation: Conversation, waiting: Case, key: str, /,
                               **values: object) -> None:
    """Say `key`, followed by what the customer can expect: when the team is back, or about how long."""
    hours = turn.config.hours(waiting.team)
    expectation = expect(hours, await turn.recent_waits(waiting.team), turn.now)
    language = conversation.language
    if expectation.opens_at is not None and hours is not None and key in _AWAY_TEXT:
        # Its own wording: "an agent will reply shortly" followed by "the team is away" would contradict itself.
        when = opening_phrase(turn.texts, language, hours, expectation.opens_at, turn.now)
        turn.send(conversation, turn.texts.render(language, _AWAY_TEXT[key], when=when, **values))
    else:
        text = turn.texts.render(language, key, **values)
        extra = expectation_text(turn.texts, language, expectation, hours, turn.now)
        turn.send(conversation, f"{text} {extra}" if extra else text)
    if expectation.opens_at is not None:
        turn.event(Event.OUTSIDE_HOURS, conversation=conversation.id, case=waiting.number, team=waiting.team,
                   opens_at=f"{expectation.opens_at:.0f}")


async def warn_sla(turn: Turn, case: Case, waited: float) -> Case:
    """The team's queue hears (once) that a waiting case nears its first-response target."""
    warned = case.with_changes(sla_warned_at=turn.now)
    turn.save_case(warned)
    turn.event(Event.SLA_WARNING, case=case.number, team=case.team, waited=f"{waited:.3f}")
    log.info("case #%s nears the first-response target of team %s", case.number, case.team)
    turn.tell_desk(DeskEventKind.SLA_WARNING, warned, waited=waited)
    return warned


async def escalate(turn: Turn, case: Case, conversation: Conversation, team: str, waited: float) -> Case:
    """Past the SLA's second limit: moved (once) to `team`'s queue, as a transfer by the system."""
    marked = case.with_changes(escalated_at=turn.now, sla_warned_at=case.sla_warned_at or turn.now)
    turn.event(Event.CASE_ESCALATED, case=case.number, from_team=case.team, team=team, waited=f"{waited:.3f}")
    log.info("case #%s escalated from team %s to %s", case.number, case.team, team)
    return await transfer(turn, marked, conversation, team, agent="", agent_name=SLA_AGENT_NAME)


SLA_AGENT_NAME = "Helpline (SLA escalation)"  # who the desk says moved an escalated case


async def claim(turn: Turn, case: Case, conversation: Conversation, agent: str, agent_name: str) -> Case:
    """An agent takes a waiting case: off the queue, onto their open cases; the customer hears who."""
    assigned = _arrive(case, Transition.CLAIM, status=CaseStatus.ASSIGNED, agent=agent,
                       agent_name=agent_name or agent, claimed_at=case.claimed_at or turn.now)
    _leave_place(turn, case)
    turn.agent_open_cases(agent, +1)
    turn.save_case(assigned)
    if case.claimed_at < case.queued_at:
        # Only a wait from queueing to a first claim says how long the next customer will wait.
        waited = working_seconds(turn.config.hours(case.team), case.queued_at, turn.now)
        turn.record_wait(case.team, waited, turn.config.recent_waits)
    turn.event(Event.CASE_CLAIMED, case=case.number, agent=agent, team=case.team,
               waited=f"{turn.now - case.queued_at:.3f}")
    turn.log(conversation.id, "system", f"claimed by {assigned.agent_name}")
    turn.say(conversation, "agent_joined", agent_name=assigned.agent_name, case=case.number)
    turn.tell_desk(DeskEventKind.CASE_CLAIMED, assigned)
    return assigned


async def release(turn: Turn, case: Case, conversation: Conversation) -> Case:
    """Back to the team's queue; the customer keeps their place (the original queue time stays the score)."""
    released = _arrive(case, Transition.RELEASE, status=CaseStatus.QUEUED, agent="", agent_name="",
                       last_agent=case.agent, last_agent_name=case.agent_name)
    position = await turn.queue_position(case.team, released.queue_score())
    _leave_place(turn, case)
    turn.enqueue(released)
    turn.save_case(released)
    turn.event(Event.CASE_RELEASED, case=case.number, agent=case.agent, team=case.team)
    turn.log(conversation.id, "system", f"released by {case.agent_name or case.agent}")
    turn.say(conversation, "released", case=case.number, position=position)
    turn.tell_desk(DeskEventKind.CASE_RELEASED, released, agent=case.agent, agent_name=case.agent_name)
    return released


async def transfer(turn: Turn, case: Case, conversation: Conversation, team: str, agent: str,
                   agent_name: str) -> Case:
    """Into another team's queue (by `agent`), unassigned; the customer hears the team's name in their language."""
    moved = _arrive(case, Transition.TRANSFER, status=CaseStatus.QUEUED, team=team, agent="", agent_name="",
                    last_agent=case.agent or case.last_agent, last_agent_name=case.agent_name or case.last_agent_name)
    position = await turn.queue_position(team, moved.queue_score())
    _leave_place(turn, case)
    turn.enqueue(moved)
    turn.save_case(moved)
    turn.event(Event.CASE_TRANSFERRED, case=case.number, agent=agent, from_team=case.team, team=team)
    turn.log(conversation.id, "system", f"transferred from {case.team} to {team}")
    turn.say(conversation, "transferred", case=case.number, position=position,
             team=turn.config.team_name(team, conversation.language))
    turn.tell_desk(DeskEventKind.CASE_TRANSFERRED, moved, from_team=case.team, agent=agent, agent_name=agent_name,
                   history=await turn.desk_history(conversation.id))
    return moved


async def resolve(turn: Turn, case: Case, conversation: Conversation, agent: str, agent_name: str) -> Case:
    """Solved (by `agent`): the customer is told and asked to rate the help; the reopen window starts."""
    agent_name = case.agent_name or agent_name or agent
    agent = case.agent or agent
    resolved = _arrive(case, Transition.RESOLVE, status=CaseStatus.RESOLVED, resolved_at=turn.now, agent="",
                       agent_name="", last_agent=agent, last_agent_name=agent_name)
    _leave_place(turn, case)
    turn.save_case(resolved)
    turn.awaiting_rating(resolved, True)
    turn.event(Event.CASE_RESOLVED, case=case.number, agent=agent, team=case.team,
               after=f"{turn.now - case.created_at:.3f}", reopened=case.reopened)
    turn.log(conversation.id, "system", f"resolved by {agent_name}")
    turn.say(conversation, "resolved", case=case.number, agent_name=agent_name)
    turn.tell_desk(DeskEventKind.CASE_RESOLVED, resolved, agent=agent, agent_name=agent_name)
    # Asked on every resolve, a reopened case's too: its round is how many times it was reopened.
    ask_rating(turn, resolved, conversation)
    return resolved



async def reopen(turn: Turn, case: Case, conversation: Conversation, by: str,
                 attachments: tuple[Attachment, ...] = ()) -> Case:
    """Back to its last agent when they are available, else to the front of the team's queue."""
    last_agent_status = ""
    if case.last_agent:
        agent_key = turn.keys.agent(case.last_agent)
        status = await turn.hget(agent_key, "status")
        last_agent_status = status or "available"
    again = dict(resolved_at=0.0, closed_at=0.0, reopened=case.reopened + 1, csat=0, acknowledged=0,
                 sla_warned_at=0.0, escalated_at=0.0)
    if case.last_agent and last_agent_status != "away":
        reopened = _arrive(case, Transition.REOPEN, status=CaseStatus.ASSIGNED, agent=case.last_agent,
                           agent_name=case.last_agent_name, **again)
        turn.agent_open_cases(case.last_agent, +1)
    else:
        reopened = _arrive(case, Transition.REOPEN, status=CaseStatus.QUEUED, agent="", agent_name="",
                           queued_at=turn.now, priority=HIGH_PRIORITY, **again)
        turn.enqueue(reopened)
    linked = replace(conversation, case=case.number, pending=None)
    turn.save_case(reopened)
    turn.awaiting_rating(reopened, False)
    if case.status is CaseStatus.CLOSED:
        turn.closed_index(case, False)
    turn.save_conversation(linked)
    turn.event(Event.CASE_REOPENED, case=case.number, conversation=conversation.id, by=by, agent=reopened.agent,
               team=reopened.team)
    turn.log(conversation.id, "system", f"reopened by {by}")
    turn.say(linked, "reopened", case=case.number)
    # The files of the message that reopened it travel with the notice: the history has only their names.
    turn.tell_desk(DeskEventKind.CASE_REOPENED, reopened, history=await turn.desk_history(conversation.id),
                   attachments=attachments)
    return reopened


async def close(turn: Turn, case: Case, conversation: Conversation, reason: CloseReason, rating: int = 0,
                thank: bool = True) -> Case:
    """Closed for good (`reason`); the conversation is free for a new question.

    A rating is thanked unless `thank` is false (the survey thanks in the same message as its next question).
    """
    closed = _arrive(case, Transition.CLOSE, status=CaseStatus.CLOSED, closed_at=turn.now,
                     csat=rating or case.csat)
    _leave_place(turn, case)
    turn.save_case(closed)
    turn.awaiting_rating(closed, False)
    turn.closed_index(closed, True)
    _unlink(turn, conversation, case)
    if reason is CloseReason.NOT_RATED and case.status is CaseStatus.RESOLVED and conversation.case == case.number:
        # A rating typed after the case closed by time still counts (router/survey.py says how long).
        turn.save_conversation(replace(conversation, case=None, pending=Surveying(case.number, case.reopened, "csat")))
    if reason is CloseReason.RATED:
        # The fields are a contract: `helpline report` computes CSAT per round, agent, team and channel.
        turn.event(Event.CASE_RATED, case=case.number, conversation=conversation.id, csat=rating,
                   round=case.reopened, agent=case.last_agent, team=case.team, channel=case.channel)
    turn.event(Event.CASE_CLOSED, case=case.number, conversation=conversation.id, why=reason)
    turn.log(conversation.id, "system", f"closed ({reason.replace('_', ' ')})")
    if reason is CloseReason.RATED:
        turn.tell_desk(DeskEventKind.CASE_RATED, closed, csat=rating)
        if thank:
            turn.say(conversation, "rating_thanks")
    else:
        turn.tell_desk(DeskEventKind.CASE_CLOSED, closed, reason=reason)
        if reason is CloseReason.SOLVED_BY_CUSTOMER:
            turn.say(replace(conversation, case=None), "closed_by_customer", case=case.number)
    return closed
