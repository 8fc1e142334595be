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
from itertools import chain, repeat
from pathlib import Path

from .model import Entry
from .normalize import normalize, transliterate_greek

_SAMPLES = Path(__file__).with_name("language_samples")
_SMOOTHING = 0.5
# Texts whose likelihoods a profile remembers: customers repeat "hi", "thanks" and the FAQ's own questions,
# and the router and the knowledge base ask about the same text. Texts are cut to 2,000 characters by
# detection, so the cache stays within a few MB.
_REMEMBERED_TEXTS = 1024


def _trigrams(text: str) -> list[str]:
    # Greek script becomes Greeklish, so that Greek typed in Latin letters is recognised too.
    padded = f"  {transliterate_greek(normalize(text))}  "
    return list(map("".join, zip(padded, padded[1:], padded[2:])))  # every run of three, without a Python loop


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
        self._rows_for: dict[tuple[str, ...], tuple[dict[str, tuple[float, ...]], tuple[float, ...]]] = {}
        self._remembered = lru_cache(maxsize=_REMEMBERED_TEXTS)(self._log_likelihoods)

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
        scores, trigrams = self._remembered(text, tuple(languages))
        return dict(scores), trigrams  # a copy: the remembered one is shared

    def _log_likelihoods(self, text: str, languages: tuple[str, ...]) -> tuple[dict[str, float], int]:
        grams = _trigrams(text)
        learnt = tuple(dict.fromkeys(language for language in languages if language in self._tables))
        rows, unseen = self._rows(learnt)
        # One look-up a trigram gives its log-probability in every language; zip turns the rows into one column
        # a language, and sum adds each column in the text's order as a generator did: the same floats, bit
        # for bit (all in C).
        columns = zip(*map(rows.get, grams, repeat(unseen))) if grams else ((),) * len(learnt)
        return dict(zip(learnt, map(sum, columns))), len(grams)

    def _rows(self, languages: tuple[str, ...]) -> tuple[dict[str, tuple[float, ...]], tuple[float, ...]]:
        """Per trigram seen in any of `languages`, its log-probability in each of them (in that order)."""
        known = self._rows_for.get(languages)
        if known is None:
            tables = [self._tables[language] for language in languages]
            seen = list(dict.fromkeys(chain.from_iterable(table for table, _ in tables)))
            # Built in C (map, zip), not a generator a trigram: a few ms less on the first message after a load.
            columns = [map(table.get, seen, repeat(unseen)) for table, unseen in tables]
            known = dict(zip(seen, zip(*columns))), tuple(unseen for _, unseen in tables)
            if len(self._rows_for) >= 4:  # a router asks with one or two orders of its languages
                self._rows_for.clear()
            self._rows_for[languages] = known
        return known


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
