"""Facts → figures for one scope (the whole report, a team, an agent, a channel, a language)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .facts import CaseChange, Clock, ConversationFact, Dimension, Dims, Facts, Survey
from .stats import mean, median, percentile, share

MAX_GROUPS = 500  # teams, agents, channels or languages listed per grouping


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and 90th percentile of durations, in seconds."""

    median: float | None
    p90: float | None
    count: int

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(_round(median(values), 3), _round(percentile(values, 90.0), 3), len(values))

    def to_json(self) -> dict[str, object]:
        return {"median": self.median, "p90": self.p90, "count": self.count}


@dataclass(frozen=True, slots=True)
class Figures:
    conversations: int
    conversations_with_question: int
    deflected: int
    handed_off: int
    deflection_rate: float | None
    handoff_rate: float | None
    opened: int
    resolved: int
    reopened: int
    backlog: int
    first_response: Spread
    resolution: Spread
    first_contact_resolution: float | None
    first_contact_cases: int
    csat_distribution: dict[int, int] = field(hash=False)
    csat_score: float | None = None
    nps_responses: int = 0
    nps_score: float | None = None
    ces_responses: int = 0
    ces_average: float | None = None
    csat_asked: int = 0

    @property
    def csat_responses(self) -> int:
        return sum(self.csat_distribution.values())

    def to_json(self) -> dict[str, object]:
        return {
            "conversations": self.conversations,
            "conversations_with_question": self.conversations_with_question,
            "deflection_rate": self.deflection_rate,
            "handoff_rate": self.handoff_rate,
            "cases": {"opened": self.opened, "resolved": self.resolved, "reopened": self.reopened,
                      "backlog": self.backlog},
            "first_response_seconds": self.first_response.to_json(),
            "resolution_seconds": self.resolution.to_json(),
            "first_contact_resolution": self.first_contact_resolution,
            "csat": {"responses": self.csat_responses, "score": self.csat_score,
                     "distribution": {str(score): self.csat_distribution.get(score, 0) for score in range(1, 6)},
                     "asked": self.csat_asked},
            "nps": {"responses": self.nps_responses, "score": self.nps_score},
            "ces": {"responses": self.ces_responses, "average": self.ces_average},
        }


@dataclass(frozen=True, slots=True)
class Scope:
    """Which facts count: those of `team` and `channel` (None: any), and of one group's value."""

    team: str | None = None
    channel: str | None = None
    dimension: Dimension | None = None
    value: str | None = None

    def within(self, dimension: Dimension, value: str) -> Scope:
        return Scope(self.team, self.channel, dimension, value)

    @property
    def bot_attributable(self) -> bool:
        """The bot's work (deflection) belongs to no team or agent: it is not shown per team or agent."""
        return self.team is None and self.dimension not in (Dimension.TEAM, Dimension.AGENT)

    def takes(self, dims: Dims) -> bool:
        if self.team is not None and dims.team != self.team:
            return False
        if self.channel is not None and dims.channel != self.channel:
            return False
        return self.dimension is None or dims.value(self.dimension) == self.value

    def takes_conversation(self, fact: ConversationFact) -> bool:
        if self.team is not None and not fact.matches(Dimension.TEAM, self.team):
            return False
        if self.channel is not None and fact.channel != self.channel:
            return False
        return self.dimension is None or self.value is None or fact.matches(self.dimension, self.value)


def compute(facts: Facts, scope: Scope, when: Callable[[float], bool] = lambda at: True) -> Figures:
    """The figures of the facts in `scope` whose time passes `when` (a series bucket, or all)."""
    conversations = [c for c in facts.conversations if scope.takes_conversation(c) and when(c.first_at)]
    questioned = [c for c in conversations if c.questioned]
    deflected = sum(1 for c in questioned if c.deflected)
    handed_off = sum(1 for c in questioned if c.handed_off)
    attributable = scope.bot_attributable
    counts = Counter(c.change for c in facts.case_counts if scope.takes(c.dims) and when(c.at))
    durations: dict[Clock, list[float]] = {Clock.FIRST_RESPONSE: [], Clock.RESOLUTION: []}
    for duration in facts.durations:
        if scope.takes(duration.dims) and when(duration.at):
            durations[duration.clock].append(duration.seconds)
    contacts = [f.solved for f in facts.first_contacts if scope.takes(f.dims) and when(f.at)]
    ratings: dict[Survey, list[int]] = {Survey.CSAT: [], Survey.NPS: [], Survey.CES: []}
    for rating in facts.ratings:
        if scope.takes(rating.dims) and when(rating.at):
            ratings[rating.survey].append(rating.value)
    csat, nps, ces = ratings[Survey.CSAT], ratings[Survey.NPS], ratings[Survey.CES]
    promoters, detractors = sum(1 for v in nps if v >= 9), sum(1 for v in nps if v <= 6)
    nps_score = None if not nps else round(100.0 * (promoters - detractors) / len(nps), 2)
    return Figures(
        conversations=len(conversations), conversations_with_question=len(questioned),
        deflected=deflected, handed_off=handed_off,
        deflection_rate=_round(share(deflected, len(questioned)), 4) if attributable else None,
        handoff_rate=_round(share(handed_off, len(questioned)), 4) if attributable else None,
        opened=counts[CaseChange.OPENED], resolved=counts[CaseChange.RESOLVED],
        reopened=counts[CaseChange.REOPENED],
        backlog=sum(1 for case in facts.backlog if scope.takes(case.dims)),
        first_response=Spread.of(durations[Clock.FIRST_RESPONSE]),
        resolution=Spread.of(durations[Clock.RESOLUTION]),
        first_contact_resolution=_round(share(sum(contacts), len(contacts)), 4),
        first_contact_cases=len(contacts),
        csat_distribution=dict(Counter(csat)),
        csat_score=_round(share(sum(1 for v in csat if v >= 4), len(csat)), 4),
        nps_responses=len(nps), nps_score=nps_score,
        ces_responses=len(ces), ces_average=_round(mean([float(v) for v in ces]), 4),
        csat_asked=counts[CaseChange.RATING_ASKED],
    )


def partition(facts: Facts, scope: Scope, dimension: Dimension) -> dict[str, Facts]:
    """The facts in scope of each value of `dimension`, most facts first (then by name), in one pass.

    Teams and agents come from the cases' facts, which carry the team of the moment; a conversation
    joins every team and agent its cases met that has a case fact of its own in scope (a conversation
    lists teams it met, which under a team filter could name the other team's agents).
    """
    parts: dict[str, dict[str, list[Any]]] = {}

    def put(value: str | None, name: str, fact: object) -> None:
        if value:
            parts.setdefault(value, {n: [] for n in _LISTS})[name].append(fact)

    for name in _LISTS[1:]:
        for fact in getattr(facts, name):
            if scope.takes(fact.dims):
                put(fact.dims.value(dimension), name, fact)
    for conversation in facts.conversations:
        if not scope.takes_conversation(conversation):
            continue
        if dimension is Dimension.CHANNEL:
            put(conversation.channel, "conversations", conversation)
        elif dimension is Dimension.LANGUAGE:
            put(conversation.language, "conversations", conversation)
        else:
            for value in conversation.teams if dimension is Dimension.TEAM else conversation.agents:
                if value in parts:
                    put(value, "conversations", conversation)
    size = {value: sum(len(items) for items in lists.values()) for value, lists in parts.items()}
    ranked = sorted(parts, key=lambda value: (-size[value], value))[:MAX_GROUPS]
    return {value: Facts(**{name: tuple(parts[value][name]) for name in _LISTS}) for value in ranked}


_LISTS = ("conversations", "case_counts", "durations", "first_contacts", "ratings", "backlog")
