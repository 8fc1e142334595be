"""Ranks knowledge base entries for a message. The KnowledgeBase only sees the `Matcher` protocol,
so a better matcher can replace this one without touching loading, decisions or evaluation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
import scipy.sparse as sp

from .calibration import DEFAULT_CALIBRATION, LEXICAL_CALIBRATION, SEMANTIC_CALIBRATION, Calibration
from .features import FeatureSpace, needs_latin, prepare
from .model import Entry
from .normalize import latin_key, normalize
from .training import train_one_vs_rest
from .wordvectors import WordVectors, builtin_word_vectors

if TYPE_CHECKING:  # the semantic module imports torch; only a configured model loads it
    from .semantic import SentenceEncoder


class Encoder(Protocol):
    """Dense, unit-length vectors of meaning for texts: the shipped word vectors or a sentence model.

    `feature_weight` is the vector's weight beside the unit-length n-gram vector in the classifier's
    input; `nearest_weight` how much the entry's closest question by this vector adds to its ranking
    value. Vectors carry meaning the n-grams miss (paraphrases, synonyms); n-grams carry exact words,
    names and spellings the vectors do not know.
    """

    dimension: int
    feature_weight: float
    nearest_weight: float

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_one(self, text: str) -> np.ndarray: ...


class SideBySide:
    """Two encoders' vectors joined: a sentence model's view of the whole message and the word vectors'
    view of its words, which also know Greek, Latvian and Hungarian. Each part keeps unit length times
    its share's square root, so cosines of joined vectors are the shares' weighted sum of both cosines."""

    def __init__(self, first: Encoder, second: Encoder, second_share: float) -> None:
        self._parts = ((first, float(np.sqrt(1.0 - second_share))), (second, float(np.sqrt(second_share))))
        self.dimension = first.dimension + second.dimension
        self.feature_weight = first.feature_weight
        self.nearest_weight = first.nearest_weight

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.hstack([scale * encoder.embed(texts) for encoder, scale in self._parts]).astype(np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        return np.concatenate([scale * encoder.embed_one(text) for encoder, scale in self._parts]).astype(np.float32)


# The word vectors' share beside a sentence model (see SideBySide).
WORDS_BESIDE_SENTENCES = 0.3


class _Builtin:
    """Marks "the shipped word vectors" as the default encoder (None means n-grams only)."""


BUILTIN = _Builtin()


class Matcher(Protocol):
    """Scores entries for a message: (entry id, score in 0..1), best first."""

    def rank(self, text: str, limit: int) -> list[tuple[str, float]]: ...


MatcherFactory = Callable[[Mapping[str, Entry]], Matcher]


class Evidence:
    """What the matcher's models say about every entry for one message (arrays indexed like the entries)."""

    __slots__ = ("classifier", "nearest", "semantic")

    def __init__(self, classifier: np.ndarray, nearest: np.ndarray, semantic: np.ndarray | None = None) -> None:
        self.classifier = classifier  # ranking value: linear classifier decision value (+ closest by meaning)
        self.nearest = nearest  # cosine of the entry's closest question (n-grams)
        self.semantic = semantic  # cosine of the entry's closest question by the encoder's vectors, if any


class ClassifierMatcher:
    """A linear classifier over character and word n-grams and word vectors of the questions, plus the
    closest question.

    Entries are ranked by the classifier, which learns which n-grams and which meanings tell an entry
    from its neighbours (measured on the bench sets, 3-8 points more often right than the closest question
    alone), plus the cosine of the entry's closest question by meaning. The score is a calibrated
    confidence (see `calibration`) from that value, its lead over the best other entry, and the closest
    questions' cosines, so `answer_at` and `suggest_at` mean the same on every knowledge base. Greek
    questions are matched in a Latin spelling, so Greeklish matches too.

    The `encoder` gives the vectors of meaning: by default the shipped word vectors (`wordvectors`), with
    `faq.semantic_model` a sentence model (`semantic`), or None for n-grams alone.
    """

    def __init__(
        self,
        entries: Mapping[str, Entry],
        calibration: Calibration | None = None,
        encoder: Encoder | WordVectors | SentenceEncoder | _Builtin | None = BUILTIN,
    ) -> None:
        self._entry_ids = [entry.id for entry in entries.values()]
        if isinstance(encoder, _Builtin):
            encoder = builtin_word_vectors()
        self._encoder = encoder
        self._calibration = calibration or _calibration_for(encoder)
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
            # Encoders read text as written: a sentence model finds meaning in case, punctuation and accents.
            self._embeddings = encoder.embed(originals)
            inputs = sp.hstack([questions, sp.csr_matrix(encoder.feature_weight * self._embeddings)],
                               format="csr", dtype=np.float32)
        weights, self._bias = train_one_vs_rest(inputs, self._owners, len(self._entry_ids))
        lexical = self._space.size
        # Stored feature-major: a message has few features, so its products touch few rows.
        self._weights = sp.csr_matrix(weights[:, :lexical].T)
        self._embedding_weights = (np.asarray(weights[:, lexical:].todense()).T * encoder.feature_weight
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
        return Evidence(classifier + self._encoder.nearest_weight * semantic, nearest, semantic)

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


def _calibration_for(encoder: object) -> Calibration:
    if encoder is None:
        return LEXICAL_CALIBRATION
    return DEFAULT_CALIBRATION if isinstance(encoder, WordVectors) else SEMANTIC_CALIBRATION


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
    encoder = encoder_for(semantic_model)
    return lambda entries: ClassifierMatcher(entries, encoder=encoder)


def encoder_for(semantic_model: str | None) -> Encoder | None:
    """The vectors of meaning for a `faq.semantic_model` setting: the shipped word vectors when unset,
    else the sentence model beside them. None only when neither is there (a broken install)."""
    words = builtin_word_vectors()
    if not semantic_model:
        return words
    from .semantic import load_encoder  # imports torch: only when a model is configured

    sentences = load_encoder(semantic_model)
    return sentences if words is None else SideBySide(sentences, words, WORDS_BESIDE_SENTENCES)


def entry_questions(entries: Mapping[str, Entry]) -> Sequence[tuple[int, str]]:
    """(entry index, question) for every question of every entry, in entry order."""
    return [(index, question) for index, entry in enumerate(entries.values())
            for questions in entry.questions.values() for question in questions]
