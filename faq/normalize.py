"""Text normalisation for matching: one canonical form per language, plus a Latin key for Greek."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WS = re.compile(r"\s+")
# Categories that carry meaning for matching; everything else (punctuation, symbols,
# separators, control and unassigned code points, lone surrogates) becomes a space.
_KEEP_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl", "No", "Mc"})


def _fold(text: str) -> str:
    # Marks go before casefolding: casefold turns the Greek iota subscript (U+0345), a mark, into a letter.
    text = "".join(char for char in unicodedata.normalize("NFD", text) if not unicodedata.combining(char))
    text = unicodedata.normalize("NFKC", text).casefold()
    # NFD splits letters from their accents so the accents can be dropped ("Πώς" -> "πως").
    decomposed = unicodedata.normalize("NFD", text)
    chars = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category in ("Mn", "Me") or unicodedata.combining(char):
            continue
        chars.append(char if category in _KEEP_CATEGORIES else " ")
    folded = unicodedata.normalize("NFC", "".join(chars))
    return _WS.sub(" ", folded.replace("ς", "σ")).strip()


def strip_accents(text: str) -> str:
    """`text` as typed without accents or diacritics ("Kā es varu" -> "Ka es varu"); case and punctuation kept."""
    return unicodedata.normalize("NFC", "".join(
        char for char in unicodedata.normalize("NFD", text) if not unicodedata.combining(char)))


# Plain ASCII folds without Unicode tables: lower case, letters and digits kept, the rest a space. A
# knowledge base's English questions and most messages are ASCII, and the full fold took a third of a
# 10,000-question build (it walks every character through unicodedata).
_ASCII_FOLD = {code: (chr(code).lower() if chr(code).isalnum() else " ") for code in range(128)}


# Every build of a knowledge base folds all its questions again (a reload, each of `faq lint`'s held-out
# builds, `faq eval`): remembering recent folds made lint's folding 5x cheaper. Bounded, so messages
# that never repeat only push out old entries.
NORMALIZE_CACHE_SIZE = 32_768


@lru_cache(maxsize=NORMALIZE_CACHE_SIZE)
def normalize(text: str) -> str:
    """Fold `text` for matching: NFKC, casefold, no accents, final sigma folded, punctuation gone."""
    if text.isascii():
        return _WS.sub(" ", text.translate(_ASCII_FOLD)).strip()
    folded = _fold(text)
    # A few compatibility characters fold into forms that fold again (e.g. to accented letters);
    # repeating until nothing changes makes normalize idempotent.
    for _ in range(3):
        again = _fold(folded)
        if again == folded:
            break
        folded = again
    return folded


_GREEK_DIGRAPHS = {
    "ου": "u", "ει": "i", "οι": "i", "υι": "i", "αι": "e",
    "μπ": "b", "ντ": "d", "γκ": "g", "γγ": "g",
    "αυ": "av", "ευ": "ev",
}
_GREEK_LETTERS = {
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th",
    "ι": "i", "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "ks", "ο": "o", "π": "p",
    "ρ": "r", "σ": "s", "τ": "t", "υ": "i", "φ": "f", "χ": "x", "ψ": "ps", "ω": "o",
}
_GREEK_RE = re.compile("|".join(sorted(_GREEK_DIGRAPHS, key=len, reverse=True)) + "|[α-ω]")

# People type Greek in Latin letters in many ways ("8"/"th" for θ, "h"/"ch"/"x" for χ, "y"/"h"/"i"
# for η and υ, "w" for ω). Both sides are reduced to the same coarse spelling so they meet.
_LATIN_RULES = [
    (re.compile(r"8"), "th"),
    (re.compile(r"3"), "ks"),
    (re.compile(r"ch"), "x"),
    # ευ / αυ typed as "eu", "ey", "au", "ay" as well as "ev", "ef", "av", "af".
    (re.compile(r"e[uy]"), "ev"),
    (re.compile(r"a[uy]"), "av"),
    (re.compile(r"ou"), "u"),
    (re.compile(r"(?:ei|oi|yi)"), "i"),
    (re.compile(r"ai"), "e"),
    (re.compile(r"(?:mp|mb)"), "b"),
    (re.compile(r"nt"), "d"),
    (re.compile(r"(?:gk|gg|nk)"), "g"),
    (re.compile(r"[yh]"), "i"),
    (re.compile(r"w"), "o"),
    (re.compile(r"(?:ks|x)"), "x"),
    (re.compile(r"(?:av|af)"), "av"),
    (re.compile(r"(?:ev|ef)"), "ev"),
    (re.compile(r"([a-z])\1"), r"\1"),
]
_HAS_GREEK = re.compile(r"[α-ω]")
_HAS_LATIN = re.compile(r"[a-z]")


def has_greek(normalized: str) -> bool:
    """True when normalised text contains Greek letters."""
    return _HAS_GREEK.search(normalized) is not None


def has_latin(normalized: str) -> bool:
    """True when normalised text contains basic Latin letters."""
    return _HAS_LATIN.search(normalized) is not None


def transliterate_greek(normalized: str) -> str:
    """Greek letters of normalised text in Latin letters, as Greeklish is commonly typed; the rest kept."""
    return _GREEK_RE.sub(lambda m: _GREEK_DIGRAPHS.get(m.group(0)) or _GREEK_LETTERS[m.group(0)], normalized)


@lru_cache(maxsize=NORMALIZE_CACHE_SIZE)  # 17 regular expressions a text: remembered like `normalize`
def latin_key(normalized: str) -> str:
    """A coarse Latin spelling of normalised text, the same for Greek script and for Greeklish."""
    latin = transliterate_greek(normalized)
    for pattern, replacement in _LATIN_RULES:
        latin = pattern.sub(replacement, latin)
    return latin
