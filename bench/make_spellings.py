"""Writes faq/data/spellings-<lang>.tsv: how a word typed without accents is most often written, per language.

Usage: python bench/make_spellings.py [--words N]   (needs `pip install wordfreq`; not needed at run time)

For each of a language's N most frequent words (wordfreq 3.1, most frequent first), its folded form
(`faq.normalize`: lower case, no accents) and the spelling people write most often for that form;
only forms whose usual spelling has accents are kept ("kosarban" -> "kosárban"; "meg", more often
written so than "még", is left out). `faq.respell` reads the file to put accents back into a message
of that language before the sentence model reads it.

The word lists are derived from wordfreq's data (Robyn Speer et al.), redistributable under
CC BY-SA 4.0; so are the files written here (see their first line).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from faq.normalize import normalize  # noqa: E402

LANGUAGES = ("el", "hu", "lv")
WORDS = 50_000
_WORD = re.compile(r"[^\W\d_]+")
HEADER = ("# folded form<TAB>usual spelling; from wordfreq {version} (CC BY-SA 4.0, "
          "https://github.com/rspeer/wordfreq), written by bench/make_spellings.py\n")


def spellings(language: str, words: int) -> dict[str, str]:
    from wordfreq import top_n_list

    usual: dict[str, str] = {}
    for word in top_n_list(language, words):
        if _WORD.fullmatch(word):
            usual.setdefault(normalize(word), word)  # most frequent first: the first spelling wins
    return {folded: word for folded, word in usual.items() if word != folded}


def main(argv: list[str]) -> int:
    from importlib.metadata import version

    words = int(argv[argv.index("--words") + 1]) if "--words" in argv else WORDS
    for language in LANGUAGES:
        table = spellings(language, words)
        path = REPO / "faq/data" / f"spellings-{language}.tsv"
        with path.open("w", encoding="utf-8") as out:
            out.write(HEADER.format(version=version("wordfreq")))
            out.writelines(f"{folded}\t{word}\n" for folded, word in sorted(table.items()))
        print(f"{path.relative_to(REPO)}: {len(table)} spellings from {words} words")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
