"""What to write next: the questions the FAQ failed on, grouped into clusters of the same need.

Input is plain values (the caller reads the events); nothing here knows about Redis or the router.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .kb import KnowledgeBase
from .normalize import has_greek, latin_key, normalize

# Cosine of char n-gram TF-IDF vectors. Measured by clustering the labelled bench messages
# (../shared/data/faq/*/dev.jsonl): at 0.35 about 50-80% of the pairs put together share their need;
# lower merges neighbouring needs, higher splits one need into many small clusters.
SIMILARITY = 0.35
MAX_EXAMPLES = 5
_CLOSEST_SAMPLE = 10  # members matched against the knowledge base to find a cluster's closest entry
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
) -> list[GapCluster]:
    """Cluster `questions` by need, biggest cluster first; every question lands in exactly one cluster.

    Identical questions (after normalisation) collapse; the rest are char n-gram TF-IDF vectors, grouped
    greedily around the most asked questions, then refined once against the cluster centroids.
    """
    groups = _collapse(questions)
    if not groups:
        return []
    vectors = _vectors([g.key for g in groups])
    weights = np.asarray([len(g.questions) for g in groups], dtype=np.float64)
    labels = _cluster(vectors, weights, similarity)
    ranked = []
    for members in _members(labels):
        member_groups = [groups[i] for i in members]
        cluster = _describe(member_groups, vectors[members], weights[members], kb, max_examples)
        latest = max(_time(q.at) for g in member_groups for q in g.questions)
        ranked.append((cluster, latest))
    # Biggest first; between equals, the need customers had most recently.
    ranked.sort(key=lambda pair: (-pair[0].size, -pair[1], pair[0].examples))
    return [cluster for cluster, _ in ranked]


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


def _vectors(keys: Sequence[str]) -> sp.csr_matrix:
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


def _cluster(vectors: sp.csr_matrix, weights: np.ndarray, similarity: float) -> np.ndarray:
    """A cluster label per row.

    Pass 1 (leader clustering): rows in order (most asked first) join the most similar leader at or
    above `similarity`, else lead a new cluster. Pass 2: each row moves to the most similar centroid
    (weighted by how often each text was asked) when that centroid is at or above `similarity`.
    """
    count = vectors.shape[0]
    labels = np.full(count, -1, dtype=np.int64)
    leaders: list[int] = []
    chunk = 256
    for start in range(0, count, chunk):
        block = (vectors[start:start + chunk] @ vectors.T).toarray()
        for offset in range(block.shape[0]):
            row = start + offset
            if leaders:
                sims = block[offset, leaders]
                best = int(np.argmax(sims))
                if sims[best] >= similarity:
                    labels[row] = best
                    continue
            labels[row] = len(leaders)
            leaders.append(row)
    cluster_count = len(leaders)
    membership = sp.csr_matrix((weights, (labels, np.arange(count))), shape=(cluster_count, count))
    centroids = _l2_rows(sp.csr_matrix(membership @ vectors))
    refined = labels.copy()
    for start in range(0, count, chunk):
        block = (vectors[start:start + chunk] @ centroids.T).toarray()
        best = np.argmax(block, axis=1)
        good = block[np.arange(block.shape[0]), best] >= similarity
        refined[start:start + chunk] = np.where(good, best, labels[start:start + chunk])
    return refined


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
