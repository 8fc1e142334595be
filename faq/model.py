"""Value types shared by the loader, the matcher and callers of the knowledge base."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class Decision(str, enum.Enum):
    """What the bot should do with a customer's message."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    NO_MATCH = "no_match"


@dataclass(frozen=True, slots=True)
class Entry:
    """One question/answer entry of the knowledge base, with where it was written."""

    id: str
    team: str | None
    tags: tuple[str, ...]
    # Mappings are read-only views; they are left out of the hash because mappings are unhashable.
    questions: Mapping[str, tuple[str, ...]] = field(hash=False)
    answers: Mapping[str, str] = field(hash=False)
    file: Path
    line: int


@dataclass(frozen=True, slots=True)
class Match:
    """An entry ranked for a message, with a score in 0..1."""

    entry_id: str
    score: float
    team: str | None


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The decision for a message, its ranked matches (best first, at most five) and its detected language."""

    decision: Decision
    matches: tuple[Match, ...]
    language: str
    offered: tuple[Match, ...] = ()  # the choices to offer when the decision is SUGGEST
