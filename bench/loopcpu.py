"""CPU µs per call of the Python work around Redis in a worker's loop, the current code beside the frozen copy of
what it was (the tests' references), in one run.

Usage: python bench/loopcpu.py [--rounds 5]

- language evidence (router/engine.py's detection): on the shared dev sets' texts and the language samples
  (accents left in and left out), each text new to the caches ("cold") and seen before ("warm": customers
  repeat "hi", "thanks" and the FAQ's questions);
- Telegram outbound: split_text and render_outbound on the shipped FAQ answers (what the FAQ path sends) and
  on long answers with emoji;
- message decoding: from_json of an InboundMessage and of an OutboundMessage as the streams carry them.

Each figure is the best of `--rounds` passes of time.process_time (the machine may be shared).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere without installing


def per_call(run: Callable[[], int], rounds: int, before: Callable[[], None] = lambda: None) -> float:
    """Best µs per call over `rounds` passes; `run` makes the calls and says how many."""
    best = float("inf")
    for _ in range(rounds):
        before()
        start = time.process_time()
        calls = run()
        best = min(best, (time.process_time() - start) / calls * 1e6)
    return best


def row(name: str, old: float, new: float) -> str:
    return f"| {name} | {old:.1f} | {new:.1f} | {old / new:.1f}× |"


def language_rows(rounds: int) -> list[str]:
    from faq import langdetect
    from faq.langprofile import builtin_profile, questions_profile
    from faq.loader import load_entries
    from tests.faq import langdetect_reference as reference
    from tests.faq.test_langdetect_same import LANGUAGES, SAMPLE_KB, real_texts

    profile = questions_profile(load_entries(SAMPLE_KB, list(LANGUAGES)).values())
    texts = list(dict.fromkeys(real_texts()))

    repeated = texts[::len(texts) // 1000 + 1]  # fewer than the caches hold

    def calls(function: Callable[..., object], which: list[str] = texts) -> Callable[[], int]:
        def run() -> int:
            for text in which:
                function(text, LANGUAGES, profile)
            return len(which)
        return run

    def forget() -> None:
        langdetect._remembered_scores.cache_clear()
        profile._remembered.cache_clear()
        builtin_profile()._remembered.cache_clear()

    reference.log_likelihoods(profile, "warm the reference's tables", LANGUAGES)
    old = per_call(calls(reference.language_evidence), rounds)
    cold = per_call(calls(langdetect.language_evidence), rounds, forget)
    old_repeated = per_call(calls(reference.language_evidence, repeated), rounds)
    calls(langdetect.language_evidence, repeated)()
    warm = per_call(calls(langdetect.language_evidence, repeated), rounds)
    return [row(f"language_evidence, cold ({len(texts)} texts, each new to the caches)", old, cold),
            row(f"language_evidence, warm ({len(repeated)} of them, seen before)", old_repeated, warm)]


def telegram_rows(rounds: int) -> list[str]:
    from channels.telegram import convert
    from tests.telegram import convert_reference as reference
    from tests.telegram.test_convert_same import answers, long_texts, out

    short, long = answers(), long_texts()
    messages = [out(text) for text in short]
    rows = []
    for name, texts in ((f"split_text, the shipped FAQ answers ({len(short)})", short),
                        (f"split_text, long texts with emoji ({len(long)})", long)):
        def calls(split: Callable[[str], list[str]], which: list[str] = texts) -> Callable[[], int]:
            def run() -> int:
                for _ in range(20):
                    for text in which:
                        split(text)
                return 20 * len(which)
            return run
        rows.append(row(name, per_call(calls(reference.split_text), rounds), per_call(calls(convert.split_text), rounds)))

    def renders(render: Callable[..., object]) -> Callable[[], int]:
        def run() -> int:
            for _ in range(20):
                for message in messages:
                    render(message)
            return 20 * len(messages)
        return run
    rows.append(row("render_outbound, the shipped FAQ answers", per_call(renders(reference.render_outbound), rounds),
                    per_call(renders(convert.render_outbound), rounds)))
    return rows


def message_rows(rounds: int) -> list[str]:
    from router import messages
    from router.messages import Attachment, InboundMessage, OutboundMessage, QuickReply, Sender, to_json
    from tests.router import messages_reference as reference

    inbound = to_json(InboundMessage(
        id="01J0000000000000000000000", channel="telegram", address="5551", text="How long does delivery take?",
        sender=Sender("77", "Anna", "@anna"), platform_id="5551:901", received_at=1_700_000_000.25,
        language_hint="en", attachments=(Attachment("a.png", "image/png", 1234, "file-1"),)))
    outbound = to_json(OutboundMessage(
        id="01J0000000000000000000001", channel="telegram", address="5551", text="Delivery takes 2-4 working days.",
        options=(QuickReply("yes", "Yes"), QuickReply("no", "No")), conversation="01J0000000000000000000000",
        language="en", reply_to="5551:901"))
    rows = []
    for name, cls, data in (("from_json, an InboundMessage", InboundMessage, inbound),
                            ("from_json, an OutboundMessage", OutboundMessage, outbound)):
        def calls(decode: Callable[..., object], cls: type = cls, data: str = data) -> Callable[[], int]:
            def run() -> int:
                for _ in range(5000):
                    decode(cls, data)
                return 5000
            return run
        rows.append(row(name, per_call(calls(reference.from_json), rounds), per_call(calls(messages.from_json), rounds)))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print("| function | before µs/call | now µs/call | ratio |\n|---|---|---|---|")
    for rows in (language_rows, telegram_rows, message_rows):
        for line in rows(args.rounds):
            print(line, flush=True)


if __name__ == "__main__":
    main()
