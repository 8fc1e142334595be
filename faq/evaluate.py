"""Measures a knowledge base against labelled messages: accuracy, answer precision, handoffs, speed."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CasesError, Problem
from .kb import KnowledgeBase
from .model import Decision
from .reach import EntryReach, Reached, reach


@dataclass(frozen=True, slots=True)
class Case:
    """A labelled message: the entry that should answer it, or None when a person should take it."""

    text: str
    expect: str | None
    lang: str | None = None
    line: int | None = None


MAX_CONFUSIONS = 10
# Entries listed as least reached (lowest self-served share of their cases) and as taking most of other
# entries' cases, so an admin sees what to add or reword first.
MAX_ENTRIES_LISTED = 10


@dataclass(frozen=True, slots=True)
class Confusion:
    """An entry ranked first `count` times for messages that `expected` should have answered."""

    expected: str
    given: str
    count: int


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Evaluation figures; shares are 0..1, times in milliseconds per match."""

    cases: int
    in_scope: int
    out_of_scope: int
    top1_accuracy: float | None
    answered_correct: float | None
    answer_precision: float | None
    oos_handoff_recall: float | None
    p50_ms: float
    p99_ms: float
    # The entries most often ranked first in place of the right one, most frequent first (top 10).
    confusions: tuple[Confusion, ...] = ()
    # What became of the messages, as shares. In scope: answered right or offered with the right
    # entry among the choices (self_served), answered wrong, offered with or without the right entry,
    # handed to a person. Out of scope: answered, offered choices, handed to a person.
    self_served: float | None = None
    answered_wrong: float | None = None
    offered_right: float | None = None
    offered_wrong: float | None = None
    handed_off: float | None = None
    oos_answered: float | None = None
    oos_offered: float | None = None
    oos_handed_off: float | None = None
    # The same percentiles in CPU time of the matching thread: on a shared machine the wall clock also
    # counts other processes' turns on the cores; this is what a match costs on an idle one.
    cpu_p50_ms: float | None = None
    cpu_p99_ms: float | None = None
    # Per entry with cases, what became of them (see reach.EntryReach), in knowledge base order.
    entries: tuple[EntryReach, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The report with its contract key names, ready for JSON."""
        report = {field.name: getattr(self, field.name) for field in fields(self)}
        report["confusions"] = [asdict(confusion) for confusion in self.confusions]
        report["entries"] = [entry.to_dict() for entry in self.entries]
        return report

    def least_reached(self, count: int = MAX_ENTRIES_LISTED) -> list[EntryReach]:
        """Entries whose cases are least often self-served (answered right or offered), lowest share first."""
        failing = [entry for entry in self.entries if entry.messages and entry.self_served < entry.messages]
        return sorted(failing, key=lambda e: (e.self_served / e.messages, -e.messages, e.entry_id))[:count]

    def taking_others(self, count: int = MAX_ENTRIES_LISTED) -> list[EntryReach]:
        """Entries answered or offered first for other entries' cases (or out-of-scope ones), most first."""
        taking = [entry for entry in self.entries if entry.took]
        return sorted(taking, key=lambda e: (-sum(e.took.values()), e.entry_id))[:count]


def read_cases(path: Path) -> list[Case]:
    """Read JSON Lines cases; raises CasesError naming every bad line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CasesError([Problem(path, None, f"cannot read cases: {exc}")]) from exc
    cases: list[Case] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            cases.append(_case(json.loads(line), number))
        except (ValueError, TypeError) as exc:
            problems.append(Problem(path, number, str(exc)))
    if problems:
        raise CasesError(problems)
    return cases


def _case(raw: object, line: int) -> Case:
    if not isinstance(raw, dict):
        raise ValueError("a case must be a JSON object")
    unknown = set(raw) - {"text", "expect", "lang"}
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    text, expect, lang = raw.get("text"), raw.get("expect", ...), raw.get("lang")
    if not isinstance(text, str):
        raise ValueError("'text' must be a string")
    if expect is ...:
        raise ValueError("'expect' is missing (use null for a message the FAQ should not answer)")
    if expect is not None and not isinstance(expect, str):
        raise ValueError("'expect' must be an entry id or null")
    if lang is not None and not isinstance(lang, str):
        raise ValueError("'lang' must be a string")
    return Case(text, expect, lang, line)


def evaluate(kb: KnowledgeBase, cases: Sequence[Case], *, answer_at: float, suggest_at: float) -> EvalReport:
    """Run every case through `kb.match` and compute the report."""
    unknown = sorted({c.expect for c in cases if c.expect is not None and c.expect not in kb.entries})
    if unknown:
        # An expectation nobody can meet is a typo in the cases, not a matcher failure.
        raise ValueError(f"cases expect entries not in the knowledge base: {', '.join(unknown)}")
    timings, cpu_timings = [], []
    top1 = answered = in_scope = 0
    outcomes: Counter[str] = Counter()
    confused: Counter[tuple[str, str]] = Counter()
    reached: list[Reached] = []
    for case in cases:
        started, cpu = time.perf_counter(), time.thread_time()
        result = kb.match(case.text, case.lang, answer_at=answer_at, suggest_at=suggest_at)
        timings.append((time.perf_counter() - started) * 1000.0)
        cpu_timings.append((time.thread_time() - cpu) * 1000.0)
        best = result.matches[0].entry_id if result.matches else None
        is_answer = result.decision is Decision.ANSWER
        answered += is_answer
        offered_in_order = tuple(match.entry_id for match in kb.suggestions(result, suggest_at)) \
            if result.decision is Decision.SUGGEST else ()
        offered = set(offered_in_order)
        reached.append(Reached(case.expect, case.lang, case.text, result.decision,
                               tuple((m.entry_id, m.score) for m in result.matches), offered_in_order))
        if case.expect is None:
            outcomes["oos_" + ("answered" if is_answer else "offered" if offered else "handed_off")] += 1
            continue
        in_scope += 1
        top1 += best == case.expect
        if best is not None and best != case.expect:
            confused[(case.expect, best)] += 1
        if is_answer:
            outcomes["answered_right" if best == case.expect else "answered_wrong"] += 1
        elif offered:
            outcomes["offered_right" if case.expect in offered else "offered_wrong"] += 1
        else:
            outcomes["handed_off"] += 1
    out_of_scope = len(cases) - in_scope
    answered_right = outcomes["answered_right"]
    times = np.asarray(timings) if timings else np.zeros(1)
    cpu_times = np.asarray(cpu_timings) if cpu_timings else np.zeros(1)
    return EvalReport(
        cases=len(cases),
        in_scope=in_scope,
        out_of_scope=out_of_scope,
        top1_accuracy=_share(top1, in_scope),
        answered_correct=_share(answered_right, in_scope),
        answer_precision=_share(answered_right, answered),
        # Not answered outright, as before the outcome shares: choices offered count as not answered.
        oos_handoff_recall=_share(outcomes["oos_offered"] + outcomes["oos_handed_off"], out_of_scope),
        p50_ms=float(np.percentile(times, 50)),
        p99_ms=float(np.percentile(times, 99)),
        confusions=_top_confusions(confused),
        self_served=_share(answered_right + outcomes["offered_right"], in_scope),
        answered_wrong=_share(outcomes["answered_wrong"], in_scope),
        offered_right=_share(outcomes["offered_right"], in_scope),
        offered_wrong=_share(outcomes["offered_wrong"], in_scope),
        handed_off=_share(outcomes["handed_off"], in_scope),
        oos_answered=_share(outcomes["oos_answered"], out_of_scope),
        oos_offered=_share(outcomes["oos_offered"], out_of_scope),
        oos_handed_off=_share(outcomes["oos_handed_off"], out_of_scope),
        cpu_p50_ms=float(np.percentile(cpu_times, 50)),
        cpu_p99_ms=float(np.percentile(cpu_times, 99)),
        entries=tuple(entry for entry in reach(reached, kb.entries).values() if entry.messages or entry.took),
    )


def _top_confusions(confused: Counter[tuple[str, str]]) -> tuple[Confusion, ...]:
    # Ties sorted by id so two runs over the same cases print the same table.
    ranked = sorted(confused.items(), key=lambda item: (-item[1], item[0]))
    return tuple(Confusion(expected, given, count) for (expected, given), count in ranked[:MAX_CONFUSIONS])


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
