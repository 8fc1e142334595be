"""Character trigram statistics per language, to tell languages apart when accents are left out.

Letters like ā or ő settle a language at once, but customers often type without them. Then the
sequences of plain letters still differ ("ig" + "en", "sz", "kš"...): a trigram model learnt from
text known to be in each language tells Latvian, Hungarian, English and Greeklish apart on a few
words. Samples ship in `language_samples/<lang>.txt`; a knowledge base adds its own questions.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

from .model import Entry
from .normalize import normalize, transliterate_greek

_SAMPLES = Path(__file__).with_name("language_samples")
_SMOOTHING = 0.5


def _trigrams(text: str) -> list[str]:
    # Greek script becomes Greeklish, so that Greek typed in Latin letters is recognised too.
    padded = f"  {transliterate_greek(normalize(text))}  "
    return [padded[i:i + 3] for i in range(len(padded) - 2)]


class LanguageProfile:
    """Log-probabilities of character trigrams (accents folded) for each language learnt."""

    def __init__(self, counts: Mapping[str, Counter[str]]) -> None:
        self._tables: dict[str, tuple[dict[str, float], float]] = {}
        for language, grams in counts.items():
            total, vocabulary = sum(grams.values()), len(grams) + 1
            denominator = total + _SMOOTHING * vocabulary
            table = {gram: math.log((count + _SMOOTHING) / denominator) for gram, count in grams.items()}
            self._tables[language] = (table, math.log(_SMOOTHING / denominator))
        self._counts = counts

    @classmethod
    def learn(cls, samples: Mapping[str, Iterable[str]], base: LanguageProfile | None = None) -> LanguageProfile:
        """A profile from texts per language, added to `base` when given."""
        counts: dict[str, Counter[str]] = {language: Counter(grams) for language, grams in
                                           (base._counts.items() if base else ())}
        for language, texts in samples.items():
            counter = counts.setdefault(language, Counter())
            for text in texts:
                counter.update(_trigrams(text))
        return cls(counts)

    @property
    def counts(self) -> Mapping[str, Counter[str]]:
        """The trigram counts per language it was made of (what `buildcache` saves)."""
        return self._counts

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self._tables)

    def log_likelihoods(self, text: str, languages: Iterable[str]) -> tuple[dict[str, float], int]:
        """Per language (of those learnt), the log-likelihood of `text`; and how many trigrams it has."""
        grams = _trigrams(text)
        scores = {}
        for language in languages:
            if language in self._tables:
                table, unseen = self._tables[language]
                scores[language] = sum(table.get(gram, unseen) for gram in grams)
        return scores, len(grams)


@lru_cache(maxsize=1)
def samples_digest() -> str:
    """SHA-256 of the shipped samples: a saved profile learnt from other samples is stale."""
    digest = hashlib.sha256()
    for path in sorted(_SAMPLES.glob("*.txt")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def questions_profile(entries: Iterable[Entry]) -> LanguageProfile:
    """The shipped samples' profile plus the questions of a knowledge base's entries."""
    samples: dict[str, list[str]] = {}
    for entry in entries:
        for language, questions in entry.questions.items():
            samples.setdefault(language, []).extend(questions)
    return LanguageProfile.learn(samples, base=builtin_profile())


@lru_cache(maxsize=1)
def builtin_profile() -> LanguageProfile:
    """The profile learnt from the samples that ship with Helpline (en, el, lv, hu)."""
    samples = {path.stem: path.read_text(encoding="utf-8").splitlines() for path in sorted(_SAMPLES.glob("*.txt"))}
    return LanguageProfile.learn(samples)
