"""How much of a message the knowledge base knows: the share of its words that its questions use.

A question the FAQ covers is mostly written in the FAQ's own words ("how long does delivery to
Germany take" beside "how long does delivery take"); a question it does not cover brings words no
question has ("what's the weather in Riga"). Scores alone tell these apart badly when a few common
words match well: on clinc150's dev cases, holding 80% of its out-of-scope messages back, the best
score of n-grams and word vectors alone lets 82% of the in-scope ones through, the score plus this
share 90%. `scope` joins it with the sentence encoder's closeness by meaning.

Words are compared in the matcher's prepared spelling (normalised, accents off, Greek in Latin
letters), and a word also counts as known when it shares its first STEM_LETTERS letters with a known
word, so inflections ("deliveries", "kapcsold" beside "kapcsolja") are not strangers. Words of
Hungarian questions also count by their stems and as the heads of compounds (`hungarian`): there a
short word takes endings that change its first letters' count ("füst", "füstöt"), and a compound names
a kind of a question's thing ("mozgásérzékelő" beside "érzékelő").
"""

from __future__ import annotations

from collections.abc import Iterable

from . import hungarian

STEM_LETTERS = 5


class Vocabulary:
    """The words of a knowledge base's (prepared) questions, and their stems."""

    __slots__ = ("_hungarian", "_stems", "_words")

    def __init__(self, prepared_questions: Iterable[str], hungarian_questions: Iterable[str] = ()) -> None:
        """`prepared_questions`: all the questions, prepared as the matcher does; `hungarian_questions`:
        those written in Hungarian, whose words also count by their Hungarian stems. The stems come from
        Hungarian questions only, so a knowledge base without them is matched exactly as before."""
        self._words = frozenset(word for question in prepared_questions for word in question.split())
        self._stems = frozenset(word[:STEM_LETTERS] for word in self._words if len(word) >= STEM_LETTERS)
        self._hungarian = frozenset(hungarian.stem(word) for question in hungarian_questions for word in question.split())

    def known(self, word: str) -> bool:
        """True when a question uses `word`, or a word of the same stem."""
        if word in self._words or (len(word) >= STEM_LETTERS and word[:STEM_LETTERS] in self._stems):
            return True
        if not self._hungarian:
            return False
        return hungarian.stem(word) in self._hungarian or any(head in self._hungarian for head in hungarian.heads(word))

    def known_share(self, prepared_text: str) -> float:
        """The share (0..1) of the words of `prepared_text` that are known; 0 for a text without words."""
        words = prepared_text.split()
        if not words:
            return 0.0
        return sum(self.known(word) for word in words) / len(words)
