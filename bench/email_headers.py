"""How long reading a mail takes as its subject grows to hundreds of thousands of RFC 2047 encoded words.

Usage: python bench/email_headers.py [--words 1000 10000 100000 200000]

Prints, per size: the standard library's `email.header.decode_header` (quadratic; skipped above 20,000
words, where it takes minutes), Helpline's own decoder on the whole header, and `parse_mail` on a whole
mail (which reads at most 64 KiB of one header). Linear code grows ten times for ten times the words.
"""

from __future__ import annotations

import argparse
import sys
import time
from email.header import decode_header
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.email.encoded_words import decode_encoded_words  # noqa: E402
from channels.email.parse import parse_mail  # noqa: E402


def timed(function: object, *args: object) -> float:
    start = time.perf_counter()
    function(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, nargs="+", default=[1000, 10_000, 100_000, 200_000])
    args = parser.parse_args()
    print(f"{'words':>8} {'stdlib s':>10} {'decoder s':>10} {'parse_mail s':>13}")
    for words in args.words:
        subject = " ".join(f"=?utf-8?q?w{index}?=" for index in range(words))
        raw = f"From: a@example.com\r\nSubject: {subject}\r\nMessage-ID: <b@example.com>\r\n\r\nhi\r\n".encode()
        stdlib = f"{timed(decode_header, subject):10.3f}" if words <= 20_000 else f"{'-':>10}"
        print(f"{words:>8} {stdlib} {timed(decode_encoded_words, subject):10.3f} {timed(parse_mail, raw):13.3f}")


if __name__ == "__main__":
    main()
