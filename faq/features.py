"""Feature vectors for matching: character and word n-gram TF-IDF over normalised, accent-folded text."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from .normalize import has_greek, latin_key, normalize


@lru_cache(maxsize=32_768)  # as `normalize`: every build prepares all the questions again
def prepare(text: str, latin: bool) -> str:
    """Normalised text; with `latin`, in the coarse Latin spelling shared by Greek script and Greeklish.

    A knowledge base with Greek questions is matched entirely in that spelling (questions and messages,
    whatever their script), so "πώς μπορώ" and "pos mporo" become the same features.
    """
    normalized = normalize(text)
    return latin_key(normalized) if latin else normalized


def needs_latin(texts: Sequence[str]) -> bool:
    """True when any of the (normalised) questions is written in Greek script."""
    return any(has_greek(text) for text in texts)


class FeatureSpace:
    """Sublinear TF-IDF of character n-grams inside words (1-5) and of words and word pairs, L2-normalised.

    Characters survive typos, inflections and missing accents; words and pairs add precision.
    Both blocks weigh the same in the joined, unit-length vector.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        self._chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True, lowercase=False, dtype=np.float32
        )
        self._words = TfidfVectorizer(
            analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=False,
            token_pattern=r"\S+", dtype=np.float32,
        )
        self.matrix = self._join(self._chars.fit_transform(texts), self._words.fit_transform(texts))
        self._fast = {id(v): (v.build_analyzer(), v.vocabulary_, v.idf_.astype(np.float64)) for v in (self._chars, self._words)}

    @property
    def size(self) -> int:
        """Number of feature columns."""
        return self.matrix.shape[1]

    def transform_one(self, text: str) -> sp.csr_matrix:
        """`transform([text])` without scikit-learn's per-call checks, which cost most of a match's time."""
        columns: list[int] = []
        weights: list[float] = []
        offset = 0
        blocks = 0
        for vectorizer in (self._chars, self._words):
            analyze, vocabulary, idf = self._fast[id(vectorizer)]
            counts: dict[int, int] = {}
            for gram in analyze(text):
                column = vocabulary.get(gram)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            if counts:
                cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * idf[cols]
                columns.extend((cols + offset).tolist())
                weights.extend((values / np.sqrt(values @ values)).tolist())
                blocks += 1
            offset += len(idf)
        data = np.asarray(weights, dtype=np.float32) / np.float32(np.sqrt(blocks or 1))
        order = np.argsort(columns)
        return sp.csr_matrix((data[order], np.asarray(columns, dtype=np.int64)[order], [0, len(columns)]),
                             shape=(1, self.size))

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Rows of unit-length feature vectors for already prepared texts."""
        return self._join(self._chars.transform(texts), self._words.transform(texts))

    @staticmethod
    def _join(chars: sp.spmatrix, words: sp.spmatrix) -> sp.csr_matrix:
        # Each block is unit length (or empty); dividing by the norm of the pair keeps rows unit length.
        joined = sp.hstack([chars, words], format="csr", dtype=np.float32)
        norms = np.sqrt(np.asarray(joined.multiply(joined).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags((1.0 / norms).astype(np.float32)) @ joined)
