"""Events → facts: one pass over the events in time order, following each case and conversation.

The definitions (README "Support numbers"):
- A case's clocks run per round: round 0 starts when the case is opened (queued), round k when it is
  reopened for the k-th time (the customer is waiting again, whoever gets it).
- First response: from the round's start to the first agent message the customer *received*
  (`message_delivered` with author=agent for the case). Bot and system messages never count. When no
  delivery report of an agent message came (a channel without them, or reports lost), the round's
  first `agent_reply` stands in, unless an agent message of the round was reported undelivered (the
  customer received nothing); a round without either has no first response.
- Resolution: from the round's start to its `case_resolved`. A resolution whose case was opened before
  the history read has no start seen: its wall-clock `after` field is used for round 0.
- First-contact resolution: a case's first resolution, by the first agent who claimed it (or, never
  claimed, by whoever resolved it), with no transfer before it and no reopen up to the period's end.
- Ratings: every round is asked again; the last answer per case, survey and round counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from router.events import GAP_EVENTS, Event

from .clock import WALL_CLOCK, WorkingClock
from .events import ReportEvent
from .facts import (
    SURVEY_RANGE,
    Answer,
    CaseChange,
    CaseCount,
    Clock,
    ConversationFact,
    Dims,
    Duration,
    Facts,
    FirstContact,
    GapAsked,
    OpenCase,
    Rating,
    Survey,
)

log = logging.getLogger(__name__)
MAX_TRACKED = 2_000_000  # cases or conversations followed at once; beyond, new ones are not followed
_QUESTION_EVENTS = frozenset({Event.FAQ_MATCH, Event.HANDOFF_REQUESTED, Event.COMPLAINT})
# After an answer, these mean it did not settle the question.
_UNSETTLED = frozenset({Event.ANSWER_NOT_HELPFUL, Event.HANDOFF_REQUESTED, Event.COMPLAINT,
                        Event.CASE_OPENED, Event.SUGGESTIONS_REJECTED})
_SURVEY_EVENTS = {Event.CASE_RATED: (Survey.CSAT, "csat"), Event.NPS_RATED: (Survey.NPS, "nps"),
                  Event.CES_RATED: (Survey.CES, "ces")}
_OPEN, _RESOLVED, _CLOSED = "open", "resolved", "closed"


@dataclass
class _Case:
    number: int
    conversation: str
    channel: str | None
    language: str | None
    team: str | None
    opened_at: float
    status: str = _OPEN
    agent: str | None = None  # assigned now
    last_agent: str | None = None
    first_claimer: str | None = None
    transferred: bool = False
    resolutions: int = 0
    round: int = 0
    round_start: float = 0.0
    responded: bool = False
    reply_at: float | None = None  # the round's first agent_reply, the stand-in for a delivery report
    reply_agent: str | None = None
    failed: bool = False  # an agent message of the round was reported undelivered: reports do come
    first_resolution: tuple[float, str | None, str | None] | None = None  # at, agent, team: for FCR

    def dims(self, agent: str | None = None, team: str | None = None) -> Dims:
        return Dims(team=team or self.team, agent=agent, channel=self.channel, language=self.language)


@dataclass
class _Conversation:
    first_at: float
    channel: str | None = None
    language: str | None = None
    teams: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)
    questioned: bool = False
    bot_answered: bool = False
    handed_off: bool = False


@dataclass
class _Pending:
    entry: str
    at: float
    channel: str | None


class History:
    """Follows cases and conversations through the events of [read start, until); counts what
    happened in [since, until) (and, for topics' week-over-week, FAQ facts in [previous, since))."""

    def __init__(self, since: float, until: float, clock_for: Callable[[str | None], WorkingClock],
                 previous: float | None = None) -> None:
        self.since, self.until, self.clock_for = since, until, clock_for
        self.previous = since if previous is None else previous
        self.cases: dict[int, _Case] = {}
        self.channel_of: dict[str, str] = {}  # conversation -> channel, from anything that says it
        self.language_of: dict[str, str] = {}
        self.active: dict[str, _Conversation] = {}
        self.counts: list[CaseCount] = []
        self.durations: list[Duration] = []
        self.ratings: dict[tuple[int, Survey, int], Rating] = {}
        self.answers: list[Answer] = []
        self.previous_answers: list[Answer] = []
        self.pending: dict[str, _Pending] = {}
        self.gaps: list[tuple[ReportEvent, str]] = []  # the event and its conversation
        self.resolved_at: dict[str, list[float]] = {}  # conversation -> times a case of it was resolved
        self.skipped = 0

    # -- the pass -------------------------------------------------------------------------------
    def feed(self, events: Sequence[ReportEvent]) -> Facts:
        for event in events:
            try:
                self._apply(event)
            except (ValueError, TypeError, KeyError) as error:  # one odd event must not cost the report
                self.skipped += 1
                log.debug("report: event %s at %s skipped: %s", event.type, event.at, error)
        if self.skipped:
            log.warning("report: %d events could not be followed and were skipped", self.skipped)
        return self._facts()

    def _in_period(self, at: float) -> bool:
        return self.since <= at < self.until

    def _apply(self, event: ReportEvent) -> None:
        kind, at = event.type, event.at
        conversation = event.text("conversation")
        if conversation:
            if channel := event.text("channel"):
                self.channel_of.setdefault(conversation, channel)
            if language := event.text("language"):
                self.language_of[conversation] = language
        if kind == Event.MESSAGE_IN and conversation and self._in_period(at):
            self._active(conversation, at)
        # A question asked while the conversation has a case (the event names it) belongs to the
        # case, not to the bot's deflection: the customer is already with a person.
        if conversation and self._in_period(at) and conversation in self.active and not event.text("case"):
            if kind in _QUESTION_EVENTS:
                self.active[conversation].questioned = True
            if kind == Event.BOT_ANSWER:
                self.active[conversation].bot_answered = True
        self._follow_answers(event, conversation)
        if kind in GAP_EVENTS and conversation and event.text("question").strip():
            if self.previous <= at < self.until:
                self.gaps.append((event, conversation))
        number = event.integer("case")
        if kind == Event.CASE_OPENED:
            self._opened(event, number, conversation)
            return
        if number is None or kind == Event.MESSAGE_IN:
            return
        if kind in _SURVEY_EVENTS:
            self._rated(event, number)
            return
        if kind == Event.RATING_ASKED:
            self._asked(event, number)
            return
        case = self.cases.get(number)
        if kind == Event.CASE_RESOLVED:
            self._resolved(event, number, case)
            return
        if case is None:
            return  # opened before the history read: only its resolutions and ratings are counted
        if kind == Event.CASE_CLAIMED:
            agent = event.text("agent") or None
            case.first_claimer = case.first_claimer or agent
            case.agent = agent
            self._touch(case, at, agent=agent)
        elif kind == Event.CASE_TRANSFERRED:
            case.team = event.text("team") or case.team
            case.agent = None
            if case.first_resolution is None:
                case.transferred = True
            self._touch(case, at)
        elif kind == Event.CASE_RELEASED:
            case.last_agent, case.agent = case.agent or case.last_agent, None
        elif kind == Event.AGENT_REPLY:
            if case.reply_at is None and at >= case.round_start:
                case.reply_at, case.reply_agent = at, event.text("agent") or case.agent
        elif kind == Event.MESSAGE_DELIVERED:
            if event.text("author") == "agent" and not case.responded and at >= case.round_start:
                self._responded(case, at, case.reply_agent or case.agent or case.last_agent)
        elif kind == Event.DELIVERY_FAILED:
            if event.text("author") == "agent" and at >= case.round_start:
                case.failed = True
        elif kind == Event.CASE_REOPENED:
            self._reopened(event, case)
        elif kind == Event.CASE_CLOSED:
            self._stand_in_response(case)
            case.status, case.agent = _CLOSED, None

    def _active(self, conversation: str, at: float) -> None:
        record = self.active.get(conversation)
        if record is None:
            if len(self.active) >= MAX_TRACKED:
                return
            record = self.active[conversation] = _Conversation(first_at=at)
        record.channel = self.channel_of.get(conversation, record.channel)
        record.language = self.language_of.get(conversation, record.language)

    def _touch(self, case: _Case, at: float, agent: str | None = None) -> None:
        record = self.active.get(case.conversation)
        if record is None or not self._in_period(at):
            return
        if case.team:
            record.teams.add(case.team)
        if agent:
            record.agents.add(agent)

    def _opened(self, event: ReportEvent, number: int | None, conversation: str) -> None:
        if number is None or number in self.cases or len(self.cases) >= MAX_TRACKED:
            return
        case = _Case(number=number, conversation=conversation,
                     channel=event.text("channel") or self.channel_of.get(conversation),
                     language=event.text("language") or self.language_of.get(conversation),
                     team=event.text("team") or None, opened_at=event.at, round_start=event.at)
        self.cases[number] = case
        if self._in_period(event.at):
            self.counts.append(CaseCount(CaseChange.OPENED, event.at, case.dims()))
            record = self.active.get(conversation)
            if record is not None:
                record.questioned = record.handed_off = True
            self._touch(case, event.at)

    def _responded(self, case: _Case, at: float, agent: str | None) -> None:
        case.responded = True
        if self._in_period(at):
            seconds = self.clock_for(case.team).working_seconds(case.round_start, at)
            self.durations.append(Duration(Clock.FIRST_RESPONSE, at, seconds, case.dims(agent), case.number,
                                           case.round))

    def _stand_in_response(self, case: _Case) -> None:
        """The round ends without a delivery report of an agent message: its first agent_reply stands in
        (not when its messages were reported undelivered: the customer received nothing)."""
        if not case.responded and case.reply_at is not None and not case.failed:
            self._responded(case, case.reply_at, case.reply_agent)

    def _resolved(self, event: ReportEvent, number: int, case: _Case | None) -> None:
        at = event.at
        agent = event.text("agent") or (case.agent if case else None) or None
        team = event.text("team") or (case.team if case else None) or None
        if case is not None:
            case.status, case.agent, case.last_agent = _RESOLVED, None, agent
            case.resolutions += 1
            if case.first_resolution is None and case.round == 0:
                case.first_resolution = (at, agent, team)
            self._touch(case, at, agent=agent)
            self.resolved_at.setdefault(case.conversation, []).append(at)
        if not self._in_period(at):
            return
        if case is not None:
            dims = case.dims(agent, team)
            seconds = self.clock_for(team).working_seconds(case.round_start, at)
            self.durations.append(Duration(Clock.RESOLUTION, at, seconds, dims, number, case.round))
        else:
            dims = Dims(team=team, agent=agent)
            after, reopened = event.number("after"), event.integer("reopened") or 0
            if after is not None and after >= 0 and reopened == 0:
                self.durations.append(Duration(Clock.RESOLUTION, at, after, dims, number, 0))
        self.counts.append(CaseCount(CaseChange.RESOLVED, at, dims))

    def _reopened(self, event: ReportEvent, case: _Case) -> None:
        self._stand_in_response(case)
        case.round += 1
        case.round_start = event.at
        case.responded, case.reply_at, case.reply_agent, case.failed = False, None, None, False
        case.status = _OPEN
        case.team = event.text("team") or case.team
        case.agent = event.text("agent") or None
        if self._in_period(event.at):
            self.counts.append(CaseCount(CaseChange.REOPENED, event.at, case.dims(case.agent)))
            self._touch(case, event.at, agent=case.agent)

    def _rated(self, event: ReportEvent, number: int) -> None:
        survey, name = _SURVEY_EVENTS[Event(event.type)]
        value = event.integer(name)
        low, high = SURVEY_RANGE[survey]
        if value is None or not low <= value <= high or not self._in_period(event.at):
            return
        case = self.cases.get(number)
        round_ = event.integer("round")
        if round_ is None:
            round_ = case.round if case else 0
        team = event.text("team") or (case.team if case else None) or None
        agent = event.text("agent") or (case.last_agent if case else None) or None
        channel = event.text("channel") or (case.channel if case else None) or None
        language = case.language if case else None
        # The last answer of a round counts: a customer who changes their mind is heard.
        self.ratings[(number, survey, round_)] = Rating(survey, event.at, value, Dims(team, agent, channel, language),
                                                       number, round_)

    def _asked(self, event: ReportEvent, number: int) -> None:
        if not self._in_period(event.at):
            return
        case = self.cases.get(number)
        dims = Dims(team=event.text("team") or (case.team if case else None) or None,
                    agent=case.last_agent if case else None,
                    channel=event.text("channel") or (case.channel if case else None) or None,
                    language=case.language if case else None)
        self.counts.append(CaseCount(CaseChange.RATING_ASKED, event.at, dims))

    def _follow_answers(self, event: ReportEvent, conversation: str) -> None:
        if not conversation:
            return
        kind = event.type
        if kind in _UNSETTLED or kind == Event.ANSWER_HELPFUL or kind == Event.FAQ_MATCH:
            pending = self.pending.pop(conversation, None)
            if pending is not None:
                self._settle(pending, resolved=kind not in _UNSETTLED)
        if kind == Event.BOT_ANSWER and (entry := event.text("faq_entry")):
            if previous := self.pending.pop(conversation, None):
                self._settle(previous, resolved=True)
            if len(self.pending) < MAX_TRACKED:
                self.pending[conversation] = _Pending(entry, event.at, self.channel_of.get(conversation))

    def _settle(self, pending: _Pending, resolved: bool) -> None:
        answer = Answer(pending.entry, pending.at, resolved, pending.channel)
        if self._in_period(pending.at):
            self.answers.append(answer)
        elif self.previous <= pending.at < self.since:
            self.previous_answers.append(answer)

    # -- the end --------------------------------------------------------------------------------
    def _facts(self) -> Facts:
        for pending in self.pending.values():
            self._settle(pending, resolved=True)  # nothing said it did not help by the period's end
        self.pending.clear()
        for case in self.cases.values():
            self._stand_in_response(case)
        first_contacts = []
        for case in self.cases.values():
            if case.first_resolution is None:
                continue
            at, agent, team = case.first_resolution
            if not self._in_period(at):
                continue
            by_first = case.first_claimer is None or agent == case.first_claimer
            solved = by_first and not case.transferred and case.round == 0
            first_contacts.append(FirstContact(at, solved, case.dims(agent, team), case.number))
        conversations = tuple(
            ConversationFact(conversation=cid, first_at=record.first_at, channel=record.channel,
                             language=record.language, teams=frozenset(record.teams),
                             agents=frozenset(record.agents), questioned=record.questioned,
                             bot_answered=record.bot_answered, handed_off=record.handed_off)
            for cid, record in self.active.items())
        backlog = tuple(OpenCase(case.number, case.dims(case.agent)) for case in self.cases.values()
                        if case.status == _OPEN)
        return Facts(conversations=conversations, case_counts=tuple(self.counts),
                     durations=tuple(sorted(self.durations, key=lambda d: d.at)),
                     first_contacts=tuple(sorted(first_contacts, key=lambda f: f.at)),
                     ratings=tuple(sorted(self.ratings.values(), key=lambda r: r.at)), backlog=backlog)

    def gap_questions(self) -> list[GapAsked]:
        asked = []
        for event, conversation in self.gaps:
            resolved = any(at >= event.at for at in self.resolved_at.get(conversation, ()))
            asked.append(GapAsked(question=event.text("question").strip()[:500],
                                  language=event.text("language") or self.language_of.get(conversation),
                                  kind=event.type, at=event.at, channel=self.channel_of.get(conversation),
                                  resolved=resolved))
        return asked


def clocks(hours: Mapping[str, WorkingClock] | None) -> Callable[[str | None], WorkingClock]:
    """Each team's clock: its business hours when configured, else the wall clock."""
    table = dict(hours or {})

    def clock_for(team: str | None) -> WorkingClock:
        return table.get(team or "", WALL_CLOCK)

    return clock_for
