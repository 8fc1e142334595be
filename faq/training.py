"""Training of the one-vs-rest linear classifier behind the matcher, fast enough for large knowledge bases.

scikit-learn is imported inside the functions: a worker that loads its knowledge base from the build
cache (`buildcache`) never trains, and so never pays its ~1.5 s import and ~68 MB."""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .sparse import sp

NEIGHBOURS = 30  # entries each classifier learns to tell apart from: the most similar ones
BACKGROUND = 100  # plus this many questions drawn from anywhere, so scores stay comparable across entries
C = 0.5  # stronger regularisation than liblinear's default: few questions per entry
# An entry has ~10 questions against hundreds of others; balancing the two sides keeps the classifier
# from learning "no" everywhere (+0.5 point top-1 across the bench sets, and steadier on tiny KBs).
CLASS_WEIGHT = "balanced"
TOLERANCE = 1e-4  # LinearSVC's default
MAX_ITERATIONS = 1000  # LinearSVC's default
# liblinear releases the GIL while it trains: a 10,000-question knowledge base (1,000 fits) trains
# ~1.4x faster on 2 cores than serially. Small knowledge bases are not worth the threads.
PARALLEL_FROM = 64  # entries


def train_one_vs_rest(questions: sp.csr_matrix, owners: np.ndarray, entry_count: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Weights (entries x features, sparse) and biases of a linear SVM per entry, its questions against others.

    Each entry's negatives are the questions of its most similar entries (by centroid) plus a fixed
    random background sample, not every other question: on knowledge bases of up to ~30 entries
    this is the full one-vs-rest problem, and on large ones it keeps training time linear in size
    (10,000 questions train in seconds instead of minutes) at the same accuracy on the bench sets.
    """
    from sklearn.preprocessing import normalize as l2_rows

    features = questions.shape[1]
    by_entry = [np.flatnonzero(owners == e) for e in range(entry_count)]
    biases = np.full(entry_count, -1.0)
    rows: list[sp.csr_matrix] = []
    if entry_count < 2:
        return sp.csr_matrix((entry_count, features), dtype=np.float32), np.zeros(entry_count)
    membership = sp.csr_matrix(
        (np.ones(owners.size), (owners, np.arange(owners.size))), shape=(entry_count, owners.size)
    )
    centroids = l2_rows(membership @ questions)
    rng = np.random.default_rng(0)  # fixed: the same files always give the same knowledge base
    background = rng.choice(owners.size, min(BACKGROUND, owners.size), replace=False)
    similar = None
    if entry_count - 1 > NEIGHBOURS:
        similar = np.asarray((centroids @ centroids.T).todense())
        np.fill_diagonal(similar, -np.inf)
        similar = np.argpartition(-similar, NEIGHBOURS, axis=1)[:, :NEIGHBOURS]
    samples: list[np.ndarray | None] = []
    for entry in range(entry_count):
        own = by_entry[entry]
        if own.size == 0:
            samples.append(None)
        elif similar is None:
            samples.append(np.arange(owners.size))
        else:
            samples.append(np.unique(np.concatenate([own, background, *(by_entry[n] for n in similar[entry])])))
    inputs = sp.csr_matrix(questions, dtype=np.float64)  # liblinear's type: converted once, not per fit

    def fit(entry: int) -> tuple[sp.csr_matrix, float]:
        sample = samples[entry]
        labels = owners[sample] == entry if sample is not None else None
        if labels is None or labels.all():
            return sp.csr_matrix((1, features), dtype=np.float32), -1.0
        coef, intercept = _fit_binary(inputs[sample], labels)
        # The dual solution only weighs features of the sampled questions; the rest are exact zeros.
        coef[np.abs(coef) < 1e-6] = 0.0
        return sp.csr_matrix(coef.reshape(1, -1)), intercept

    if entry_count >= PARALLEL_FROM and (os.cpu_count() or 1) > 1:
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            fitted = list(pool.map(fit, range(entry_count)))
    else:
        fitted = [fit(entry) for entry in range(entry_count)]
    for entry, (row, intercept) in enumerate(fitted):
        rows.append(row)
        biases[entry] = intercept
    return sp.vstack(rows, format="csr"), biases


def _fit_binary(inputs: sp.csr_matrix, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights (float32) and intercept of LinearSVC(C, class_weight="balanced") on one entry's sample.

    Calls liblinear the way LinearSVC does, without its per-fit input checks, which cost more than the
    training itself on these small samples (1,000 fits: 5.9 -> 4.1 s); the same solution, within
    liblinear's tolerance. Falls back to LinearSVC if scikit-learn's internals ever change.
    """
    global _direct
    if _direct:
        try:
            return _liblinear_fit(inputs, labels)
        except (ImportError, AttributeError, TypeError, ValueError):
            _direct = False
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LinearSVC(C=C, class_weight=CLASS_WEIGHT, tol=TOLERANCE, random_state=0).fit(inputs, labels)
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


_direct = True


def _liblinear_fit(inputs: sp.csr_matrix, labels: np.ndarray) -> tuple[np.ndarray, float]:
    from sklearn.svm import _liblinear

    _liblinear.set_verbosity_wrap(0)  # liblinear prints its progress unless told not to
    positives = int(labels.sum())
    count = labels.size
    # "balanced": each side weighs as much as the other in total; order is (False, True) like LabelEncoder.
    class_weight = np.array([count / (2.0 * (count - positives)), count / (2.0 * positives)])
    solver = 1  # L2-regularised squared hinge loss, dual: LinearSVC's default
    raw, _ = _liblinear.train_wrap(
        inputs, labels.astype(np.float64), True, solver, TOLERANCE, 1.0, C, class_weight, MAX_ITERATIONS, 0, 0.1,
        np.ones(count),
    )
    return raw[0, :-1].astype(np.float32), float(raw[0, -1])
