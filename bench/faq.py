"""FAQ matcher benchmark: runs the evaluation on every labelled set and prints one table.

Usage: python bench/faq.py [DATA_DIR]   (default: ../shared/data/faq next to the repository)
Each set is a folder with kb/*.yaml and dev.jsonl.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere without installing

from faq import evaluate, load_knowledge_base, read_cases  # noqa: E402

LANGUAGES = ("en", "el", "lv", "hu")
DEFAULT_DATA = REPO.parent / "shared/data/faq"
COLUMNS = ("cases", "top1_accuracy", "answered_correct", "answer_precision", "oos_handoff_recall", "p50_ms", "p99_ms")


def thresholds() -> tuple[float, float]:
    """answer_at and suggest_at from config/helpline.yaml when it sets them, else the documented defaults."""
    answer_at, suggest_at = 0.82, 0.65
    config = REPO / "config/helpline.yaml"
    try:
        faq = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("faq") or {}
        answer_at = float(faq.get("answer_at", answer_at))
        suggest_at = float(faq.get("suggest_at", suggest_at))
    except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError):
        pass  # the bench measures the matcher; a missing or odd config just means defaults
    return answer_at, suggest_at


def main(argv: list[str]) -> int:
    data = Path(argv[1]) if len(argv) > 1 else DEFAULT_DATA
    answer_at, suggest_at = thresholds()
    sets = sorted(p for p in data.iterdir() if (p / "kb").is_dir() and (p / "dev.jsonl").is_file())
    if not sets:
        print(f"no sets (folders with kb/ and dev.jsonl) in {data}", file=sys.stderr)
        return 1
    print(f"answer_at={answer_at} suggest_at={suggest_at} languages={','.join(LANGUAGES)}")
    header = ["set", *COLUMNS, "build_s", "entries", "questions"]
    print("  ".join(f"{h:>16}" if i else f"{h:<10}" for i, h in enumerate(header)))
    for folder in sets:
        started = time.perf_counter()
        kb = load_knowledge_base(folder / "kb", LANGUAGES)
        build = time.perf_counter() - started
        report = evaluate(kb, read_cases(folder / "dev.jsonl"), answer_at=answer_at, suggest_at=suggest_at).to_dict()
        cells = [_cell(report[c]) for c in COLUMNS] + [f"{build:.3f}", str(len(kb.entries)), str(kb.question_count)]
        print("  ".join([f"{folder.name:<10}", *(f"{c:>16}" for c in cells)]))
    _bench_large_build()
    return 0


def _bench_large_build() -> None:
    """Build time and match time for a synthetic 10,000-question knowledge base (1,000 entries x 10)."""
    import random
    import tempfile

    rng = random.Random(7)
    words = [f"{a}{b}{c}" for a in "bdfgklmnprst" for b in "aeiou" for c in ("", "n", "r", "s", "ta", "lo")]
    with tempfile.TemporaryDirectory() as tmp:
        entries = [{"id": f"e{i}", "questions": {"en": [" ".join(rng.choices(words, k=rng.randint(4, 10)))
                                                     for _ in range(10)]}, "answer": {"en": f"answer {i}"}}
                   for i in range(1000)]
        Path(tmp, "big.yaml").write_text(yaml.safe_dump({"entries": entries}), encoding="utf-8")
        started = time.perf_counter()
        kb = load_knowledge_base(Path(tmp), LANGUAGES)
        build = time.perf_counter() - started
        queries = [" ".join(rng.choices(words, k=6)) for _ in range(200)]
        started = time.perf_counter()
        for query in queries:
            kb.match(query, answer_at=0.82, suggest_at=0.65)
        per_match = (time.perf_counter() - started) * 1000 / len(queries)
    print(f"synthetic KB, 1000 entries x 10 questions: build {build:.2f} s, match {per_match:.2f} ms mean")


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
