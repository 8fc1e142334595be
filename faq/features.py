"""Feature vectors for matching: character and word n-gram TF-IDF over normalised, accent-folded text."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .analyzers import CHAR_NGRAMS, WORD_NGRAMS, char_wb_ngrams, word_ngrams
from .normalize import has_greek, latin_key, normalize
from .sparse import sp


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

    `fit` learns the vocabularies and idf with scikit-learn (imported only then); a space made from
    saved vocabularies and idf (see `buildcache`) transforms messages without it.
    """

    def __init__(self, vocabularies: Sequence[Sequence[str]], idfs: Sequence[np.ndarray],
                 matrix: sp.csr_matrix | None = None) -> None:
        if len(vocabularies) != 2 or len(idfs) != 2 or any(len(v) != len(i) for v, i in zip(vocabularies, idfs)):
            raise ValueError("a feature space has a character and a word block, each with an idf per n-gram")
        self.vocabularies = tuple(list(vocabulary) for vocabulary in vocabularies)  # n-grams in column order
        self.idfs = tuple(np.asarray(idf, dtype=np.float64) for idf in idfs)
        self.matrix = matrix  # the fitted questions' rows; None in a space loaded from a build
        self._blocks = tuple(({gram: column for column, gram in enumerate(vocabulary)}, idf, analyze)
                             for vocabulary, idf, analyze in zip(self.vocabularies, self.idfs,
                                                                  (char_wb_ngrams, word_ngrams)))

    @classmethod
    def fit(cls, texts: Sequence[str]) -> FeatureSpace:
        """The space of `texts` (already prepared), with their rows as `matrix`."""
        from sklearn.feature_extraction.text import TfidfVectorizer  # training only: see `analyzers`

        chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True, lowercase=False, dtype=np.float32
        )
        words = TfidfVectorizer(
            analyzer="word", ngram_range=WORD_NGRAMS, sublinear_tf=True, lowercase=False,
            token_pattern=r"\S+", dtype=np.float32,
        )
        matrix = _join(chars.fit_transform(texts), words.fit_transform(texts))
        vocabularies = [sorted(v.vocabulary_, key=v.vocabulary_.__getitem__) for v in (chars, words)]
        return cls(vocabularies, [chars.idf_, words.idf_], matrix)

    @property
    def size(self) -> int:
        """Number of feature columns."""
        return sum(len(idf) for idf in self.idfs)

    def transform_one(self, text: str) -> sp.csr_matrix:
        """`transform([text])` without scikit-learn's per-call checks, which cost most of a match's time."""
        columns: list[int] = []
        weights: list[float] = []
        offset = 0
        blocks = 0
        for vocabulary, idf, analyze in self._blocks:
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


def _join(chars: sp.spmatrix, words: sp.spmatrix) -> sp.csr_matrix:
    # Each block is unit length (or empty); dividing by the norm of the pair keeps rows unit length.
    joined = sp.hstack([chars, words], format="csr", dtype=np.float32)
    norms = np.sqrt(np.asarray(joined.multiply(joined).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags((1.0 / norms).astype(np.float32)) @ joined)
