"""CPU time of one intents reading (router/intents.py), the reader before it was indexed beside it.

Usage: python bench/intents.py [--passes 3] [--set dev|corpus]

Reads the shared dev sets' questions (`dev`, the FAQ questions a worker mostly sees) or the whole
comparison corpus of tests/router/intents_corpus.py (`corpus`: vocabulary phrases and their variants
too) with the current reader and with the one it replaced (tests/router/intents_reference.py), and
prints CPU microseconds per read (time.process_time): the first pass with every cache emptied
("cold", each word new) and the mean of the later passes ("warm", a worker's steady state). Both
readers run in this process one after the other, so compare the ratio, not the absolute figures:
the machine is shared. It also counts readings that differ between the two (it must be 0).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import astuple
from functools import _lru_cache_wrapper
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import faq.normalize  # noqa: E402
import router.intents  # noqa: E402
from tests.router import intents_reference  # noqa: E402
from tests.router.intents_corpus import LANGUAGES, corpus, dev_texts  # noqa: E402


def _clear_caches(*modules: ModuleType) -> None:
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, _lru_cache_wrapper):
                value.cache_clear()


def _measure(reader: object, texts: list[str], passes: int, module: ModuleType) -> tuple[float, float, list[tuple]]:
    _clear_caches(module, faq.normalize)
    words = getattr(reader, "_words", None)
    if words is not None:
        words.sets.cache_clear()
    read = reader.read  # type: ignore[attr-defined]
    started = time.process_time()
    readings = [astuple(read(text)) for text in texts]
    cold = time.process_time() - started
    started = time.process_time()
    for _ in range(passes - 1):
        for text in texts:
            read(text)
    warm = (time.process_time() - started) / max(1, passes - 1)
    return cold / len(texts) * 1e6, warm / len(texts) * 1e6, readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passes", type=int, default=3, help="passes over the texts (the first is the cold one)")
    parser.add_argument("--set", choices=("dev", "corpus"), default="dev")
    args = parser.parse_args()
    texts = dev_texts() if args.set == "dev" else corpus()
    if not texts:
        sys.exit("no texts: the shared dev sets are not on this machine (try --set corpus)")
    vocabularies = router.intents.load_vocabularies(LANGUAGES)
    old_cold, old_warm, old_readings = _measure(intents_reference.Intents(vocabularies), texts, args.passes,
                                                intents_reference)
    new_cold, new_warm, new_readings = _measure(router.intents.Intents(vocabularies), texts, args.passes,
                                                router.intents)
    differing = sum(1 for before, after in zip(old_readings, new_readings) if before != after)
    print(f"{len(texts)} texts ({args.set}), {args.passes} passes; CPU µs per read")
    print(f"{'':12}{'cold':>10}{'warm':>10}")
    print(f"{'before':12}{old_cold:10.1f}{old_warm:10.1f}")
    print(f"{'after':12}{new_cold:10.1f}{new_warm:10.1f}")
    print(f"{'× cheaper':12}{old_cold / new_cold:10.1f}{old_warm / new_warm:10.1f}")
    print(f"readings that differ: {differing}")


if __name__ == "__main__":
    main()
