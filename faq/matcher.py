"""Ranks knowledge base entries for a message. The KnowledgeBase only sees the `Matcher` protocol,
so a better matcher can replace this one without touching loading, decisions or evaluation."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from .model import Entry
from .normalize import has_greek, has_latin, latin_key, normalize


class Matcher(Protocol):
    """Scores entries for a message: (entry id, score in 0..1), best first."""

    def rank(self, text: str, limit: int) -> list[tuple[str, float]]: ...


MatcherFactory = Callable[[Mapping[str, Entry]], Matcher]


def char_ngrams(normalized: str, low: int = 2, high: int = 5) -> list[str]:
    """Character n-grams inside each word padded with spaces, so n-grams never straddle two words."""
    grams = []
    for word in normalized.split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, min(high, size) + 1):
            grams.extend(padded[i:i + n] for i in range(size - n + 1))
    return grams


def word_ngrams(normalized: str) -> list[str]:
    """Words and word pairs; pairs keep a little word order ("card lost" vs "lost card" stay close)."""
    words = normalized.split()
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


class TfidfSpace:
    """Sublinear TF-IDF vectors of one kind of feature over a list of documents, rows L2-normalised."""

    def __init__(self, documents: Sequence[str], features: Callable[[str], list[str]]) -> None:
        self._features = features
        vocabulary: dict[str, int] = {}
        rows, cols, counts = [], [], []
        for row, document in enumerate(documents):
            bag: dict[int, int] = {}
            for gram in features(document):
                col = vocabulary.setdefault(gram, len(vocabulary))
                bag[col] = bag.get(col, 0) + 1
            rows.extend([row] * len(bag))
            cols.extend(bag.keys())
            counts.extend(bag.values())
        shape = (len(documents), max(len(vocabulary), 1))
        counts_matrix = sp.csr_matrix(
            (np.asarray(counts, dtype=np.float64), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
            shape=shape,
        )
        document_frequency = np.bincount(counts_matrix.indices, minlength=shape[1])
        total = len(documents)
        self.idf = np.log((1.0 + total) / (1.0 + document_frequency)) + 1.0
        # Features never seen in the knowledge base still count in a message's length: a message
        # full of unknown words is far from every question, and its scores should say so.
        self.unseen_idf = math.log(1.0 + total) + 1.0
        self.vocabulary = vocabulary
        counts_matrix.data = 1.0 + np.log(counts_matrix.data)
        weighted = counts_matrix @ sp.diags(self.idf)
        self.rows = shape[0]
        # Stored feature-major: a message touches few features, and picking rows of CSR is cheap.
        self.by_feature = sp.csr_matrix(_l2_rows(sp.csr_matrix(weighted)).T)

    def vector(self, document: str) -> tuple[np.ndarray, np.ndarray]:
        """(feature columns, weights) of one document, normalised including the weight of unseen features."""
        bag: dict[str, int] = {}
        for gram in self._features(document):
            bag[gram] = bag.get(gram, 0) + 1
        columns, weights, norm2 = [], [], 0.0
        for gram, count in bag.items():
            col = self.vocabulary.get(gram)
            tf = 1.0 + math.log(count)
            if col is None:
                norm2 += (tf * self.unseen_idf) ** 2
                continue
            weight = tf * self.idf[col]
            norm2 += weight * weight
            columns.append(col)
            weights.append(weight)
        norm = math.sqrt(norm2) or 1.0
        return np.asarray(columns, dtype=np.int64), np.asarray(weights, dtype=np.float64) / norm

    def similarities(self, document: str) -> np.ndarray:
        """Cosine similarity of `document` to every row."""
        columns, weights = self.vector(document)
        if columns.size == 0:
            return np.zeros(self.rows)
        return np.asarray(self.by_feature[columns].T @ weights).ravel()


def _l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


class TfidfMatcher:
    """Character n-gram and word TF-IDF cosine to each question; an entry scores as its best question.

    Greek questions are also indexed under a Latin key, so Greek typed in Latin letters (Greeklish) matches.
    """

    CHAR_WEIGHT = 0.6  # character n-grams survive typos and inflections; words add precision

    def __init__(self, entries: Mapping[str, Entry]) -> None:
        self._entry_ids: list[str] = []
        owners: list[int] = []
        texts: list[str] = []
        for index, entry in enumerate(entries.values()):
            self._entry_ids.append(entry.id)
            for questions in entry.questions.values():
                for question in questions:
                    normalized = normalize(question)
                    if normalized:
                        owners.append(index)
                        texts.append(normalized)
        self._owners = np.asarray(owners, dtype=np.int64)
        self._native = _Spaces(texts)
        latin_texts = [latin_key(text) if has_greek(text) else "" for text in texts]
        self._latin = _Spaces(latin_texts) if any(latin_texts) else None

    def rank(self, text: str, limit: int) -> list[tuple[str, float]]:
        """Entries for `text`, best first, at most `limit`."""
        normalized = normalize(text)
        if not normalized or self._owners.size == 0 or limit <= 0:
            return []
        scores = self._native.similarities(normalized)
        if self._latin is not None and has_latin(normalized):
            scores = np.maximum(scores, self._latin.similarities(latin_key(normalized)))
        per_entry = np.zeros(len(self._entry_ids))
        np.maximum.at(per_entry, self._owners, scores)
        count = min(limit, per_entry.size)
        top = np.argpartition(-per_entry, count - 1)[:count]
        top = top[np.argsort(-per_entry[top], kind="stable")]
        return [(self._entry_ids[i], float(min(1.0, max(0.0, per_entry[i])))) for i in top if per_entry[i] > 0]


class _Spaces:
    """The character and word spaces of one spelling of the questions, blended into one score."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.chars = TfidfSpace(texts, char_ngrams)
        self.words = TfidfSpace(texts, word_ngrams)

    def similarities(self, normalized: str) -> np.ndarray:
        weight = TfidfMatcher.CHAR_WEIGHT
        return weight * self.chars.similarities(normalized) + (1 - weight) * self.words.similarities(normalized)


def build_default_matcher(entries: Mapping[str, Entry]) -> Matcher:
    """The matcher the knowledge base uses unless told otherwise."""
    return TfidfMatcher(entries)


