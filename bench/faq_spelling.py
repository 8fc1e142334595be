"""How much customers' spelling costs: the bench sets' dev cases typed without accents, and Greek in Latin letters.

Usage: python bench/faq_spelling.py [DATA_DIR]   (default: ../shared/data/faq next to the repository)
For every set with accented letters it prints top-1 and self_served as written, with the accents
taken off, and for Greek typed in Latin letters (Greeklish as `faq.normalize` spells it), with the
difference from the text as written. Issue 11 asks: accents off within 0.01, Greeklish within 0.05.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere without installing

from bench.faq import LANGUAGES, thresholds  # noqa: E402
from faq import evaluate, load_knowledge_base, read_cases  # noqa: E402
from faq.evaluate import Case  # noqa: E402
from faq.normalize import transliterate_greek  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared/data/faq"


def without_accents(text: str) -> str:
    """The text as typed on a keyboard without accents: letters kept, their marks dropped."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(char for char in decomposed if not unicodedata.combining(char)))


def greeklish(text: str) -> str:
    """Greek letters typed as Latin ones, the way Greeklish is commonly written (other text unchanged)."""
    if not any("\u0370" <= char <= "\u03ff" or "\u1f00" <= char <= "\u1fff" for char in text):
        return text
    return transliterate_greek(without_accents(text).lower().replace("ς", "σ"))


def main(argv: list[str]) -> int:
    data = Path(argv[0]) if argv else DEFAULT_DATA
    answer_at, suggest_at = thresholds()
    spellings: dict[str, Callable[[str], str]] = {"accents off": without_accents, "greeklish": greeklish}
    print(f"answer_at={answer_at} suggest_at={suggest_at}")
    print(f"{'set':<10} {'spelling':<12} {'top1':>7} {'self_served':>12} {'top1 diff':>10} {'self diff':>10}")
    for folder in sorted(p for p in data.iterdir() if (p / "kb").is_dir() and (p / "dev.jsonl").is_file()):
        cases = read_cases(folder / "dev.jsonl")
        kb = load_knowledge_base(folder / "kb", LANGUAGES)
        written = evaluate(kb, cases, answer_at=answer_at, suggest_at=suggest_at)
        rows = [("as written", written)]
        for name, spell in spellings.items():
            changed = [Case(spell(case.text), case.expect, case.lang, case.line) for case in cases]
            if all(new.text == old.text for new, old in zip(changed, cases)):
                continue  # nothing to take off: English, or no Greek letters
            rows.append((name, evaluate(kb, changed, answer_at=answer_at, suggest_at=suggest_at)))
        if len(rows) == 1:
            continue
        for name, report in rows:
            top1, self_served = report.top1_accuracy or 0.0, report.self_served or 0.0
            diffs = ("", "") if report is written else (
                f"{top1 - (written.top1_accuracy or 0.0):+.3f}", f"{self_served - (written.self_served or 0.0):+.3f}")
            print(f"{folder.name:<10} {name:<12} {top1:>7.3f} {self_served:>12.3f} {diffs[0]:>10} {diffs[1]:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
