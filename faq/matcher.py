"""Ranks knowledge base entries for a message. The KnowledgeBase only sees the `Matcher` protocol,
so a better matcher can replace this one without touching loading, decisions or evaluation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from .calibration import Calibration, DEFAULT_CALIBRATION
from .features import FeatureSpace, needs_latin, prepare
from .model import Entry
from .normalize import latin_key, normalize
from .training import train_one_vs_rest


class Matcher(Protocol):
    """Scores entries for a message: (entry id, score in 0..1), best first."""

    def rank(self, text: str, limit: int) -> list[tuple[str, float]]: ...


MatcherFactory = Callable[[Mapping[str, Entry]], Matcher]


class Evidence:
    """What the lexical model says about every entry for one message (arrays indexed like the entries)."""

    __slots__ = ("classifier", "nearest")

    def __init__(self, classifier: np.ndarray, nearest: np.ndarray) -> None:
        self.classifier = classifier  # linear classifier decision value
        self.nearest = nearest  # cosine of the entry's closest question


class ClassifierMatcher:
    """A linear classifier over character and word n-grams of the questions, plus the closest question.

    Entries are ranked by the classifier, which learns which n-grams tell an entry from its neighbours
    (measured on the bench sets, 3-8 points more often right than the closest question alone). The score
    is a calibrated confidence (see `calibration`) from the classifier's value, its lead over the best
    other entry, and the cosine of the closest question, so `answer_at` and `suggest_at` mean the same
    on every knowledge base. Greek questions are matched in a Latin spelling, so Greeklish matches too.
    """

    def __init__(self, entries: Mapping[str, Entry], calibration: Calibration = DEFAULT_CALIBRATION) -> None:
        self._entry_ids = [entry.id for entry in entries.values()]
        self._calibration = calibration
        raw = [(index, question) for index, entry in enumerate(entries.values())
               for questions in entry.questions.values() for question in questions]
        normalized = [normalize(question) for _, question in raw]
        self._latin = needs_latin(normalized)
        owners, texts = [], []
        for (index, _), question in zip(raw, normalized):
            text = latin_key(question) if self._latin else question
            if text:
                owners.append(index)
                texts.append(text)
        self._owners = np.asarray(owners, dtype=np.int64)
        if not texts:
            self._space = None
            return
        self._space = FeatureSpace(texts)
        questions = self._space.matrix
        weights, self._bias = train_one_vs_rest(questions, self._owners, len(self._entry_ids))
        # Stored feature-major: a message has few features, so its products touch few rows.
        self._weights = sp.csr_matrix(weights.T)
        self._questions = sp.csr_matrix(questions.T)

    def evidence(self, text: str) -> Evidence | None:
        """Classifier values and closest-question cosines for every entry; None when nothing can match."""
        if self._space is None:
            return None
        prepared = prepare(text, self._latin)
        if not prepared:
            return None
        vector = self._space.transform_one(prepared)
        if vector.nnz == 0:
            return None
        classifier = np.asarray((vector @ self._weights).todense()).ravel() + self._bias
        per_question = np.asarray((vector @ self._questions).todense()).ravel()
        nearest = np.zeros(len(self._entry_ids), dtype=np.float64)
        np.maximum.at(nearest, self._owners, per_question)
        return Evidence(classifier, nearest)

    def rank(self, text: str, limit: int) -> list[tuple[str, float]]:
        """Entries for `text`, best first, at most `limit`."""
        if limit <= 0:
            return []
        evidence = self.evidence(text)
        if evidence is None:
            return []
        order = _top(evidence.classifier, limit)
        scores = self._calibration.scores(evidence.classifier, evidence.nearest, order)
        ranked = sorted(zip(order, scores), key=lambda pair: -pair[1])
        return [(self._entry_ids[i], min(1.0, float(score))) for i, score in ranked if score > 0]


def _top(values: np.ndarray, limit: int) -> np.ndarray:
    count = min(limit, values.size)
    top = np.argpartition(-values, count - 1)[:count]
    return top[np.argsort(-values[top], kind="stable")]


# Earlier releases exported the TF-IDF matcher under this name; it now means the default matcher.
TfidfMatcher = ClassifierMatcher


def build_default_matcher(entries: Mapping[str, Entry]) -> Matcher:
    """The matcher the knowledge base uses unless told otherwise."""
    return ClassifierMatcher(entries)


def entry_questions(entries: Mapping[str, Entry]) -> Sequence[tuple[int, str]]:
    """(entry index, question) for every question of every entry, in entry order."""
    return [(index, question) for index, entry in enumerate(entries.values())
            for questions in entry.questions.values() for question in questions]
