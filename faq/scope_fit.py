"""A knowledge base's own bar for offering choices: the scope curve's offset (`scope`), moved by how the
knowledge base's own questions score when each is held out.

`scope.SENTENCE_SCOPE` was fitted on the bench sets' dev cases, where clinc150's out-of-scope questions
(everyday requests close to its entries) set the bar. Knowledge bases differ in how low a paraphrase of
one of their questions scores: in Hungarian, whose words take many endings and join into compounds, a
customer's wording shares fewer words with the questions than an English one does, and with the fitted
bar 13% of home-hu's in-scope dev cases went to a person (home-en: 4%).

How low paraphrases score can be read off the knowledge base itself, without any labelled messages:
each question held out (in folds, as `faq lint` holds them out, `reach.fold_groups`) and matched by a
build without it. The bar moves by how far the mean scope logit of the lowest tenth of those held-out
questions falls below clinc150's (REFERENCE_TAIL, measured the same way), so that every knowledge base
keeps its own questions at about the same rate. It is never made stricter than the fitted curve, and
moves by at most MAX_OFFSET, since a knowledge base's own questions say nothing of its out-of-scope traffic.

On the bench sets' dev cases: home-hu self_served 0.849 -> 0.893 (offset +1.55), home-el 0.892 -> 0.899
(+0.87); home-en unchanged (+0.16), clinc150 and banking77 too (0), home-lv too (70 questions: not
fitted); out-of-scope cases handed to a person stay at 0.97-0.99 on the home sets (0.79 on clinc150).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from .model import Entry

# The mean scope logit of the lowest tenth of clinc150's questions held out as a build holds them out
# (the first two folds: 743 questions scored): the knowledge base on which SENTENCE_SCOPE's bar was set
# by hard out-of-scope questions, so that its own bar stays where it was fitted.
REFERENCE_TAIL = -0.69
TAIL_SHARE = 0.10
MAX_OFFSET = 2.0
# Below this many questions the held-out scores are too few to place a bar by (the lowest tenth of
# 100 is 10 questions), and above FIT_MAX_QUESTIONS the four extra builds would more than double a
# large knowledge base's build (10,000 questions must build in seconds): both keep the fitted curve.
FIT_MIN_QUESTIONS = 100
FIT_MAX_QUESTIONS = 5_000
FOLDS = 4
# Folds are matched (two at a time) until this many questions are scored: a large knowledge base's
# first folds say as much as all four (the lowest tenth is 40 questions or more), at half the builds.
ENOUGH_SCORED = 400
_WORKERS = 2  # fold builds are mostly liblinear's training, which releases the GIL


class ScopeScorer(Protocol):
    """A matcher built without some questions, asked for the scope logit of one of them."""

    def scope_logit(self, text: str, language: str | None) -> float | None: ...


def fitted_offset(entries: Mapping[str, Entry], build_without: Callable[[Mapping[str, Entry]], ScopeScorer]) -> float:
    """How far to move the scope curve's offset for `entries` (0 when it stays the fitted one).
    `build_without(entries)` builds a matcher on part of the entries' questions (no offset of its own)."""
    count = sum(len(texts) for entry in entries.values() for texts in entry.questions.values())
    if not FIT_MIN_QUESTIONS <= count <= FIT_MAX_QUESTIONS or len(entries) < 2:
        return 0.0
    return offset_for(held_out_logits(entries, build_without))


def offset_for(logits: Sequence[float]) -> float:
    """The offset that puts the mean of the lowest TAIL_SHARE of `logits` at REFERENCE_TAIL, within [0, MAX_OFFSET]."""
    if len(logits) < FIT_MIN_QUESTIONS // 2:  # most questions had no scope logit (word for word others): no sign
        return 0.0
    lowest = np.sort(np.asarray(logits, dtype=np.float64))[:max(1, round(len(logits) * TAIL_SHARE))]
    return float(min(MAX_OFFSET, max(0.0, REFERENCE_TAIL - float(lowest.mean()))))


def held_out_logits(entries: Mapping[str, Entry], build_without: Callable[[Mapping[str, Entry]], ScopeScorer]) -> list[float]:
    """The scope logit of the questions matched by a build without their fold (where the matcher gives
    one): every fold's, or the first folds' once ENOUGH_SCORED are scored."""
    from .reach import all_questions, fold_groups, without  # reach imports the knowledge base, which imports matcher

    questions = all_questions(entries)
    languages = list(dict.fromkeys(language for _, language, _ in questions))
    groups = fold_groups(questions, languages, FOLDS, exact_up_to=0)

    def run(held: set[int]) -> list[float]:
        remaining = without(entries, questions, held)
        if len(remaining) < 2:
            return []
        matcher = build_without(remaining)
        logits = []
        for index in sorted(held):
            entry_id, language, text = questions[index]
            kept = remaining.get(entry_id)
            if kept is None or not kept.questions.get(language):
                continue  # the entry's only question in its language: nothing of it left to find
            logit = matcher.scope_logit(text, language)
            if logit is not None:
                logits.append(logit)
        return logits

    logits: list[float] = []
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        for start in range(0, len(groups), _WORKERS):
            logits += [logit for found in pool.map(run, groups[start:start + _WORKERS]) for logit in found]
            if len(logits) >= ENOUGH_SCORED:
                break
    return logits
