"""What the bot asked a customer and is waiting for: typed values, stored as JSON on the conversation.

Only one thing is pending at a time; the customer's next message either answers it or is a new
question, in which case the pending question is simply dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class AwaitingFeedback:
    """After an FAQ answer: "did this answer your question?"."""

    entry: str
    question: str
    team: str | None = None
    case: int | None = None  # set when the answer came while this case waits for an agent


@dataclass(frozen=True, slots=True)
class AwaitingChoice:
    """After "did you mean one of these?": the entries offered and the labels the customer saw."""

    entries: tuple[str, ...]
    labels: tuple[str, ...]
    question: str
    team: str | None = None


@dataclass(frozen=True, slots=True)
class AwaitingRephrase:
    """After "could you put it another way?": the unmatched questions so far."""

    questions: tuple[str, ...]
    team: str | None = None

    @property
    def turns(self) -> int:
        return len(self.questions)


@dataclass(frozen=True, slots=True)
class Surveying:
    """After a resolve: the feedback question asked last for the case's round.

    `step` is `csat` (a case closed unrated, whose late rating still counts), `nps`, `ces`,
    `comment`, or `done` (all asked: a repeated rating is thanked, not counted).
    """

    case: int
    round: int
    step: str

    @property
    def team(self) -> str | None:
        return None  # a new question after the survey goes to whichever team it is about


Pending = AwaitingFeedback | AwaitingChoice | AwaitingRephrase | Surveying

_KINDS: dict[str, type[AwaitingFeedback] | type[AwaitingChoice] | type[AwaitingRephrase] | type[Surveying]] = {
    "feedback": AwaitingFeedback, "choice": AwaitingChoice, "rephrase": AwaitingRephrase, "survey": Surveying,
}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}


def pending_to_json(pending: Pending | None) -> str:
    """The stored form: "" for nothing pending, else a JSON object with its `kind`."""
    if pending is None:
        return ""
    data: dict[str, Any] = {"kind": _KIND_OF[type(pending)]}
    for name in pending.__slots__:
        value = getattr(pending, name)
        data[name] = list(value) if isinstance(value, tuple) else value
    return json.dumps(data, ensure_ascii=False)


def pending_from_json(text: str) -> Pending | None:
    """Read back what `pending_to_json` wrote; anything unreadable counts as nothing pending."""
    if not text:
        return None
    try:
        data = json.loads(text)
        cls = _KINDS[data.pop("kind")]
        values: dict[str, Any] = {name: tuple(value) if isinstance(value, list) else value
                                  for name, value in data.items() if name in cls.__slots__}
        return cls(**values)
    except (ValueError, KeyError, TypeError, AttributeError):
        # A value written by an older version: forgetting one question is better than failing the message.
        return None
