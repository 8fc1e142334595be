"""A message's words written as the knowledge base writes them: accents put back, Greeklish in Greek.

The n-grams and word vectors match on accent-folded text, so "hogyan kerhetem" and "hogyan kérhetem"
are the same to them; the sentence model is not folded, and reads a Hungarian or Latvian message typed
without accents, or Greek typed in Latin letters, as other words (on the bench sets stripped of accents
its top-1 fell 3-6 points below the n-grams' own). Customers type both ways, so before the sentence
model reads a message, each word that the knowledge base's questions write with accents, or in Greek
script, is written that way: the most frequent spelling in the questions of the word's folded form,
else in the language samples that ship with Helpline (`language_samples/`, ~3,000 words a language),
for the words a small knowledge base does not use (top-1 on home-lv without accents: 0.876 -> see bench).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from .normalize import has_greek, latin_key, normalize

_WORD = re.compile(r"[^\W\d_]+")
# Share of a Latin-script message's words that must be Greek words of the knowledge base in Latin
# letters for the message to be taken as Greeklish: English has "to", "me" and "na" too.
GREEKLISH_SHARE = 0.5


_SAMPLES = Path(__file__).with_name("language_samples")


class Spelling:
    """The knowledge base's spellings of words, by folded form (`normalize`: no case, no accents) and, for
    Greek words, also by their Latin spelling (`latin_key`), which is how Greeklish folds too; the
    shipped samples' spellings for words the knowledge base lacks."""

    def __init__(self, questions: Iterable[str], samples: bool = True) -> None:
        accented, greek = _spellings(questions)
        if samples:
            base_accented, base_greek = _sample_spellings()
            accented, greek = {**base_accented, **accented}, {**base_greek, **greek}
        self._accented = accented
        self._greek = greek

    def respell(self, text: str) -> str:
        """`text` with its words in the knowledge base's spelling; words it already accents, and words the
        knowledge base does not have, as typed."""
        words = _WORD.findall(text)
        if not words:
            return text
        greeklish = bool(self._greek) and not any(has_greek(normalize(word)) for word in words) and \
            sum(latin_key(normalize(word)) in self._greek for word in words) >= GREEKLISH_SHARE * len(words)

        def spelt(match: re.Match[str]) -> str:
            word = match.group(0)
            if _has_marks(word):
                return word  # typed with accents: the customer's own spelling
            folded = normalize(word)
            best = self._greek.get(latin_key(folded)) if greeklish else self._accented.get(folded)
            return word if best is None or best == folded else best

        return _WORD.sub(spelt, text)


def _spellings(texts: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(accented spelling by folded form, Greek spelling by Latin spelling) of the words of `texts`."""
    latin: dict[str, Counter[str]] = {}
    greek: dict[str, Counter[str]] = {}
    folds: dict[str, str] = {}  # a word is folded once, however often it is written
    for text in texts:
        for word in _WORD.findall(text):
            written = word.lower()
            folded = folds.get(written)
            if folded is None:
                folded = folds[written] = normalize(written)
            latin.setdefault(folded, Counter())[written] += 1
            if has_greek(folded):
                greek.setdefault(latin_key(folded), Counter())[written] += 1
    # Every folded form is kept, also one mostly written as it folds ("meg" beside a rarer "még"): it
    # then maps to itself, so that no other spelling (the samples') overrides the knowledge base's.
    return ({folded: forms.most_common(1)[0][0] for folded, forms in latin.items()},
            {key: forms.most_common(1)[0][0] for key, forms in greek.items()})


@lru_cache(maxsize=1)
def _sample_spellings() -> tuple[dict[str, str], dict[str, str]]:
    lines: list[str] = []
    for path in sorted(_SAMPLES.glob("*.txt")):
        lines.extend(path.read_text(encoding="utf-8").splitlines())
    return _spellings(lines)


def _has_marks(word: str) -> bool:
    return any(unicodedata.combining(char) for char in unicodedata.normalize("NFD", word))
