"""Reading `hl:events` for a report: a time range of the stream, each entry a typed, checked value.

The stream is outside input as far as a report goes (old versions, hand-written entries, a bug
elsewhere): an entry without a type or a readable time is logged and skipped, a field with a
garbage number reads as missing, and nothing here raises on what it reads.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from router.keys import Keys

log = logging.getLogger(__name__)
PAGE = 5000  # entries per XRANGE round trip
MAX_FIELD_CHARS = 2000  # a field longer than this is cut: questions are 500 characters at most when written
MAX_EVENTS = 5_000_000  # the stream is capped at ~1,000,000; a report never holds more than this


@dataclass(frozen=True, slots=True)
class ReportEvent:
    """One event: its type (an `Event` value, or an unknown name kept as is), its time (unix seconds,
    the `at` field the router wrote, else the stream id's milliseconds) and its other fields."""

    type: str
    at: float
    fields: Mapping[str, str] = field(hash=False)

    def text(self, name: str) -> str:
        return self.fields.get(name, "")

    def number(self, name: str) -> float | None:
        """The field as a finite number, or None when missing or not a number (logged at debug)."""
        raw = self.fields.get(name)
        if raw is None or raw == "":
            return None
        try:
            value = float(raw)
        except ValueError:
            log.debug("event %s: field %s is not a number (%.40r); ignored", self.type, name, raw)
            return None
        return value if math.isfinite(value) else None

    def integer(self, name: str) -> int | None:
        value = self.number(name)
        if value is None or value != int(value):
            return None
        return int(value)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _id_seconds(entry_id: str) -> float | None:
    head = entry_id.split("-", 1)[0]
    if not head.isdigit() or len(head) > 15:
        return None
    return int(head) / 1000.0


def parse_event(entry_id: object, raw: Mapping[Any, Any] | object) -> ReportEvent | None:
    """The event of one stream entry, or None (logged) when it has no type or no readable time."""
    ident = _text(entry_id)
    if not isinstance(raw, Mapping):
        log.warning("events entry %.40s is not a field map; skipped", ident)
        return None
    # Strings already (decode_responses) on the common path; bytes and other values are converted.
    fields = {(key if type(key) is str else _text(key))[:100]:
              (value if type(value) is str else _text(value))[:MAX_FIELD_CHARS] for key, value in raw.items()}
    kind = fields.pop("type", "").strip()
    if not kind:
        log.warning("events entry %.40s has no type; skipped", ident)
        return None
    at: float | None
    try:
        at = float(fields.pop("at"))
    except (KeyError, ValueError):
        at = None
    if at is None or not math.isfinite(at) or at < 0:
        at = _id_seconds(ident)  # the stream id is when it was written
    if at is None:
        log.warning("events entry %.40s (%.40s) has no readable time; skipped", ident, kind)
        return None
    return ReportEvent(type=kind[:100], at=at, fields=fields)


async def read_events(redis: Any, keys: Keys, start: float, end: float) -> list[ReportEvent]:
    """The events written from `start` to `end` (unix seconds), oldest first.

    Stream ids are the milliseconds of writing, so the range is cut by id, with a minute of slack at
    each end (a worker's `at` is taken when its turn starts, shortly before the write); the caller
    filters by each event's `at`.
    """
    low = f"{max(0, int((start - 60) * 1000))}-0"
    high = f"{max(0, int((end + 60) * 1000))}-18446744073709551615"
    low_first = low
    events: list[ReportEvent] = []
    skipped = 0
    while len(events) < MAX_EVENTS:
        page = await redis.xrange(keys.events, min=low, max=high, count=PAGE)
        for entry_id, raw in page:
            event = parse_event(entry_id, raw)
            if event is None:
                skipped += 1
            elif start <= event.at < end:
                events.append(event)
        if len(page) < PAGE:
            break
        low = f"({_text(page[-1][0])}"  # exclusive: the next page starts after the last id read
    if skipped:
        log.warning("report: %d unreadable events skipped", skipped)
    events = await with_questions(redis, keys.questions, events, low_first, high)
    events.sort(key=lambda event: event.at)  # stable: same-turn events keep their written order
    return events


async def read_questions(redis: Any, questions_key: str, low: str, high: str) -> dict[str, str]:
    """The customer's words of the events between stream ids `low` and `high`, by their `question_ref`.

    Written in the same transaction as their event, so within milliseconds of its id (the callers'
    ranges have a minute of slack); gone once the retention sweep trimmed them (router/retention.py).
    """
    questions: dict[str, str] = {}
    while len(questions) < MAX_EVENTS:
        page = await redis.xrange(questions_key, min=low, max=high, count=PAGE)
        for _entry_id, raw in page:
            ref = _text(raw.get("ref", "")) if isinstance(raw, Mapping) else ""
            if ref:
                questions[ref] = _text(raw.get("question", ""))[:MAX_FIELD_CHARS]
        if len(page) < PAGE:
            break
        low = f"({_text(page[-1][0])}"
    return questions


async def with_questions(redis: Any, questions_key: str, events: list[ReportEvent], low: str,
                         high: str) -> list[ReportEvent]:
    """`events` with the `question` of each that refers to one (events written before the questions
    stream existed carry theirs in the event itself)."""
    if not any(event.fields.get("question_ref") for event in events):
        return events
    questions = await read_questions(redis, questions_key, low, high)
    return [ReportEvent(event.type, event.at, {**event.fields, "question": questions[ref]})
            if (ref := event.fields.get("question_ref")) and ref in questions else event for event in events]
