"""Finds what makes a knowledge base answer badly although it loads: entries that fight over the same
questions, near-duplicate questions, entries too thin to be found, and missing translations."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.process import cdist

from .kb import KnowledgeBase
from .matcher import MatcherFactory, build_default_matcher
from .model import Entry
from .normalize import normalize

FIGHT = "fight"
DUPLICATE = "duplicate"
FEW_QUESTIONS = "few-questions"
MISSING_ANSWER = "missing-answer"
MISSING_QUESTIONS = "missing-questions"

MIN_QUESTIONS = 3  # below this per language, a customer's wording rarely lands near any question
NEAR_DUPLICATE_RATIO = 95  # rapidfuzz token_sort_ratio: same words, at most a typo or two apart
EXACT_LEAVE_ONE_OUT_UP_TO = 50  # questions; above this, folds keep lint within seconds
FOLDS = 10
# A held-out question "fights" when another entry would be offered for it, as answer or suggestion:
# ranked first with at least this score (the default suggest_at). Ranked first below it, the customer
# is handed to a person, which is a thin entry's problem, not a fight (on the shipped sample
# knowledge base, counting those too gave 155 warnings for 34 entries, nearly all noise).
GIVEN_AT = 0.65
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
    folds: int = FOLDS,
    given_at: float = GIVEN_AT,
) -> list[LintWarning]:
    """Every warning for `kb`, in file and line order.

    Fights are found by cross-validation through `matcher_factory`: each question is matched against
    a matcher built without it, and fights when another entry comes first with a score of `given_at`
    or more (pass the service's `suggest_at`). Up to EXACT_LEAVE_ONE_OUT_UP_TO questions this is true
    leave-one-out; above, the questions are split into `folds` folds (an entry's questions spread over different
    folds) and each fold is matched against a matcher built from the others, which costs `folds`
    builds instead of one per question (about two seconds for 1,500 questions). A question that was
    its entry's only one in its language is not checked: the few-questions warning covers it.
    """
    questions = _questions(kb.entries)
    warnings = [
        *_translation_warnings(kb),
        *_duplicate_warnings(kb.entries, questions),
        *_fight_warnings(kb.entries, questions, matcher_factory, folds, given_at),
    ]
    order = {entry_id: index for index, entry_id in enumerate(kb.entries)}
    kinds = (MISSING_ANSWER, MISSING_QUESTIONS, FEW_QUESTIONS, DUPLICATE, FIGHT)
    warnings.sort(key=lambda w: (str(w.file), w.line, order.get(w.entry_id, 0), kinds.index(w.kind)))
    return warnings


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
    """Pairs of questions with the same normalised text or the same words give or take a typo."""
    indexed = [i for i, q in enumerate(questions) if q.normalized]
    texts = [questions[i].normalized for i in indexed]
    pairs: list[tuple[int, int, bool]] = []
    for start in range(0, len(texts), _CDIST_ROWS):
        block = cdist(texts[start:start + _CDIST_ROWS], texts, scorer=fuzz.token_sort_ratio,
                      score_cutoff=NEAR_DUPLICATE_RATIO, dtype=np.uint8, workers=-1)
        for row, col in zip(*np.nonzero(block), strict=True):
            a, b = start + int(row), int(col)
            if a < b:
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


def _fight_warnings(
    entries: Mapping[str, Entry], questions: list[_Question], matcher_factory: MatcherFactory, folds: int,
    given_at: float,
) -> list[LintWarning]:
    """Questions that, held out of the knowledge base, another entry would be offered for."""
    usable = [i for i, q in enumerate(questions) if q.normalized]
    if not usable or len(entries) < 2:
        return []
    fold_count = len(usable) if len(usable) <= EXACT_LEAVE_ONE_OUT_UP_TO else max(2, folds)
    # Consecutive questions go to consecutive folds, so an entry with two or more questions keeps at
    # least one in every fold and can still be found.
    fold_of = {index: position % fold_count for position, index in enumerate(usable)}
    lost: dict[tuple[str, str], list[str]] = defaultdict(list)
    for fold in range(fold_count):
        held_out = [i for i in usable if fold_of[i] == fold]
        remaining = _without(entries, questions, set(held_out))
        if len(remaining) < 2:
            continue
        matcher = matcher_factory(remaining)
        for i in held_out:
            question = questions[i]
            kept = remaining.get(question.entry_id)
            if kept is None or not kept.questions.get(question.language):
                continue  # its only question in this language was held out: reported as too few instead
            ranked = matcher.rank(question.text, 1)
            if ranked and ranked[0][0] != question.entry_id and ranked[0][1] >= given_at:
                lost[(question.entry_id, ranked[0][0])].append(question.text)
    warnings = []
    for (entry_id, winner_id), texts in lost.items():
        count = len(texts)
        warnings.append(_warning(
            entries[entry_id], FIGHT,
            f"{count} question{'s' if count != 1 else ''} would get {_where(entries[winner_id])} "
            f"once {'their' if count != 1 else 'its'} exact wording is left out: {_quote(texts)}"))
    return warnings


def _without(entries: Mapping[str, Entry], questions: list[_Question], held_out: set[int]) -> dict[str, Entry]:
    """The entries with the held-out questions removed; entries left with no question are dropped."""
    kept: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for i, question in enumerate(questions):
        if i not in held_out:
            kept[question.entry_id][question.language].append(question.text)
    remaining = {}
    for entry_id, entry in entries.items():
        by_language = kept.get(entry_id)
        if by_language:
            trimmed = MappingProxyType({lang: tuple(texts) for lang, texts in by_language.items()})
            remaining[entry_id] = dataclasses.replace(entry, questions=trimmed)
    return remaining
