"""Ranks knowledge base entries for a message. The KnowledgeBase only sees the `Matcher` protocol,
so a better matcher can replace this one without touching loading, decisions or evaluation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
import scipy.sparse as sp

from .calibration import DEFAULT_CALIBRATION, SEMANTIC_CALIBRATION, Calibration
from .features import FeatureSpace, needs_latin, prepare
from .model import Entry
from .normalize import latin_key, normalize
from .training import train_one_vs_rest

if TYPE_CHECKING:  # the semantic module imports torch; only a configured model loads it
    from .semantic import SentenceEncoder

# Weight of the sentence embedding beside the unit-length n-gram vector in the classifier's input, and
# of the closest question's embedding cosine in the ranking value. Embeddings carry meaning the n-grams
# miss (paraphrases, synonyms); n-grams carry exact words, names and non-English text the model does not
# know. Chosen on clinc150 and banking77 together (top-1 moves by < 1 point between 1 and 2).
EMBEDDING_WEIGHT = 1.5
SEMANTIC_NEAREST_WEIGHT = 1.0

class Matcher(Protocol):
    """Scores entries for a message: (entry id, score in 0..1), best first."""

    def rank(self, text: str, limit: int) -> list[tuple[str, float]]: ...


MatcherFactory = Callable[[Mapping[str, Entry]], Matcher]


class Evidence:
    """What the lexical model says about every entry for one message (arrays indexed like the entries)."""

    __slots__ = ("classifier", "nearest", "semantic")

    def __init__(self, classifier: np.ndarray, nearest: np.ndarray, semantic: np.ndarray | None = None) -> None:
        self.classifier = classifier  # ranking value: linear classifier decision value (+ semantic nearest)
        self.nearest = nearest  # cosine of the entry's closest question (n-grams)
        self.semantic = semantic  # embedding cosine of the entry's closest question, with a semantic model


class ClassifierMatcher:
    """A linear classifier over character and word n-grams of the questions, plus the closest question.

    Entries are ranked by the classifier, which learns which n-grams tell an entry from its neighbours
    (measured on the bench sets, 3-8 points more often right than the closest question alone). The score
    is a calibrated confidence (see `calibration`) from the classifier's value, its lead over the best
    other entry, and the cosine of the closest question, so `answer_at` and `suggest_at` mean the same
    on every knowledge base. Greek questions are matched in a Latin spelling, so Greeklish matches too.

    With an `encoder` (the optional semantic model) the classifier also sees each question's sentence
    embedding, and the closest question by embedding adds to the ranking value and to the confidence.
    """

    def __init__(
        self,
        entries: Mapping[str, Entry],
        calibration: Calibration | None = None,
        encoder: SentenceEncoder | None = None,
    ) -> None:
        self._entry_ids = [entry.id for entry in entries.values()]
        self._encoder = encoder
        self._calibration = calibration or (DEFAULT_CALIBRATION if encoder is None else SEMANTIC_CALIBRATION)
        raw = [(index, question) for index, entry in enumerate(entries.values())
               for questions in entry.questions.values() for question in questions]
        normalized = [normalize(question) for _, question in raw]
        self._latin = needs_latin(normalized)
        owners, texts, originals = [], [], []
        for (index, original), question in zip(raw, normalized):
            text = latin_key(question) if self._latin else question
            if text:
                owners.append(index)
                texts.append(text)
                originals.append(original)
        self._owners = np.asarray(owners, dtype=np.int64)
        if not texts:
            self._space = None
            return
        self._space = FeatureSpace(texts)
        questions = self._space.matrix
        inputs = questions
        self._embeddings: np.ndarray | None = None
        if encoder is not None:
            # The model reads text as written (case, punctuation and accents carry meaning for it).
            self._embeddings = encoder.embed(originals)
            inputs = sp.hstack([questions, sp.csr_matrix(EMBEDDING_WEIGHT * self._embeddings)], format="csr",
                               dtype=np.float32)
        weights, self._bias = train_one_vs_rest(inputs, self._owners, len(self._entry_ids))
        lexical = self._space.size
        # Stored feature-major: a message has few features, so its products touch few rows.
        self._weights = sp.csr_matrix(weights[:, :lexical].T)
        self._embedding_weights = (np.asarray(weights[:, lexical:].todense()).T * EMBEDDING_WEIGHT
                                   if encoder is not None else None)
        self._questions = sp.csr_matrix(questions.T)

    def evidence(self, text: str) -> Evidence | None:
        """Classifier values and closest-question cosines for every entry; None when nothing can match."""
        if self._space is None:
            return None
        prepared = prepare(text, self._latin)
        if not prepared:
            return None
        vector = self._space.transform_one(prepared)
        if vector.nnz == 0 and self._encoder is None:
            return None
        classifier = np.asarray((vector @ self._weights).todense()).ravel() + self._bias
        per_question = np.asarray((vector @ self._questions).todense()).ravel()
        nearest = np.zeros(len(self._entry_ids), dtype=np.float64)
        np.maximum.at(nearest, self._owners, per_question)
        if self._encoder is None:
            return Evidence(classifier, nearest)
        embedding = self._encoder.embed_one(text)
        classifier += embedding @ self._embedding_weights
        semantic = np.full(len(self._entry_ids), -1.0)
        np.maximum.at(semantic, self._owners, self._embeddings @ embedding)
        return Evidence(classifier + SEMANTIC_NEAREST_WEIGHT * semantic, nearest, semantic)

    def rank(self, text: str, limit: int) -> list[tuple[str, float]]:
        """Entries for `text`, best first, at most `limit`."""
        if limit <= 0:
            return []
        evidence = self.evidence(text)
        if evidence is None:
            return []
        order = _top(evidence.classifier, limit)
        scores = self._calibration.scores(evidence.classifier, evidence.nearest, order, evidence.semantic)
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


def matcher_factory(semantic_model: str | None = None) -> MatcherFactory:
    """The matcher for a `faq.semantic_model` setting: the default one when unset, else one using the
    model (loaded here, once, and shared by every later build). Raises semantic.SemanticModelError."""
    if not semantic_model:
        return build_default_matcher
    from .semantic import load_encoder  # imports torch: only when a model is configured

    encoder = load_encoder(semantic_model)
    return lambda entries: ClassifierMatcher(entries, encoder=encoder)


def entry_questions(entries: Mapping[str, Entry]) -> Sequence[tuple[int, str]]:
    """(entry index, question) for every question of every entry, in entry order."""
    return [(index, question) for index, entry in enumerate(entries.values())
            for questions in entry.questions.values() for question in questions]
