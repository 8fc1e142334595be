"""`build_report`: the support numbers of a period, from `hl:events` alone (see README "Support numbers")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from router.keys import Keys

from .clock import WorkingClock
from .events import read_events
from .facts import Dimension, Facts
from .figures import Figures, Scope, compute, partition
from .history import History, clocks
from .topics import FaqGapGrouper, GapGrouper, TopEntry, TopGap, Topic, entry_topics, gap_topics

HISTORY_SECONDS = 14 * 86400  # read this far before `since` to know the cases' and conversations' past
MAX_BUCKETS = 1000


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class ReportQuery:
    since: float  # unix seconds
    until: float  # unix seconds
    team: str | None = None
    channel: str | None = None
    bucket_seconds: int = 86400  # width of the time-series buckets
    history_seconds: float = HISTORY_SECONDS

    def __post_init__(self) -> None:
        if not (math.isfinite(self.since) and math.isfinite(self.until)) or self.until <= self.since:
            raise ValueError("a report's period needs since < until")
        if self.bucket_seconds < 60:
            raise ValueError("series buckets are a minute wide at least")
        if (self.until - self.since) / self.bucket_seconds > MAX_BUCKETS:
            raise ValueError(f"at most {MAX_BUCKETS} series buckets: choose wider buckets or a shorter period")


@dataclass(frozen=True, slots=True)
class Series:
    bucket_seconds: int
    starts: tuple[float, ...]
    conversations_by_channel: dict[str, list[int]] = field(hash=False)
    buckets: tuple[Figures, ...] = field(hash=False)

    def to_json(self) -> dict[str, object]:
        return {
            "bucket_seconds": self.bucket_seconds,
            "starts": [iso(start) for start in self.starts],
            "conversations_by_channel": self.conversations_by_channel,
            "deflection_rate": [f.deflection_rate for f in self.buckets],
            "first_response_median_seconds": [f.first_response.median for f in self.buckets],
            "resolution_median_seconds": [f.resolution.median for f in self.buckets],
            "csat_score": [f.csat_score for f in self.buckets],
        }


@dataclass(frozen=True, slots=True)
class Report:
    query: ReportQuery
    figures: Figures
    groups: dict[Dimension, dict[str, Figures]] = field(hash=False)
    top_entries: tuple[TopEntry, ...]
    top_gaps: tuple[TopGap, ...]
    topics: tuple[Topic, ...]
    series: Series

    def to_json(self) -> dict[str, Any]:
        """Exactly the JSON of `helpline report --json` (docs: report contract, README)."""
        body: dict[str, Any] = {"since": iso(self.query.since), "until": iso(self.query.until),
                                "team": self.query.team, "channel": self.query.channel}
        body.update(self.figures.to_json())
        for dimension in Dimension:
            body[f"by_{dimension.value}"] = {value: figures.to_json()
                                             for value, figures in self.groups.get(dimension, {}).items()}
        body["top_entries"] = [entry.to_json() for entry in self.top_entries]
        body["top_gaps"] = [gap.to_json() for gap in self.top_gaps]
        body["topics"] = [topic.to_json() for topic in self.topics]
        body["series"] = self.series.to_json()
        return body


def _buckets(facts: Facts, since: float, width: int, count: int) -> list[Facts]:
    """The facts of each series bucket (one pass over them; the backlog belongs to no bucket)."""
    def index(at: float) -> int | None:
        position = int((at - since) // width)
        return position if 0 <= position < count else None

    parts: list[dict[str, list[Any]]] = [{name: [] for name in _FACT_LISTS} for _ in range(count)]
    for name in _FACT_LISTS:
        for fact in getattr(facts, name):
            position = index(fact.first_at if name == "conversations" else fact.at)
            if position is not None:
                parts[position][name].append(fact)
    return [Facts(**{name: tuple(part[name]) for name in _FACT_LISTS}, backlog=()) for part in parts]


_FACT_LISTS = ("conversations", "case_counts", "durations", "first_contacts", "ratings")


def _series(facts: Facts, scope: Scope, query: ReportQuery) -> Series:
    width = query.bucket_seconds
    count = max(1, math.ceil((query.until - query.since) / width))
    starts = tuple(query.since + i * width for i in range(count))
    buckets = tuple(compute(bucket, scope) for bucket in _buckets(facts, query.since, width, count))
    channels: dict[str, list[int]] = {}
    for conversation in facts.conversations:
        if not scope.takes_conversation(conversation):
            continue
        index = min(count - 1, int((conversation.first_at - query.since) // width))
        row = channels.setdefault(conversation.channel or "unknown", [0] * count)
        row[index] += 1
    return Series(width, starts, dict(sorted(channels.items())), buckets)


async def build_report(redis: Any, keys: Keys, query: ReportQuery, *,
                       hours: Mapping[str, WorkingClock] | None = None,
                       gaps: GapGrouper | None = None) -> Report:
    """The report of `query`'s period. `hours`: each team's business hours (clocks pause outside
    them), None for wall-clock time; `gaps`: how questions the FAQ did not settle are grouped
    (default: faq/gaps.py without a knowledge base, so without closest entries)."""
    length = query.until - query.since
    previous = query.since - length  # topics: the period of the same length just before
    events = await read_events(redis, keys, min(previous, query.since - query.history_seconds), query.until)
    history = History(query.since, query.until, clocks(hours), previous=previous)
    facts = history.feed(events)
    scope = Scope(team=query.team, channel=query.channel)
    groups = {dimension: {value: compute(part, scope.within(dimension, value))
                          for value, part in partition(facts, scope, dimension).items()}
              for dimension in Dimension}

    def wanted(channel: str | None) -> bool:
        return query.channel is None or channel == query.channel

    top_entries, entry_topic_list = entry_topics([a for a in history.answers if wanted(a.channel)],
                                                 [a for a in history.previous_answers if wanted(a.channel)])
    asked = [q for q in history.gap_questions() if wanted(q.channel)]
    top_gaps, gap_topic_list = gap_topics(asked, query.since, gaps or FaqGapGrouper())
    topics = sorted([*entry_topic_list, *gap_topic_list], key=lambda t: (-t.count, t.kind, t.topic))
    return Report(query=query, figures=compute(facts, scope), groups=groups, top_entries=tuple(top_entries),
                  top_gaps=tuple(top_gaps), topics=tuple(topics[:50]), series=_series(facts, scope, query))
