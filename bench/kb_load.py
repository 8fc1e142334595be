"""Start time and memory of a worker's knowledge base, with and without the build cache (faq/buildcache.py).

Usage: python bench/kb_load.py [--kb DIR] [--embeddings FILE] [--no-encoder] [--no-large]

Each figure comes from a fresh interpreter, as a worker starts: seconds from the process's start until
its imports are done, until the knowledge base is ready, and until its first match; then its RSS, and
its RSS once scikit-learn and scipy.stats (what a training imports) are imported too. For the sample
FAQ (config/faq, or --kb), with the sentence encoder as the default install has it:

- cold: nothing cached; the worker goes into service on n-grams and word vectors while the questions
  are embedded in the background (as `helpline run` does);
- embeddings cached, no build: it trains (scikit-learn imported);
- warm: embeddings and build cached: it loads.

Embedding the sample FAQ's questions takes ~1.5 minutes of one core here; --embeddings FILE starts from
a copy of an embedding cache that already has them (e.g. ~/.cache/helpline/embeddings-*.npz).
Then the same for a synthetic 10,000-question knowledge base (bench/faq.py's), cold and warm; its
questions are not embedded (minutes), so it serves on n-grams and word vectors as a worker would first.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere without installing

LANGUAGES = ("en", "el", "lv", "hu")

# Run in a fresh interpreter: argv = spawn time, repo, kb folder, embedding cache, "1" for the encoder.
WORKER = """
import sys, time
spawned = float(sys.argv[1])
sys.path.insert(0, sys.argv[2])
import json
from pathlib import Path
from faq.kb import load_knowledge_base
from faq.matcher import matcher_factory
imported = time.time() - spawned
factory = matcher_factory(sentence_encoder=sys.argv[5] == "1", embedding_cache=Path(sys.argv[4]), background=True)
kb = load_knowledge_base(Path(sys.argv[3]), ("en", "el", "lv", "hu"), factory)
ready = time.time() - spawned
kb.match("how long does delivery take to germany", answer_at=0.82, suggest_at=0.45)
first = time.time() - spawned
rss = lambda: next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024
loaded_rss = rss()
had_sklearn = "sklearn" in sys.modules
import scipy.stats, sklearn.feature_extraction.text, sklearn.svm  # what a training adds
print("RESULT " + json.dumps({"imported": imported, "ready": ready, "first": first, "rss": loaded_rss,
      "rss_sklearn": rss(), "sklearn": had_sklearn, "loaded": bool(getattr(kb._matcher, "loaded", False)),
      "matcher": kb.describe()}))
"""


def start_worker(kb_dir: Path, cache: Path, encoder: bool) -> dict:
    """One worker start's figures (see WORKER)."""
    spawned = time.time()
    done = subprocess.run([sys.executable, "-c", WORKER, repr(spawned), str(REPO), str(kb_dir), str(cache),
                           "1" if encoder else "0"], capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-2000:])
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT ")).removeprefix("RESULT "))


def report(label: str, figures: dict) -> None:
    print(f"{label:<34} imports {figures['imported']:5.2f} s  KB ready {figures['ready']:6.2f} s  "
          f"first match {figures['first']:6.2f} s  RSS {figures['rss']:4.0f} MB "
          f"(+scikit-learn {figures['rss_sklearn']:4.0f} MB)  scikit-learn imported: {'yes' if figures['sklearn'] else 'no'}"
          f"  {'loaded' if figures['loaded'] else 'trained'}: {figures['matcher']}", flush=True)


def build_file(cache: Path) -> Path:
    from faq.buildcache import build_cache_path

    return build_cache_path(cache)


def sample_faq(kb_dir: Path, tmp: Path, encoder: bool, embeddings: Path | None) -> None:
    cache = tmp / "sample" / "embeddings.npz"
    cache.parent.mkdir(parents=True)
    print(f"{kb_dir} ({'with' if encoder else 'without'} the sentence encoder):")
    report("  cold (nothing cached)", start_worker(kb_dir, cache, encoder))
    if encoder:
        if embeddings is not None:
            shutil.copyfile(embeddings, cache)
        from faq.kb import load_knowledge_base
        from faq.matcher import matcher_factory

        started = time.perf_counter()
        load_knowledge_base(kb_dir, LANGUAGES, matcher_factory(sentence_encoder=True, embedding_cache=cache))
        print(f"  (questions embedded and trained in {time.perf_counter() - started:.1f} s, in this process)")
    build_file(cache).unlink(missing_ok=True)
    report("  embeddings cached, no build", start_worker(kb_dir, cache, encoder))
    for run in (1, 2):
        report(f"  warm (build cached), start {run}", start_worker(kb_dir, cache, encoder))


def synthetic_kb(folder: Path) -> int:
    """bench/faq.py's synthetic knowledge base (1,000 entries x 10 questions, the same seed)."""
    import random

    rng = random.Random(7)
    words = [f"{a}{b}{c}" for a in "bdfgklmnprst" for b in "aeiou" for c in ("", "n", "r", "s", "ta", "lo")]
    entries = [{"id": f"e{i}", "questions": {"en": [" ".join(rng.choices(words, k=rng.randint(4, 10)))
                                                 for _ in range(10)]}, "answer": {"en": f"answer {i}"}}
               for i in range(1000)]
    folder.mkdir(parents=True)
    (folder / "big.yaml").write_text(yaml.safe_dump({"entries": entries}), encoding="utf-8")
    return sum(len(e["questions"]["en"]) for e in entries)


def large_kb(tmp: Path, encoder: bool) -> None:
    folder = tmp / "large"
    questions = synthetic_kb(folder)
    cache = tmp / "large-cache" / "embeddings.npz"
    print(f"synthetic KB, {questions} questions:")
    cold = start_worker(folder, cache, encoder)
    report("  cold (build trained)", cold)
    warm = start_worker(folder, cache, encoder)
    report("  warm (build loaded)", warm)
    size = build_file(cache).stat().st_size
    print(f"  build: {cold['ready'] - cold['imported']:.2f} s cold, load {warm['ready'] - warm['imported']:.2f} s warm; "
          f"build file {size / 1e6:.1f} MB")


def main(argv: list[str]) -> int:
    kb_dir = Path(argv[argv.index("--kb") + 1]) if "--kb" in argv else REPO / "config/faq"
    embeddings = Path(argv[argv.index("--embeddings") + 1]).expanduser() if "--embeddings" in argv else None
    encoder = "--no-encoder" not in argv
    with tempfile.TemporaryDirectory() as tmp:
        sample_faq(kb_dir, Path(tmp), encoder, embeddings)
        if "--no-large" not in argv:
            large_kb(Path(tmp), encoder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
