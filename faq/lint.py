"""Finds what makes a knowledge base answer badly although it loads: entries that fight over the same
questions, near-duplicate questions, entries too thin to be found, entries customers fail to reach, and
missing translations; and says, per entry, how often its own questions, held out, still reach it."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.process import cdist

from .kb import KnowledgeBase
from .matcher import MatcherFactory, build_default_matcher
from .model import Entry
from .normalize import normalize
from .reach import ANSWERED_WRONG, FOLDS, HANDED_OFF, EntryReach, Reached, held_out, reach, recheck, total

FIGHT = "fight"
DUPLICATE = "duplicate"
FEW_QUESTIONS = "few-questions"
MISSING_ANSWER = "missing-answer"
MISSING_QUESTIONS = "missing-questions"
HARD_TO_REACH = "hard-to-reach"
KINDS = (MISSING_ANSWER, MISSING_QUESTIONS, FEW_QUESTIONS, DUPLICATE, FIGHT, HARD_TO_REACH)

MIN_QUESTIONS = 3  # below this per language, a customer's wording rarely lands near any question
NEAR_DUPLICATE_RATIO = 95  # rapidfuzz token_sort_ratio: same words, at most a typo or two apart
# The service's default thresholds (bot/settings.py), for callers that do not pass their own.
ANSWER_AT = 0.82
SUGGEST_AT = 0.45
GIVEN_AT = SUGGEST_AT  # the name earlier releases exported
# An entry (or an entry in one language) is hard to reach when fewer than REACH_AT of its own questions,
# each held out of the knowledge base, are answered with it or offered with it among the choices, and
# that is well below the knowledge base as a whole: the chance of so few, were the entry reached as
# often as the rest, under REACH_ALPHA shared among all entries checked (a Bonferroni correction). A
# knowledge base that is reached badly everywhere is a matter of thresholds, not of one entry; the reach
# line of `faq lint` says so. On the bench sets' dev cases, entries whose held-out share is under 0.4
# are self-served 0.25-0.45 of the time, the others 0.55-0.8.
REACH_AT = 0.5
REACH_ALPHA = 0.05
REACH_MIN_MESSAGES = 3  # fewer held-out questions (in a language) say too little either way
_EXAMPLES = 3
_CDIST_ROWS = 512  # rows of the similarity matrix computed at once, so memory stays flat on big bases


@dataclass(frozen=True, slots=True)
class LintWarning:
    """One thing worth fixing in an entry, with where the entry is written."""

    kind: str
    entry_id: str
    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.kind}] {self.entry_id}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "entry_id": self.entry_id, "file": str(self.file), "line": self.line,
                "message": self.message}


@dataclass(frozen=True, slots=True)
class LintReport:
    """The warnings, in file and line order, and what became of every entry's own questions held out
    (`entries`, in knowledge base order; `overall` sums them)."""

    warnings: tuple[LintWarning, ...]
    entries: Mapping[str, EntryReach]
    overall: EntryReach

    def least_reached(self, count: int) -> list[EntryReach]:
        """The `count` entries with the lowest self-served share, lowest first (ties in entry order)."""
        ranked = [e for e in self.entries.values() if e.share is not None]
        return sorted(ranked, key=lambda e: e.share or 0.0)[:count]

    def to_dict(self) -> dict[str, object]:
        return {
            "warnings": [w.to_dict() for w in self.warnings],
            "reach": self.overall.to_dict(),
            "entries": [e.to_dict() for e in self.entries.values()],
        }


@dataclass(frozen=True, slots=True)
class _Question:
    entry_id: str
    language: str
    text: str
    normalized: str


def lint(
    kb: KnowledgeBase,
    matcher_factory: MatcherFactory = build_default_matcher,
    *,
    answer_at: float = ANSWER_AT,
    suggest_at: float = SUGGEST_AT,
    folds: int = FOLDS,
) -> list[LintWarning]:
    """Every warning for `kb`, in file and line order (see `lint_report`)."""
    return list(lint_report(kb, matcher_factory, answer_at=answer_at, suggest_at=suggest_at, folds=folds).warnings)


def lint_report(
    kb: KnowledgeBase,
    matcher_factory: MatcherFactory = build_default_matcher,
    *,
    answer_at: float = ANSWER_AT,
    suggest_at: float = SUGGEST_AT,
    folds: int = FOLDS,
) -> LintReport:
    """Warnings and per-entry reach for `kb`.

    Fights and reach come from cross-validation (`reach.held_out`): each question is matched, with the
    service's decision at `answer_at` and `suggest_at`, by a knowledge base built through
    `matcher_factory` without it (leave-one-out up to 50 questions, else `folds` folds: four builds,
    about two seconds for 1,000 questions). An entry fights another when a question of its own, so held
    out, is answered with the other one: the customer would be given the wrong answer outright. Being
    offered the other entry among choices without this one is counted against this entry's reach, not
    as a fight: the customer is not told anything wrong. Folds take out a quarter of the questions at
    once, neighbours of a question among them, so a fight found in a fold is checked again with only
    the questions found so held out (`reach.recheck`, one more build); what still goes astray would on
    its own. An entry is hard to reach when under REACH_AT of its held-out questions (overall or in one
    language) reach it, well below the rest of the knowledge base (see REACH_ALPHA).
    """
    questions = _questions(kb.entries)
    reached = held_out(kb, matcher_factory, answer_at=answer_at, suggest_at=suggest_at, folds=folds)
    entries = reach(reached, kb.entries)
    warnings = [
        *_translation_warnings(kb),
        *_duplicate_warnings(kb.entries, questions),
        *_fight_warnings(kb.entries, recheck(kb, [r for r in reached if r.outcome == ANSWERED_WRONG],
                                             matcher_factory, answer_at=answer_at, suggest_at=suggest_at)),
        *_reach_warnings(kb.entries, entries),
    ]
    order = {entry_id: index for index, entry_id in enumerate(kb.entries)}
    warnings.sort(key=lambda w: (str(w.file), w.line, order.get(w.entry_id, 0), KINDS.index(w.kind)))
    return LintReport(tuple(warnings), entries, total(entries.values()))


def _questions(entries: Mapping[str, Entry]) -> list[_Question]:
    return [
        _Question(entry.id, language, text, normalize(text))
        for entry in entries.values()
        for language, texts in entry.questions.items()
        for text in texts
    ]


def _warning(entry: Entry, kind: str, message: str) -> LintWarning:
    return LintWarning(kind, entry.id, entry.file, entry.line, message)


def _where(entry: Entry) -> str:
    return f"{entry.id!r} ({entry.file.name}:{entry.line})"


def _quote(texts: Sequence[str]) -> str:
    shown = "; ".join(f"{text!r}" for text in texts[:_EXAMPLES])
    return shown + (f" and {len(texts) - _EXAMPLES} more" if len(texts) > _EXAMPLES else "")


def _translation_warnings(kb: KnowledgeBase) -> list[LintWarning]:
    warnings = []
    for entry in kb.entries.values():
        no_answer = [lang for lang in kb.languages if lang not in entry.answers]
        if no_answer:
            warnings.append(_warning(entry, MISSING_ANSWER, f"no answer in {', '.join(no_answer)}"))
        no_questions = [lang for lang in kb.languages if not entry.questions.get(lang)]
        if no_questions:
            warnings.append(_warning(
                entry, MISSING_QUESTIONS,
                f"no questions in {', '.join(no_questions)}: customers writing in it reach this entry by luck"))
        few = [(lang, len(texts)) for lang, texts in entry.questions.items() if 0 < len(texts) < MIN_QUESTIONS]
        if few:
            counts = ", ".join(f"{count} in {lang}" for lang, count in few)
            warnings.append(_warning(
                entry, FEW_QUESTIONS,
                f"only {counts}; write at least {MIN_QUESTIONS} ways of asking per language so it is found"))
    return warnings


def _duplicate_warnings(entries: Mapping[str, Entry], questions: list[_Question]) -> list[LintWarning]:
    """Pairs of questions with the same normalised text or the same words give or take a typo.

    Between two entries only the same words count (in any order): there, a letter or two often is the
    difference the admin meant ("ενεργοποίησε" and "απενεργοποίησε", turn on and off; "Ieslēdziet" and
    "Izslēdziet"), and whether a typo'd copy really draws customers to the other entry is for the
    fight check, which matches it, to say."""
    indexed = [i for i, q in enumerate(questions) if q.normalized]
    texts = [questions[i].normalized for i in indexed]
    pairs: list[tuple[int, int, bool]] = []
    for start in range(0, len(texts), _CDIST_ROWS):
        block = cdist(texts[start:start + _CDIST_ROWS], texts, scorer=fuzz.token_sort_ratio,
                      score_cutoff=NEAR_DUPLICATE_RATIO, dtype=np.uint8, workers=-1)
        for row, col in zip(*np.nonzero(block), strict=True):
            a, b = start + int(row), int(col)
            if a >= b:
                continue
            first, second = questions[indexed[a]], questions[indexed[b]]
            if first.entry_id != second.entry_id and sorted(texts[a].split()) != sorted(texts[b].split()):
                continue
            pairs.append((indexed[a], indexed[b], texts[a] == texts[b]))
    warnings = []
    for a, b, same in pairs:
        first, second = questions[a], questions[b]
        how = "the same question" if same else "near-duplicates"
        later = entries[second.entry_id]
        if first.entry_id == second.entry_id:
            message = f"questions {first.text!r} and {second.text!r} are {how}; one of them adds nothing"
        else:
            message = (f"question {second.text!r} and {first.text!r} of {_where(entries[first.entry_id])} "
                       f"are {how}: the two entries fight over it")
        warnings.append(_warning(later, DUPLICATE, message))
    return warnings


def _fight_warnings(entries: Mapping[str, Entry], reached: Sequence[Reached]) -> list[LintWarning]:
    """Held-out questions that another entry is answered with (found in folds, then checked on their own)."""
    lost: dict[tuple[str, str], list[str]] = defaultdict(list)
    for message in reached:
        if message.outcome == ANSWERED_WRONG and message.expected is not None and message.given is not None:
            lost[(message.expected, message.given)].append(message.text)
    warnings = []
    for (entry_id, winner_id), texts in lost.items():
        count = len(texts)
        warnings.append(_warning(
            entries[entry_id], FIGHT,
            f"{count} question{'s' if count != 1 else ''}, once {'their' if count != 1 else 'its'} exact wording is "
            f"left out, {'are' if count != 1 else 'is'} answered with {_where(entries[winner_id])}: {_quote(texts)}"))
    return warnings


def _reach_warnings(entries: Mapping[str, Entry], reached: Mapping[str, EntryReach]) -> list[LintWarning]:
    """Entries, or languages of an entry, whose own held-out questions mostly fail to reach them while
    the rest of the knowledge base's do."""
    overall = total(reached.values())
    if not overall.messages:
        return []
    base = overall.self_served / overall.messages
    base_in = {lang: served / count for lang, (served, count) in overall.languages.items() if count}
    checked = [e for e in reached.values() if e.messages >= REACH_MIN_MESSAGES]
    languages_checked = sum(1 for e in reached.values() for _, count in e.languages.values()
                            if count >= REACH_MIN_MESSAGES)
    warnings = []
    for entry_reach in checked:
        low = _rarely(entry_reach.self_served, entry_reach.messages, base, len(checked))
        weak = [(lang, served, count) for lang, (served, count) in entry_reach.languages.items()
                if count >= REACH_MIN_MESSAGES and _rarely(served, count, base_in[lang], languages_checked)]
        if not low and not weak:
            continue
        elsewhere = Counter(entry_reach.answered_instead) + Counter(entry_reach.offered_instead)
        lost = sum(elsewhere.values())
        rivals = ", ".join(repr(other) for other, _ in elsewhere.most_common(_EXAMPLES))
        in_languages = ", ".join(f"{lang} {served} of {count}" for lang, served, count in weak)
        message = (f"customers rarely reach it: {entry_reach.self_served} of its {entry_reach.messages} questions, "
                   f"each left out, are answered with it or offered it, against {base:.0%} in the whole knowledge "
                   f"base" + (f" (weakest: {in_languages})" if weak else "")
                   + f"; {entry_reach.outcomes.get(HANDED_OFF, 0)} go to a person"
                   + (f", {lost} to other entries ({rivals})" if lost else "")
                   + "; write more ways of asking" + (f" in {', '.join(lang for lang, _, _ in weak)}" if weak else ""))
        warnings.append(_warning(entries[entry_reach.entry_id], HARD_TO_REACH, message))
    return warnings


def _rarely(served: int, count: int, base: float, tests: int) -> bool:
    """Under REACH_AT of `count` reached, and fewer than chance allows at the knowledge base's `base` share."""
    return served < REACH_AT * count and _binomial_at_most(served, count, base) < REACH_ALPHA / max(tests, 1)


def _binomial_at_most(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), in log space so large n does not underflow."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
             for i in range(k + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))
