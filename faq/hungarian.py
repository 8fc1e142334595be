"""A light Hungarian stemmer for folded text (`normalize`: lower case, accents off), and compound heads.

Hungarian glues case endings, plural and possessive suffixes to the word ("konyhában" = konyha + ban,
"lámpáimat" = lámpa + im + at, "eszközzel" = eszköz + vel, its v taken by the stem's last consonant),
and writes compounds as one word with the head last ("mozgásérzékelő" = mozgás + érzékelő, a kind of
érzékelő). A customer's word is then often another form of a question's word, or a compound of it,
which neither whole words nor the first letters of words (`coverage`) see.

`stem` takes off, from the end, a case ending, then a possessive or plural ending (the order in
which Hungarian stacks them: stem + possessive/plural + case), keeping at least MIN_STEM letters. It works on folded text, where long and short vowels are one letter, so it also
undoes the lengthening of a stem's last vowel ("lámpa" -> "lámpát": both "lampa..."). It is a
stripper, not a dictionary stemmer: it may leave a derivational ending, and it does not need to find
the dictionary form, only the same form for the forms of one word.
"""

from __future__ import annotations

from functools import lru_cache

# Letters a stem keeps at least: shorter remains ("ház" from "házak" aside) are too often shared
# by unrelated words once accents are folded.
MIN_STEM = 4

# Case endings, folded (-ból/-ből -> "bol"). Longest first within the same final letters is not
# needed: the longest ending that leaves MIN_STEM letters is taken.
_CASE = (
    "kent", "ert", "ert",  # -ként (as), -ért (for)
    "bol", "rol", "tol",  # -ból/-ből, -ról/-ről, -tól/-től (from)
    "ban", "ben", "ba", "be",  # -ban/-ben (in), -ba/-be (into)
    "nak", "nek",  # -nak/-nek (to, dative)
    "val", "vel",  # -val/-vel (with), after a vowel; after a consonant see _assimilated
    "hoz", "hez", "hoz",  # -hoz/-hez/-höz (to)
    "nal", "nel",  # -nál/-nél (at)
    "ra", "re",  # -ra/-re (onto)
    "ig",  # -ig (until)
    "on", "en", "ot", "at", "et",  # -on/-en/-ön (on), -ot/-at/-et/-öt (object)
    "n", "t",  # -n (on), -t (object), after a vowel
)
# Possessive and plural endings (-om/-am/-em/-öm: my; -ja/-je: his; -aim: my ...s; -ok/-ak/-ek: plural).
_POSSESSIVE = (
    "aink", "eink", "jaim", "jeim", "jaid", "jeid", "jaik", "jeik",
    "aim", "eim", "aid", "eid", "aik", "eik", "juk", "unk", "ink", "tok", "tek", "jai", "jei",
    "ai", "ei", "ja", "je", "om", "am", "em", "od", "ad", "ed", "uk", "nk",
    "ok", "ak", "ek",
    "im", "id", "ik",
    "m", "d", "k", "a", "e", "i",
)
_CASE_ENDINGS = tuple(sorted(set(_CASE), key=len, reverse=True))
_POSSESSIVE_ENDINGS = tuple(sorted(set(_POSSESSIVE), key=len, reverse=True))
_VOWELS = frozenset("aeiou")  # folded: á, é, í, ó, ö, ő, ú, ü, ű are among these


def _assimilated(word: str) -> str | None:
    """The stem of a word ending in -val/-vel after a consonant, where v becomes that consonant
    ("eszközzel" -> "eszköz", "asszal"), or None."""
    if len(word) >= MIN_STEM + 3 and word[-2:] in ("al", "el") and word[-3] == word[-4] and word[-3] not in _VOWELS:
        return word[:-3]
    return None


def _strip(word: str, endings: tuple[str, ...]) -> str:
    for ending in endings:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            return word[:-len(ending)]
    return word


@lru_cache(maxsize=32_768)  # as `normalize`: every build stems all its questions' words again
def stem(word: str) -> str:
    """The stem of a folded Hungarian word: case, possessive and plural endings taken off while one
    leaves MIN_STEM letters; words of other scripts, digits, and words of MIN_STEM letters as they are.

    Taken off until none is left, so that a stem is its own stem: the endings are ambiguous once
    folded (-om "my" or the -o of "időzítő" + -m), and two forms of a word must meet wherever one
    pass would stop."""
    if not word.isalpha() or not word.isascii():
        return word
    while len(word) > MIN_STEM:
        shorter = _strip(_assimilated(word) or _strip(word, _CASE_ENDINGS), _POSSESSIVE_ENDINGS)
        if shorter == word:
            break
        word = shorter
    return word


# A compound's head: the last part of a word, of at least this many letters, with at least
# MIN_MODIFIER letters before it. Shorter heads are too often just endings ("-ás", "-ság").
MIN_HEAD = 5
MIN_MODIFIER = 3


def heads(word: str) -> list[str]:
    """The stems of the tails of `word` that could be the head of a compound, longest first
    ("mozgaserzekelot" -> stems of "aserzekelot", ..., "erzekelot", "rzekelot", ...): a caller keeps
    the ones it knows. Empty for a word too short to be a compound, or not a folded Latin word."""
    if not word.isalpha() or not word.isascii():
        return []
    return [stem(word[start:]) for start in range(MIN_MODIFIER, len(word) - MIN_HEAD + 1)]
