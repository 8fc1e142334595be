"""The quick path: n-grams and word vectors alone answer the messages they are sure of, and the sentence
encoder is not run for them.

The sentence encoder costs ~1 ms of CPU per token (15-30 ms a message on one core here), most of what
a worker spends on an FAQ message. Beside the full classifier, a build with the encoder trains a second
one on the n-grams and word vectors only (the matcher an install without the encoder has: top-1 0.80 to
0.91 on the bench sets), scored with that matcher's calibration. When its best entry reaches
QUICK_ANSWER_AT and no other entry comes close (the decision's lead rule), that entry is answered and
the message is never embedded; every other message goes the full way, so choices, handoffs and the
scope score are the full matcher's.

Measured on the bench sets' dev cases (bench/faq.py prints `quick_share`): at 0.93, 16-34% of messages
skip the encoder and answered_wrong rises by 0.000-0.005 (the quick model is wrong mostly where the full
one is wrong too); at 0.90 the share is 23-42% but home-el's answered_wrong passes 0.02.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .calibration import DEFAULT_CALIBRATION
from .decision import ANSWER_LEAD
from .sparse import sp

# The quick model's calibrated score from which its answer stands without the sentence encoder.
QUICK_ANSWER_AT = 0.93
# Knowledge bases of more questions build without a quick path: training it costs as much as the full
# classifier (10,000 questions: ~5 s more, twice the build), and there the time to build matters more.
QUICK_MAX_QUESTIONS = 5_000


@dataclass(frozen=True, eq=False)
class QuickModel:
    """The n-gram and word-vector classifier of one build (see the module's docstring)."""

    weights: sp.csr_matrix  # n-gram features x entries (feature-major, like the full classifier's)
    vector_weights: np.ndarray  # word-vector dimensions x entries, feature weight included
    bias: np.ndarray  # per entry
    question_vectors: np.ndarray  # the questions' unit word vectors (rows), for each entry's closest question
    question_owners: np.ndarray  # entry index of each row of question_vectors
    nearest_weight: float  # what the closest question by word vectors adds to the ranking value

    def answer(self, features: sp.csr_matrix, nearest: np.ndarray, words: np.ndarray, limit: int,
               answer_at: float) -> list[tuple[int, float]] | None:
        """(entry index, score) best first, at most `limit`, when the best entry is a sure answer
        (score at least QUICK_ANSWER_AT and `answer_at`, no other entry close); else None.

        `features` is the message's n-gram row, `nearest` each entry's closest-question cosine by
        n-grams, `words` the message's unit word vector."""
        classifier = np.asarray((features @ self.weights).todense()).ravel() + self.bias + words @ self.vector_weights
        semantic = np.full(self.bias.size, -1.0)
        np.maximum.at(semantic, self.question_owners, self.question_vectors @ words)
        classifier = classifier + self.nearest_weight * semantic
        count = min(max(limit, 2), classifier.size)
        order = np.argpartition(-classifier, count - 1)[:count]
        scores = DEFAULT_CALIBRATION.scores(classifier, nearest, order, semantic)
        ranked = sorted(zip(order.tolist(), scores.tolist()), key=lambda pair: -pair[1])
        best = ranked[0][1]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        if best < max(QUICK_ANSWER_AT, answer_at) or runner_up >= best * ANSWER_LEAD:
            return None
        return [(index, min(1.0, score)) for index, score in ranked[:limit] if score > 0]
