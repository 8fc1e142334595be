"""Language detection as it was before it was made cheaper (faq/langdetect.py and faq/langprofile.py's
log_likelihoods at 2ca7b4d), frozen for comparison.

tests/faq/test_langdetect_same.py and bench/loopcpu.py run it beside the current code: the evidence must stay
the same to the last bit, and the bench says how much cheaper the current one is. Not used by Helpline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from faq.langdetect import LanguageEvidence
from faq.langprofile import LanguageProfile, builtin_profile
from faq.normalize import normalize, transliterate_greek

_SMOOTHING = 0.5

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
    likelihoods, trigrams = log_likelihoods(profile, text, languages)
    if len(likelihoods) < 2 or trigrams < _PROFILE_MIN_TRIGRAMS:
        return
    ranked = sorted(likelihoods.items(), key=lambda item: item[1], reverse=True)
    (best, best_value), (_, second_value) = ranked[0], ranked[1]
    lead = best_value - second_value
    if lead >= _PROFILE_MARGIN_TOTAL and lead / trigrams >= _PROFILE_MARGIN_PER_TRIGRAM:
        scores[best] = scores.get(best, 0.0) + min(_PROFILE_CAP, _PROFILE_WEIGHT * lead)


def _scores(text: str) -> dict[str, float]:
    lowered = text.casefold()
    greek = sum(1 for c in lowered if "\u0370" <= c <= "\u03ff" or "\u1f00" <= c <= "\u1fff")
    latin = sum(1 for c in lowered if c.isalpha() and c.isascii())
    scores: dict[str, float] = {}
    if greek and greek >= latin:
        # Greek script is unambiguous among our languages.
        return {"el": 10.0 + greek}
    for lang, letters in _LETTERS.items():
        score = sum(letters.get(c, 0.0) for c in lowered)
        if score:
            scores[lang] = score
    for word in normalize(lowered).split():
        for lang, words in _WORDS.items():
            weight = words.get(word)
            if weight:
                scores[lang] = scores.get(lang, 0.0) + weight
    return scores


def _trigrams(text: str) -> list[str]:
    padded = f"  {transliterate_greek(normalize(text))}  "
    return [padded[i:i + 3] for i in range(len(padded) - 2)]


def _tables(profile: LanguageProfile) -> dict[str, tuple[dict[str, float], float]]:
    """LanguageProfile's tables as its constructor made them, from the counts it was made of."""
    known = _TABLES.get(id(profile))
    if known is not None and known[0] is profile:
        return known[1]
    tables = {}
    for language, grams in profile.counts.items():
        total, vocabulary = sum(grams.values()), len(grams) + 1
        denominator = total + _SMOOTHING * vocabulary
        table = {gram: math.log((count + _SMOOTHING) / denominator) for gram, count in grams.items()}
        tables[language] = (table, math.log(_SMOOTHING / denominator))
    _TABLES[id(profile)] = (profile, tables)
    return tables


_TABLES: dict[int, tuple[LanguageProfile, dict[str, tuple[dict[str, float], float]]]] = {}


def log_likelihoods(profile: LanguageProfile, text: str, languages: Sequence[str]) -> tuple[dict[str, float], int]:
    """LanguageProfile.log_likelihoods as it was."""
    tables = _tables(profile)
    grams = _trigrams(text)
    scores = {}
    for language in languages:
        if language in tables:
            table, unseen = tables[language]
            scores[language] = sum(table.get(gram, unseen) for gram in grams)
    return scores, len(grams)
