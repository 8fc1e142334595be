"""Language detection tuned for short customer messages in a known, small set of languages."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .langprofile import LanguageProfile, builtin_profile
from .normalize import normalize

# Letters that only (or almost only) one of our languages uses, checked on the raw casefolded text.
_LETTERS = {
    "lv": {"ā": 3.0, "ē": 3.0, "ī": 3.0, "ū": 3.0, "ģ": 3.0, "ķ": 3.0, "ļ": 3.0, "ņ": 3.0,
           "č": 1.5, "š": 1.5, "ž": 1.5},
    "hu": {"ő": 3.0, "ű": 3.0, "ö": 1.5, "ü": 1.5, "á": 1.5, "é": 1.0, "í": 1.0, "ó": 1.5, "ú": 1.0},
}

# Frequent short words, written as normalize() leaves them (no accents), so that customers who type
# without accents are still recognised. Weights favour words that are not also words elsewhere.
_WORDS: dict[str, dict[str, float]] = {
    "en": dict.fromkeys(
        "the is are was were you your my i me we it this that what how why when where which who "
        "can could would should will do does did have has not no please thanks thank hello hi "
        "and or of to for with on in at from an be been get help want need order account".split(),
        1.0,
    ),
    "lv": dict.fromkeys(
        "ka ir nav es man mans mana jus jums ludzu paldies vai kur kapec kads kada kas ko "
        "ar uz no par lai bet ja tas ta tu vins vina mes sveiki labdien gribu varu var "
        "kur cik kuru visus visas ieslegt izslegt".split(),
        1.0,
    ),
    "hu": dict.fromkeys(
        "hogy nem az van vagy es egy ez mi mit miert hol mikor hogyan kerem koszonom "
        "szeretnem szeretnek tudom lehet kell meg mar csak ha is de most itt ott minden "
        "nekem nincs volt lesz jo napot szia melyik mennyi hany".split(),
        1.0,
    ),
    # Greeklish: Greek typed with Latin letters.
    "el": dict.fromkeys(
        "kai na einai den to ta ti tha thelo exo exw pos pws pou giati mporo mporw "
        "parakalo parakalw efxaristo eyxaristo ego mou sou gia apo sto sti ston stin "
        "me auto ayto oxi nai kalimera geia thelw".split(),
        1.0,
    ),
}
# Words that are common in more than one language carry less evidence.
_WORDS["hu"]["a"] = 0.5
_WORDS["en"]["a"] = 0.5
for _shared in ("es", "ka", "is", "me", "to", "no", "mi", "ta", "ti", "de", "par", "tu", "ja", "var"):
    for _weights in _WORDS.values():
        if _shared in _weights:
            _weights[_shared] = 0.5

_MAX_CHARS = 2000  # a short message is enough to tell; long ones are cut so detection stays cheap


# Trigram evidence: nats per trigram by which the best language must lead, and in all, before it counts.
_PROFILE_MARGIN_PER_TRIGRAM = 0.15
_PROFILE_MARGIN_TOTAL = 3.0
_PROFILE_WEIGHT = 0.5  # score points per nat of lead, capped
_PROFILE_CAP = 6.0
_PROFILE_MIN_TRIGRAMS = 8  # a word of four letters is too little to go on: the hint or default stands


def detect_language(text: str, hint: str | None, languages: Sequence[str],
                    profile: LanguageProfile | None = None) -> str:
    """Best guess of the language of `text` among `languages`; the hint wins unless the text is clearly another.

    `profile` (trigram statistics, by default those shipped with Helpline) tells languages apart
    when accents are left out; a knowledge base passes one that has also learnt its own questions.
    """
    return language_evidence(text, languages, profile).choose(hint)


@dataclass(frozen=True, slots=True)
class LanguageEvidence:
    """What a text says about its language (the costly part of detection), before any hint is weighed:
    computed once, it answers `detect_language` for every hint."""

    languages: tuple[str, ...]
    candidates: Mapping[str, float] | None  # None: detection failed, the hint (or default) stands

    def choose(self, hint: str | None) -> str:
        """`detect_language`'s answer for `hint`."""
        fallback = hint if hint is not None and hint in self.languages else self.languages[0]
        if not self.candidates:
            return fallback
        best, best_score = max(self.candidates.items(), key=lambda item: item[1])
        hint_score = self.candidates.get(fallback, 0.0)
        # "Clearly another language": enough evidence, and well ahead of the hint (or default).
        if best != fallback and best_score >= 1.0 and best_score >= 2 * hint_score + 0.5:
            return best
        return fallback


def language_evidence(text: str, languages: Sequence[str], profile: LanguageProfile | None = None) -> LanguageEvidence:
    """The evidence `detect_language` weighs, for `text` among `languages`."""
    if not languages:
        raise ValueError("detect_language needs at least one language")
    try:
        sample = text[:_MAX_CHARS] if isinstance(text, str) else ""
        scores = _scores(sample)
        if "el" not in scores or scores["el"] < 10:  # Greek script needs no statistics
            _add_profile_evidence(scores, sample, languages, profile or builtin_profile())
    except Exception:  # detection is a guess; bad input must never stop answering
        return LanguageEvidence(tuple(languages), None)
    return LanguageEvidence(tuple(languages), {lang: score for lang, score in scores.items() if lang in languages})


def _add_profile_evidence(scores: dict[str, float], text: str, languages: Sequence[str],
                          profile: LanguageProfile) -> None:
    likelihoods, trigrams = profile.log_likelihoods(text, languages)
    if len(likelihoods) < 2 or trigrams < _PROFILE_MIN_TRIGRAMS:
        return
    ranked = sorted(likelihoods.items(), key=lambda item: item[1], reverse=True)
    (best, best_value), (_, second_value) = ranked[0], ranked[1]
    lead = best_value - second_value
    if lead >= _PROFILE_MARGIN_TOTAL and lead / trigrams >= _PROFILE_MARGIN_PER_TRIGRAM:
        scores[best] = scores.get(best, 0.0) + min(_PROFILE_CAP, _PROFILE_WEIGHT * lead)


# A word's weights in every language that has it, in _WORDS' order: one look-up a word, not one a language.
_WORD_WEIGHTS: dict[str, tuple[tuple[str, float], ...]] = {}
for _lang, _words in _WORDS.items():
    for _word, _weight in _words.items():
        _WORD_WEIGHTS[_word] = (*_WORD_WEIGHTS.get(_word, ()), (_lang, _weight))
_GREEK_CHARS = re.compile("[\u0370-\u03ff\u1f00-\u1fff]")
_ASCII_LETTERS = re.compile("[A-Za-z]")
_REMEMBERED_TEXTS = 1024  # as the language profile: customers repeat short texts


def _scores(text: str) -> dict[str, float]:
    return dict(_remembered_scores(text))  # a copy: the caller adds the profile's evidence to it


@lru_cache(maxsize=_REMEMBERED_TEXTS)
def _remembered_scores(text: str) -> dict[str, float]:
    lowered = text.casefold()
    ascii_only = lowered.isascii()
    # Counted by regular expressions, not a Python loop a character: the same counts, in C.
    greek = 0 if ascii_only else len(_GREEK_CHARS.findall(lowered))
    latin = len(_ASCII_LETTERS.findall(lowered))
    scores: dict[str, float] = {}
    if greek and greek >= latin:
        # Greek script is unambiguous among our languages.
        return {"el": 10.0 + greek}
    if not ascii_only:  # every letter in _LETTERS is outside ASCII
        for lang, letters in _LETTERS.items():
            # Weights are multiples of 0.5 and a text at most 2,000 characters: any order of adding is exact.
            score = sum(weight * lowered.count(letter) for letter, weight in letters.items())
            if score:
                scores[lang] = score
    for word in normalize(lowered).split():
        for lang, weight in _WORD_WEIGHTS.get(word, ()):
            if weight:
                scores[lang] = scores.get(lang, 0.0) + weight
    return scores
