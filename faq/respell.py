"""A message's words written as the knowledge base writes them: accents put back, Greeklish in Greek.

The n-grams and word vectors match on accent-folded text, so "hogyan kerhetem" and "hogyan kérhetem"
are the same to them; the sentence model is not folded, and reads a Hungarian or Latvian message typed
without accents, or Greek typed in Latin letters, as other words (on the bench sets stripped of accents
its top-1 fell 3-6 points below the n-grams' own). Customers type both ways, so before the sentence
model reads a message, each word that the knowledge base's questions write with accents, or in Greek
script, is written that way: the most frequent spelling in the questions of the word's folded form,
else in the language samples that ship with Helpline (`language_samples/`, ~3,000 words a language),
for the words a small knowledge base does not use (top-1 on home-lv without accents: 0.876 -> see bench).
A Greek, Hungarian or Latvian message also gets the usual spelling of its language's 50,000 most
frequent words (`data/spellings-<lang>.tsv`, see bench/make_spellings.py): top-1 on the dev cases typed
without accents went from 0.865 to 0.872 on home-el, 0.875 to 0.884 on home-hu, 0.900 to 0.935 on
home-lv (typed with them: 0.878, 0.902, 0.935). Those lists are used only for a
message detected in their language: applied to English they turned "on" into Hungarian "ön" and cost
home-en 8 points. Hungarian and Latvian compounds no list holds are spelt from their parts, and a
respelt word keeps the typed case: with these, and the spellings learnt from the questions as written
only, home-hu's top-1 without accents went from 0.884 to 0.893 (0.902 with them).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from .normalize import has_greek, latin_key, normalize, strip_accents
from .wordindex import WordMap

_WORD = re.compile(r"[^\W\d_]+")
# Share of a Latin-script message's words that must be Greek words of the knowledge base in Latin
# letters for the message to be taken as Greeklish: English has "to", "me" and "na" too.
GREEKLISH_SHARE = 0.5
NOT_GREEKLISH = frozenset({"hu", "lv"})  # languages written in Latin letters of their own, never Greek
# Letters of each part of a compound respelt from its parts (see Spelling._compound).
COMPOUND_PART = 3


_SAMPLES = Path(__file__).with_name("language_samples")
_LANGUAGE_SPELLINGS = Path(__file__).with_name("data") / "spellings-{language}.tsv"
_NO_SPELLINGS = WordMap(())


class Spelling:
    """The knowledge base's spellings of words, by folded form (`normalize`: no case, no accents) and, for
    Greek words, also by their Latin spelling (`latin_key`), which is how Greeklish folds too; the
    shipped samples' spellings for words the knowledge base lacks."""

    def __init__(self, questions: Iterable[str], samples: bool = True) -> None:
        accented, greek = _spellings(_as_written(questions))
        self._own = accented  # compounds are spelt from these and the message language's list only
        if samples:
            base_accented, base_greek = _sample_spellings()
            accented, greek = {**base_accented, **accented}, {**base_greek, **greek}
        self._accented = accented
        self._greek = greek

    def respell(self, text: str, language: str | None = None) -> str:
        """`text` with its words in the knowledge base's spelling, else (for a message in `language`)
        that language's usual one; words it already accents, and words neither knows, as typed."""
        words = _WORD.findall(text)
        if not words:
            return text
        # Greeklish is typed in plain Latin letters: a message with an accented letter, or detected as
        # Hungarian or Latvian, is not ("mi a mai dátum" had become "μη a με dátum").
        greeklish = bool(self._greek) and language not in NOT_GREEKLISH \
            and not any(has_greek(normalize(word)) or _has_marks(word) for word in words) \
            and sum(latin_key(normalize(word)) in self._greek for word in words) >= GREEKLISH_SHARE * len(words)
        usual = language_spellings(language) if language else _NO_SPELLINGS

        def spelt(match: re.Match[str]) -> str:
            word = match.group(0)
            if _has_marks(word):
                return word  # typed with accents: the customer's own spelling
            folded = normalize(word)
            if greeklish:
                best = self._greek.get(latin_key(folded))
            else:
                best = self._accented.get(folded) or usual.get(folded)
                if best is None and usual and not has_greek(folded):
                    best = self._compound(folded, usual)
            return word if best is None or best == folded else _in_case_of(word, best)

        return _WORD.sub(spelt, text)

    def _compound(self, folded: str, usual: WordMap) -> str | None:
        """A compound's spelling from its two parts' ("vizszivargas" -> "vízszivárgás"): Hungarian and
        Latvian write compounds as one word and coin more of them than any list holds (not Greek: its
        compounds keep one accent, not each part's).
        Both parts must be words of the knowledge base or the language's list (not the samples of
        other languages: Latvian "nāk" is no part of "szenzornak"), of COMPOUND_PART letters at least, so that a word is not read as a short word and a stray remainder ("telefon" is not
        "tél" + "efon"); the most even split wins. None when no split is known."""
        best: tuple[int, str] | None = None
        for cut in range(COMPOUND_PART, len(folded) - COMPOUND_PART + 1):
            head, tail = folded[:cut], folded[cut:]
            head_spelt = self._own.get(head) or usual.get(head)
            tail_spelt = self._own.get(tail) or usual.get(tail)
            if head_spelt and tail_spelt and (best is None or min(cut, len(tail)) > best[0]):
                best = (min(cut, len(tail)), head_spelt + tail_spelt)
        return best[1] if best is not None else None


def _in_case_of(typed: str, spelling: str) -> str:
    """`spelling` (lower case) in the case the customer typed: the sentence model reads case too, and
    "Huzd be" respelt "húzd be" ranked another entry first where "Húzd be" did not."""
    if typed.isupper() and len(typed) > 1:
        return spelling.upper()
    return spelling[:1].upper() + spelling[1:] if typed[:1].isupper() else spelling


def _as_written(questions: Iterable[str]) -> list[str]:
    """The questions without the copies a build adds of its accented ones typed without accents
    (`matcher`: the sentence model learns both): a copy is no one's spelling, and counted it outvoted
    the accented form of words a question also writes bare ("konyhaban" once beside "konyhában" 4 times)."""
    texts = list(questions)
    accented = {text for text in texts if strip_accents(text) != text}
    copies = {strip_accents(text) for text in accented}
    return [text for text in texts if text not in copies]


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


@lru_cache(maxsize=8)
def language_spellings(language: str) -> WordMap:
    """The usual spelling, with accents, of a language's frequent words by folded form; empty for a
    language without a list (English needs none). Held compactly (`wordindex`): as a dict, the Greek,
    Hungarian and Latvian lists took ~17 MB of every worker process that had read messages in them."""
    path = Path(str(_LANGUAGE_SPELLINGS).format(language=language))
    if not language.isalpha() or not path.is_file():
        return _NO_SPELLINGS
    with path.open(encoding="utf-8") as lines:  # each folded form once (bench/make_spellings.py)
        return WordMap((folded, word) for folded, tab, word in (line.rstrip("\n").partition("\t") for line in lines)
                       if tab and not folded.startswith("#"))


def _has_marks(word: str) -> bool:
    return any(unicodedata.combining(char) for char in unicodedata.normalize("NFD", word))
