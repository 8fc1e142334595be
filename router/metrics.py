"""What each event adds to the Prometheus figures kept in Redis (`hl:metrics`, a hash).

Several processes share one Redis, so a counter kept in one process's memory would depend on which
process is scraped. Instead each event's increments go into one hash, inside the transaction that
writes the event (so a redelivered entry, whose transaction never commits twice, counts once), and
`/metrics` reads the hash at scrape time (bot/metrics.py). Pure functions here: no Redis, no clock.

A field is `name|label=value|...`; label values are bounded and cleaned (never a customer id or
text: only channels, teams, decisions, scores, case states, event names).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from router.events import Event

# Bucket bounds (seconds) of the two duration histograms: from half a minute to two days / a week.
FIRST_RESPONSE_BUCKETS: tuple[float, ...] = (30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400,
                                             172800)
RESOLUTION_BUCKETS: tuple[float, ...] = (300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 345600,
                                         604800)
HISTOGRAMS: dict[str, tuple[float, ...]] = {
    "helpline_first_response_seconds": FIRST_RESPONSE_BUCKETS,
    "helpline_resolution_seconds": RESOLUTION_BUCKETS,
}
MAX_LABEL_CHARS = 40
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:@#/+-]")
# Case events counted by name (helpline_case_events_total{event=...}).
CASE_EVENTS = frozenset({Event.CASE_OPENED, Event.CASE_CLAIMED, Event.CASE_TRANSFERRED, Event.CASE_RELEASED,
                         Event.CASE_RESOLVED, Event.CASE_REOPENED, Event.CASE_CLOSED, Event.CASE_ESCALATED,
                         Event.SLA_WARNING, Event.FIRST_RESPONSE})
_SURVEYS = {Event.CASE_RATED: ("helpline_csat_answers_total", "csat", 1, 5),
            Event.NPS_RATED: ("helpline_nps_answers_total", "nps", 0, 10),
            Event.CES_RATED: ("helpline_ces_answers_total", "ces", 1, 7)}


def label(value: object) -> str:
    """A label value: bounded, plain characters only (anything else becomes `_`), `unknown` when empty."""
    text = _UNSAFE.sub("_", str(value or ""))[:MAX_LABEL_CHARS]
    return text or "unknown"


def field_name(name: str, **labels: object) -> str:
    return "|".join([name, *(f"{key}={label(value)}" for key, value in sorted(labels.items()))])


@dataclass(frozen=True, slots=True)
class Sample:
    """A hash field read back: metric name and labels."""

    name: str
    labels: tuple[tuple[str, str], ...]


def parse_field(field: str) -> Sample | None:
    """The name and labels of a hash field; None for anything not written by `field_name`."""
    name, *parts = field.split("|")
    if not re.fullmatch(r"helpline_[a-z_]+", name):
        return None
    labels = []
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not re.fullmatch(r"[a-z_]+", key) or _UNSAFE.search(value) or len(value) > MAX_LABEL_CHARS:
            return None
        labels.append((key, value))
    return Sample(name, tuple(labels))


def _number(fields: Mapping[str, str], key: str) -> float | None:
    try:
        value = float(fields.get(key, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _observe(name: str, seconds: float | None, **labels: object) -> list[tuple[str, float]]:
    if seconds is None or seconds < 0:
        return []
    bounds = HISTOGRAMS[name]
    le = next((f"{bound:g}" for bound in bounds if seconds <= bound), "+Inf")
    return [(field_name(f"{name}_bucket", le=le, **labels), 1), (field_name(f"{name}_count", **labels), 1),
            (field_name(f"{name}_sum", **labels), seconds)]


def increments(event: str, fields: Mapping[str, str]) -> list[tuple[str, float]]:
    """The hash fields an event adds to, and by how much (`_sum` fields by seconds, the rest by 1)."""
    out: list[tuple[str, float]] = []
    if event == Event.MESSAGE_IN:
        out.append((field_name("helpline_messages_total", channel=fields.get("channel"), direction="in"), 1))
    elif event == Event.MESSAGE_DELIVERED:
        out.append((field_name("helpline_messages_total", channel=fields.get("channel"), direction="out"), 1))
    elif event == Event.DELIVERY_FAILED:
        out.append((field_name("helpline_delivery_failures_total", channel=fields.get("channel")), 1))
    elif event == Event.FAQ_MATCH:
        out.append((field_name("helpline_faq_decisions_total", decision=fields.get("decision")), 1))
    elif event in _SURVEYS:
        name, key, low, high = _SURVEYS[Event(event)]
        score = _number(fields, key)
        if score is not None and score == int(score) and low <= score <= high:
            out.append((field_name(name, score=int(score)), 1))
    if event in CASE_EVENTS:
        out.append((field_name("helpline_case_events_total", event=event), 1))
    if event == Event.FIRST_RESPONSE:
        out += _observe("helpline_first_response_seconds", _number(fields, "after"), team=fields.get("team"))
    elif event == Event.CASE_RESOLVED:
        out += _observe("helpline_resolution_seconds", _number(fields, "after"), team=fields.get("team"))
    return out


def state_change(before: str | None, after: str) -> list[tuple[str, float]]:
    """helpline_cases{state} moves when a case is saved in another state than it was read in."""
    if before == after:
        return []
    moves = [(field_name("helpline_cases", state=after), 1.0)]
    if before:
        moves.append((field_name("helpline_cases", state=before), -1.0))
    return moves
