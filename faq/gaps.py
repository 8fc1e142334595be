"""What to write next: the questions the FAQ failed on, grouped into clusters of the same need.

Input is plain values (the caller reads the events); nothing here knows about Redis or the router.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .kb import KnowledgeBase
from .normalize import has_greek, latin_key, normalize
from .sparse import sp
from .wordvectors import WordVectors, builtin_word_vectors

# Questions are compared by the cosine of their char n-gram TF-IDF vectors and of their word vectors
# (what their words mean, which n-grams miss when two customers put one need in different words), half
# each, and clusters join while the mean similarity between their questions stays at SIMILARITY or above.
# Measured by clustering the labelled messages of the six bench sets (../shared/data/faq/*/dev.jsonl,
# same `expect` = same need), the share of same-need pairs put together (recall) at the same share of
# pairs put together that share their need (precision) as the n-gram leader clustering at 0.35 had:
# whole sets P 0.68 R 0.12 -> P 0.68 R 0.27; 60 questions at a time P 0.61 R 0.17 -> P 0.60 R 0.32;
# 16 at a time P 0.71 R 0.31 -> P 0.60 R 0.43. Lower merges neighbouring needs, higher splits them.
SIMILARITY = 0.3
VECTOR_WEIGHT = 0.5
_BACKGROUND_PRIOR = 5.0  # questions' worth of "no background" the questions' own mean is shrunk with
_MIN_REFERENCE = 10  # knowledge base questions in a language to take its mean from them
MAX_EXAMPLES = 5
_CLOSEST_SAMPLE = 10  # members matched against the knowledge base to find a cluster's closest entry
_MAX_LINKAGE = 3000  # distinct texts linked pairwise (a 3000 x 3000 matrix, ~70 MB); the rest join by centroid
_MAX_TEXT = 500  # the router keeps 500 characters of a question; more would only cost time here


@dataclass(frozen=True, slots=True)
class GapQuestion:
    """A customer's question the FAQ did not settle: its text, language, event type, unix time."""

    text: str
    language: str | None
    kind: str
    at: float


@dataclass(frozen=True, slots=True)
class GapCluster:
    """Questions of one need: how many, examples (most representative first), counts by language and
    by event type, and the existing entry closest to them with its mean score (None without a match)."""

    size: int
    examples: tuple[str, ...]
    languages: dict[str, int] = field(hash=False)
    kinds: dict[str, int] = field(hash=False)
    closest_entry: str | None
    closest_score: float | None

    def to_dict(self) -> dict[str, object]:
        return {
            "size": self.size,
            "examples": list(self.examples),
            "languages": dict(self.languages),
            "kinds": dict(self.kinds),
            "closest_entry": self.closest_entry,
            "closest_score": None if self.closest_score is None else round(self.closest_score, 4),
        }


@dataclass
class _Group:
    """Questions with the same normalised text: they collapse into one point of the clustering."""

    key: str
    questions: list[GapQuestion] = field(default_factory=list)

    @property
    def text(self) -> str:
        # The wording customers used most, so examples read like real messages.
        return Counter(q.text.strip() for q in self.questions).most_common(1)[0][0]


def find_gaps(
    questions: Sequence[GapQuestion],
    kb: KnowledgeBase | None,
    *,
    similarity: float = SIMILARITY,
    max_examples: int = MAX_EXAMPLES,
    vector_weight: float = VECTOR_WEIGHT,
) -> list[GapCluster]:
    """Cluster `questions` by need, biggest cluster first; every question lands in exactly one cluster.

    Identical questions (after normalisation) collapse; the rest are compared by char n-gram TF-IDF
    and by what their words mean (the shipped word vectors), and grouped by average linkage: two
    groups join while their questions are, on average, at least `similarity` alike.
    """
    groups = _collapse(questions)
    if not groups:
        return []
    vectors = _vectors(groups, kb, vector_weight)
    weights = np.asarray([len(g.questions) for g in groups], dtype=np.float64)
    labels = _cluster(vectors, similarity)
    ranked = []
    for members in _members(labels):
        member_groups = [groups[i] for i in members]
        cluster = _describe(member_groups, vectors[members], weights[members], kb, max_examples)
        latest = max(_time(q.at) for g in member_groups for q in g.questions)
        ranked.append((cluster, latest))
    # Biggest first; between equals, the need customers had most recently.
    ranked.sort(key=lambda pair: (-pair[0].size, -pair[1], pair[0].examples))
    return [cluster for cluster, _ in ranked]


def cluster_labels(questions: Sequence[GapQuestion], kb: KnowledgeBase | None = None, *,
                   similarity: float = SIMILARITY, vector_weight: float = VECTOR_WEIGHT) -> list[int]:
    """The cluster of each question, as `find_gaps` groups them: equal numbers, same cluster."""
    groups = _collapse(questions)
    if not groups:
        return []
    labels = _cluster(_vectors(groups, kb, vector_weight), similarity)
    of_question = {id(q): int(labels[index]) for index, group in enumerate(groups) for q in group.questions}
    return [of_question[id(q)] for q in questions]


def _time(at: object) -> float:
    try:
        value = float(at)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0


def _collapse(questions: Sequence[GapQuestion]) -> list[_Group]:
    groups: dict[str, _Group] = {}
    for question in questions:
        text = question.text if isinstance(question.text, str) else ""
        normalized = normalize(text[:_MAX_TEXT])
        # Texts with nothing left after normalising (only punctuation or emoji) still count, each
        # wording on its own, so cluster sizes always add up to the number of questions.
        key = normalized if normalized else "\0" + text.strip()
        groups.setdefault(key, _Group(key)).questions.append(question)
    # Most asked first: the greedy pass makes them the centres of their clusters.
    return sorted(groups.values(), key=lambda g: (-len(g.questions), g.key))


def _features(key: str) -> list[str]:
    """Char 3-5-grams inside padded words, plus the words; Greek is also spelled in Latin so Greeklish meets it."""
    if key.startswith("\0"):
        return []
    spellings = [key, latin_key(key)] if has_greek(key) else [key]
    grams: list[str] = []
    for spelling in spellings:
        for word in spelling.split():
            padded = f" {word} "
            grams.extend(padded[i:i + n] for n in range(3, 6) for i in range(len(padded) - n + 1))
            grams.append(f"w:{word}")
    return grams


def _vectors(groups: Sequence[_Group], kb: KnowledgeBase | None, vector_weight: float) -> sp.csr_matrix:
    """Unit-length rows: the n-gram TF-IDF vector and the word-vector mean side by side, weighted so that
    the cosine of two rows is (1 - vector_weight) n-gram cosine + vector_weight meaning cosine. Rows of
    texts with nothing to compare are all zero; without the shipped word vectors, n-grams alone."""
    ngrams = _ngram_vectors([g.key for g in groups])
    words = builtin_word_vectors() if vector_weight > 0 else None
    if words is None:
        return ngrams
    texts = ["" if g.key.startswith("\0") else g.text[:_MAX_TEXT] for g in groups]
    languages = [Counter(q.language for q in g.questions).most_common(1)[0][0] for g in groups]
    meanings = _centred(np.asarray(words.embed(texts), dtype=np.float64), languages, words, kb)
    joined = sp.hstack([ngrams * math.sqrt(1.0 - vector_weight), sp.csr_matrix(meanings * math.sqrt(vector_weight))],
                       format="csr")
    return _l2_rows(joined)


def _centred(meanings: np.ndarray, languages: Sequence[str | None], words: WordVectors,
             kb: KnowledgeBase | None) -> np.ndarray:
    """Word-vector means with their language's mean taken away, back to unit length (zero rows stay zero).

    All questions of a language share a large part of their vectors (any two English questions have a
    cosine near 0.6, Latvian ones near 0.35), which says nothing about their need. The language's mean
    comes from the knowledge base's questions in it, else from the questions being grouped, shrunk
    towards zero when they are few (two questions are not each other's background).
    """
    centred = meanings.copy()
    rows_of: dict[str | None, list[int]] = defaultdict(list)
    for row, language in enumerate(languages):
        rows_of[language].append(row)
    for language, rows in rows_of.items():
        reference = _reference_mean(kb, language, words)
        own = meanings[rows]
        mean = reference if reference is not None else own.sum(axis=0) / (len(rows) + _BACKGROUND_PRIOR)
        centred[rows] = own - mean
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    empty = np.linalg.norm(meanings, axis=1) == 0
    norms[norms == 0] = 1.0
    centred /= norms
    centred[empty] = 0.0
    return centred


def _reference_mean(kb: KnowledgeBase | None, language: str | None, words: WordVectors) -> np.ndarray | None:
    """The mean word vector of the knowledge base's questions in `language` (in any, for None); None
    when it has fewer than _MIN_REFERENCE of them."""
    if kb is None:
        return None
    texts = [q for entry in kb.entries.values() for lang, qs in entry.questions.items() for q in qs
             if language is None or lang == language]
    if len(texts) < _MIN_REFERENCE:
        return None
    vectors = np.asarray(words.embed(texts), dtype=np.float64)
    vectors = vectors[np.linalg.norm(vectors, axis=1) > 0]
    return vectors.mean(axis=0) if len(vectors) >= _MIN_REFERENCE else None


def _ngram_vectors(keys: Sequence[str]) -> sp.csr_matrix:
    """Sublinear TF-IDF rows, L2-normalised; rows of texts with no features are all zero."""
    vocabulary: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    counts: list[int] = []
    for row, key in enumerate(keys):
        bag = Counter(vocabulary.setdefault(gram, len(vocabulary)) for gram in _features(key))
        rows.extend([row] * len(bag))
        cols.extend(bag.keys())
        counts.extend(bag.values())
    shape = (len(keys), max(len(vocabulary), 1))
    matrix = sp.csr_matrix((np.asarray(counts, dtype=np.float64), (np.asarray(rows, dtype=np.int64),
                                                                    np.asarray(cols, dtype=np.int64))), shape=shape)
    document_frequency = np.bincount(matrix.indices, minlength=shape[1])
    idf = np.log((1.0 + len(keys)) / (1.0 + document_frequency)) + 1.0
    matrix.data = 1.0 + np.log(matrix.data)
    return _l2_rows(sp.csr_matrix(matrix @ sp.diags(idf)))


def _l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


def _cluster(vectors: sp.csr_matrix, similarity: float) -> np.ndarray:
    """A cluster label per row: average linkage on cosine similarity, cut where the mean similarity
    between two clusters' members falls below `similarity`.

    Average linkage, unlike joining whatever is closest to any one member, does not chain two needs
    together through a question that sits between them. Above _MAX_LINKAGE texts the most asked ones
    are linked and each of the rest joins the cluster with the most similar centroid, or a new one of
    its own (leader clustering), in order.
    """
    from scipy.cluster.hierarchy import fcluster, linkage  # 0.2 s to import: only when there is something to group
    from scipy.spatial.distance import squareform

    count = vectors.shape[0]
    linked = min(count, _MAX_LINKAGE)
    labels = np.zeros(count, dtype=np.int64)
    if linked > 1:
        sims = np.asarray((vectors[:linked] @ vectors[:linked].T).todense(), dtype=np.float64)
        distances = np.clip(1.0 - sims, 0.0, 2.0)
        np.fill_diagonal(distances, 0.0)
        tree = linkage(squareform(distances, checks=False), method="average")
        labels[:linked] = fcluster(tree, t=1.0 - similarity, criterion="distance") - 1
    if linked == count:
        return labels
    next_label = int(labels[:linked].max()) + 1
    membership = sp.csr_matrix((np.ones(linked), (labels[:linked], np.arange(linked))), shape=(next_label, linked))
    centroids = _l2_rows(sp.csr_matrix(membership @ vectors[:linked]))
    leaders: list[int] = []
    for start in range(linked, count, 256):
        block = vectors[start:start + 256]
        to_clusters = (block @ centroids.T).toarray()
        for offset in range(block.shape[0]):
            row = start + offset
            best = int(np.argmax(to_clusters[offset]))
            if to_clusters[offset, best] >= similarity:
                labels[row] = best
                continue
            if leaders:
                to_leaders = (vectors[row] @ vectors[leaders].T).toarray().ravel()
                nearest = int(np.argmax(to_leaders))
                if to_leaders[nearest] >= similarity:
                    labels[row] = labels[leaders[nearest]]
                    continue
            labels[row] = next_label
            next_label += 1
            leaders.append(row)
    return labels


def _members(labels: np.ndarray) -> list[np.ndarray]:
    by_label: dict[int, list[int]] = defaultdict(list)
    for row, label in enumerate(labels.tolist()):
        by_label[label].append(row)
    return [np.asarray(rows, dtype=np.int64) for rows in by_label.values()]


def _describe(
    groups: list[_Group], vectors: sp.csr_matrix, weights: np.ndarray, kb: KnowledgeBase | None, max_examples: int
) -> GapCluster:
    centroid = np.asarray(vectors.T @ weights).ravel()
    norm = math.sqrt(float(centroid @ centroid)) or 1.0
    closeness = np.asarray(vectors @ (centroid / norm)).ravel()
    # Most representative: nearest the centre of the cluster, then most asked.
    order = sorted(range(len(groups)), key=lambda i: (-round(float(closeness[i]), 6), -weights[i], groups[i].key))
    questions = [q for g in groups for q in g.questions]
    examples = tuple(groups[i].text for i in order[:max_examples])
    closest_entry, closest_score = _closest(kb, [groups[i] for i in order[:_CLOSEST_SAMPLE]])
    return GapCluster(
        size=len(questions),
        examples=examples,
        languages=dict(Counter(q.language or "unknown" for q in questions).most_common()),
        kinds=dict(Counter(q.kind for q in questions).most_common()),
        closest_entry=closest_entry,
        closest_score=closest_score,
    )


def _closest(kb: KnowledgeBase | None, groups: list[_Group]) -> tuple[str | None, float | None]:
    """The entry with the highest mean score over the cluster's most representative questions."""
    if kb is None or not groups:
        return None, None
    totals: dict[str, float] = defaultdict(float)
    weight_sum = 0
    for group in groups:
        weight = len(group.questions)
        weight_sum += weight
        language = group.questions[0].language
        # Thresholds do not matter here: only the ranking and its scores are used.
        result = kb.match(group.text[:_MAX_TEXT], language, answer_at=1.0, suggest_at=1.0)
        for match in result.matches:
            totals[match.entry_id] += weight * match.score
    if not totals:
        return None, None
    entry_id, total = max(totals.items(), key=lambda item: (item[1], item[0]))
    return entry_id, total / weight_sum
