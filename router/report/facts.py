"""The facts a report counts, each attributed to the team, agent, channel and language it belongs to.

`router/report/history.py` turns the events into these; `router/report/figures.py` adds them up for
any grouping, so every grouping counts the same facts the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Dimension(StrEnum):
    TEAM = "team"
    AGENT = "agent"
    CHANNEL = "channel"
    LANGUAGE = "language"


@dataclass(frozen=True, slots=True)
class Dims:
    team: str | None = None
    agent: str | None = None
    channel: str | None = None
    language: str | None = None

    def value(self, dimension: Dimension) -> str | None:
        value: str | None = getattr(self, dimension.value)
        return value


@dataclass(frozen=True, slots=True)
class ConversationFact:
    """A conversation with a customer message in the period. `questioned`: it asked the bot something
    (an FAQ lookup, a request for a person, a complaint, or a case opened); `bot_answered`: the bot
    answered from the FAQ; `handed_off`: a case was opened in the period."""

    conversation: str
    first_at: float
    channel: str | None
    language: str | None
    teams: frozenset[str]
    agents: frozenset[str]
    questioned: bool
    bot_answered: bool
    handed_off: bool

    @property
    def deflected(self) -> bool:
        return self.questioned and self.bot_answered and not self.handed_off

    def matches(self, dimension: Dimension, value: str) -> bool:
        if dimension is Dimension.TEAM:
            return value in self.teams
        if dimension is Dimension.AGENT:
            return value in self.agents
        if dimension is Dimension.CHANNEL:
            return self.channel == value
        return self.language == value


class CaseChange(StrEnum):
    OPENED = "opened"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    RATING_ASKED = "rating_asked"  # the survey was sent (`rating_asked`): what CSAT answers are out of


@dataclass(frozen=True, slots=True)
class CaseCount:
    change: CaseChange
    at: float
    dims: Dims


class Clock(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


@dataclass(frozen=True, slots=True)
class Duration:
    """A clock that stopped at `at` after `seconds` (working seconds when business hours are set)."""

    clock: Clock
    at: float
    seconds: float
    dims: Dims
    case: int
    round: int


@dataclass(frozen=True, slots=True)
class FirstContact:
    """A case resolved for the first time at `at`; `solved`: by the first agent who claimed it, never
    transferred, not reopened by the end of the period."""

    at: float
    solved: bool
    dims: Dims
    case: int


class Survey(StrEnum):
    CSAT = "csat"
    NPS = "nps"
    CES = "ces"


SURVEY_RANGE = {Survey.CSAT: (1, 5), Survey.NPS: (0, 10), Survey.CES: (1, 7)}


@dataclass(frozen=True, slots=True)
class Rating:
    survey: Survey
    at: float
    value: int
    dims: Dims
    case: int
    round: int


@dataclass(frozen=True, slots=True)
class OpenCase:
    """A case still open (queued or assigned) at the end of the period: the backlog."""

    case: int
    dims: Dims


@dataclass(frozen=True, slots=True)
class Facts:
    conversations: tuple[ConversationFact, ...]
    case_counts: tuple[CaseCount, ...]
    durations: tuple[Duration, ...]
    first_contacts: tuple[FirstContact, ...]
    ratings: tuple[Rating, ...]
    backlog: tuple[OpenCase, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    """The bot answered with an FAQ entry; `resolved` unless the customer then said it did not help,
    asked for a person, complained or got a case before asking anything else."""

    entry: str
    at: float
    resolved: bool
    channel: str | None


@dataclass(frozen=True, slots=True)
class GapAsked:
    """A question the FAQ did not settle (one of `GAP_EVENTS`); `resolved` when a case of its
    conversation was resolved after it, by the end of the period."""

    question: str
    language: str | None
    kind: str
    at: float
    channel: str | None
    resolved: bool
