"""What customers ask about: FAQ entries that answered, and the groups of questions the FAQ did not
settle (as `helpline faq gaps` groups them), with resolution rates and the previous period's counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .facts import Answer, GapAsked
from .stats import share

if TYPE_CHECKING:
    from faq.gaps import GapQuestion
    from faq.kb import KnowledgeBase

TOP = 10  # entries and gaps listed
MAX_GAP_QUESTIONS = 3000  # questions clustered per report (the clustering is quadratic); the latest kept


@dataclass(frozen=True, slots=True)
class GapGroup:
    """One group of questions: a representative question, its size, the closest FAQ entry."""

    question: str
    count: int
    closest_entry: str | None


class GapGrouper(Protocol):
    def groups(self, questions: Sequence[GapAsked]) -> list[tuple[GapGroup, list[int]]]:
        """Groups of the questions, biggest first, each with the indexes of its members."""
        ...


class FaqGapGrouper:
    """Groups with faq/gaps.py (the same need, closest entry from `kb`); questions for which `keep`
    says no (a bare request for a person) are left out, as `faq gaps` leaves them out."""

    def __init__(self, kb: KnowledgeBase | None = None, keep: Callable[[str], bool] | None = None) -> None:
        self.kb, self.keep = kb, keep

    def groups(self, questions: Sequence[GapAsked]) -> list[tuple[GapGroup, list[int]]]:
        from faq.gaps import GapQuestion, cluster_labels, find_gaps  # numpy and scipy: only when asked

        indexes = [i for i, q in enumerate(questions) if self.keep is None or self.keep(q.question)]
        indexes = indexes[-MAX_GAP_QUESTIONS:]
        if not indexes:
            return []
        asked: list[GapQuestion] = [GapQuestion(text=questions[i].question, language=questions[i].language,
                                                kind=questions[i].kind, at=questions[i].at) for i in indexes]
        labels = cluster_labels(asked, self.kb)
        members: dict[int, list[int]] = {}
        label_of_text: dict[str, int] = {}
        for position, (index, label) in enumerate(zip(indexes, labels)):
            members.setdefault(label, []).append(index)
            label_of_text.setdefault(asked[position].text.strip(), label)
        # find_gaps groups exactly as cluster_labels does; a cluster's first example is one of its
        # members' texts, which names its label.
        result = []
        for cluster in find_gaps(asked, self.kb):
            found = label_of_text.get(cluster.examples[0].strip()) if cluster.examples else None
            if found is None or found not in members:
                continue
            result.append((GapGroup(cluster.examples[0], len(members[found]), cluster.closest_entry),
                           members.pop(found)))
        result.sort(key=lambda pair: (-pair[0].count, pair[0].question))
        return result


@dataclass(frozen=True, slots=True)
class Topic:
    topic: str
    kind: str  # "entry" | "gap"
    count: int
    resolution_rate: float | None
    previous_count: int

    def to_json(self) -> dict[str, object]:
        return {"topic": self.topic, "kind": self.kind, "count": self.count,
                "resolution_rate": self.resolution_rate, "previous_count": self.previous_count}


@dataclass(frozen=True, slots=True)
class TopEntry:
    entry: str
    answered: int
    resolved_rate: float | None

    def to_json(self) -> dict[str, object]:
        return {"entry": self.entry, "answered": self.answered, "resolved_rate": self.resolved_rate}


@dataclass(frozen=True, slots=True)
class TopGap:
    question: str
    count: int
    closest_entry: str | None

    def to_json(self) -> dict[str, object]:
        return {"question": self.question, "count": self.count, "closest_entry": self.closest_entry}


def _rate(part: int, whole: int) -> float | None:
    value = share(part, whole)
    return None if value is None else round(value, 4)


def entry_topics(answers: Sequence[Answer], previous: Sequence[Answer]) -> tuple[list[TopEntry], list[Topic]]:
    answered = Counter(a.entry for a in answers)
    resolved = Counter(a.entry for a in answers if a.resolved)
    before = Counter(a.entry for a in previous)
    ranked = sorted(answered, key=lambda entry: (-answered[entry], entry))
    top = [TopEntry(entry, answered[entry], _rate(resolved[entry], answered[entry])) for entry in ranked[:TOP]]
    topics = [Topic(entry, "entry", answered[entry], _rate(resolved[entry], answered[entry]), before[entry])
              for entry in ranked]
    return top, topics


def gap_topics(asked: Sequence[GapAsked], since: float, grouper: GapGrouper) -> tuple[list[TopGap], list[Topic]]:
    """Grouped together, this period's questions and the previous period's (at < since): a group's
    count is this period's, its previous_count the previous period's."""
    gaps, topics = [], []
    for group, members in grouper.groups(asked):
        now = [asked[i] for i in members if asked[i].at >= since]
        before = len(members) - len(now)
        if not now:
            continue
        gaps.append(TopGap(group.question, len(now), group.closest_entry))
        topics.append(Topic(group.question, "gap", len(now), _rate(sum(1 for q in now if q.resolved), len(now)),
                            before))
    gaps.sort(key=lambda gap: (-gap.count, gap.question))
    return gaps[:TOP], topics
