"""`faq lint`: fights, near-duplicates, thin entries and missing translations, each with file:line and id."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bot.commands_faq import cmd_faq_lint
from faq import LintWarning, lint, load_knowledge_base
from tests.faq.faq_samples import write

CLEAN_YAML = """\
entries:
  - id: password-reset
    questions:
      - I forgot my password
      - reset my password
      - how do I change my password
    answer: Use the "Forgot password" link.
  - id: opening-hours
    questions:
      - when are you open
      - what are your opening hours
      - are you open on sunday
    answer: Nine to five on weekdays.
  - id: refund
    questions:
      - I want a refund for my order
      - refund please
      - can I get a refund
    answer: Refunds take five days.
"""

# track-parcel holds a question that belongs to change-address; opening-hours repeats a question
# with a typo; gift-wrap has one question; refund has no Latvian answer, and no Latvian questions.
MESSY_YAML = """\
entries:
  - id: track-parcel
    questions:
      en:
        - where is my parcel
        - track my parcel
        - has my parcel been shipped yet
        - how can I change the delivery address for my order
      lv:
        - kur ir mana paka
        - izsekot manu paku
        - vai mana paka ir nosūtīta
    answer:
      en: Follow the tracking link in your email.
      lv: Sekojiet saitei e-pastā.
  - id: change-address
    questions:
      en:
        - change my delivery address
        - can I change the delivery address
        - I need to change the address for delivery
      lv:
        - mainīt piegādes adresi
        - vai varu mainīt piegādes adresi
        - man jāmaina piegādes adrese
    answer:
      en: Write to us before the parcel ships.
      lv: Rakstiet mums pirms nosūtīšanas.
  - id: opening-hours
    questions:
      en:
        - What are your opening hours on weekdays
        - What are your openng hours on weekdays
        - opening hours on saturday
      lv:
        - kāds ir darba laiks
        - darba laiks brīvdienās
        - kāds ir veikala darba laiks
    answer:
      en: Nine to five.
      lv: No deviņiem līdz pieciem.
  - id: gift-wrap
    questions:
      en: [do you gift wrap]
      lv:
        - vai jūs iesaiņojat dāvanas
        - dāvanu iesaiņošana
        - vai var iesaiņot dāvanā
    answer:
      en: Yes, for free.
      lv: Jā, bez maksas.
  - id: refund
    questions:
      en:
        - I want a refund for my order
        - refund please
        - can I get a refund
    answer:
      en: Refunds take five days.
"""

LANGS = ("en", "lv")


def line_of(text: str, entry_id: str) -> int:
    """The 1-based line where `- id: <entry_id>` starts, as the loader reports it."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.strip() == f"- id: {entry_id}")


def by_kind(warnings: list[LintWarning], kind: str) -> list[LintWarning]:
    return [w for w in warnings if w.kind == kind]


def test_messy_knowledge_base_warns_each_problem_with_file_and_line(tmp_path: Path) -> None:
    file = write(tmp_path, "shop.yaml", MESSY_YAML)
    warnings = lint(load_knowledge_base(tmp_path, LANGS))
    for warning in warnings:
        assert warning.file == file
        assert warning.line == line_of(MESSY_YAML, warning.entry_id)
        assert str(warning).startswith(f"{file}:{warning.line}: [{warning.kind}] {warning.entry_id}: ")

    fights = by_kind(warnings, "fight")
    assert [(w.entry_id, "'change-address'" in w.message) for w in fights] == [("track-parcel", True)]
    assert "how can I change the delivery address for my order" in fights[0].message

    duplicates = by_kind(warnings, "duplicate")
    assert [w.entry_id for w in duplicates] == ["opening-hours"]
    assert "openng" in duplicates[0].message

    few = by_kind(warnings, "few-questions")
    assert [(w.entry_id, "1 in en" in w.message) for w in few] == [("gift-wrap", True)]

    assert [(w.entry_id, w.message) for w in by_kind(warnings, "missing-answer")] == [("refund", "no answer in lv")]
    assert [w.entry_id for w in by_kind(warnings, "missing-questions")] == ["refund"]
    # In file order, so an admin reads them top to bottom.
    assert [w.line for w in warnings] == sorted(w.line for w in warnings)


def test_duplicate_across_entries_names_both(tmp_path: Path) -> None:
    text = CLEAN_YAML + "  - id: login-help\n    questions:\n      - I forgot my password!\n" \
                        "      - cannot log in\n      - login does not work\n    answer: Try again.\n"
    file = write(tmp_path, "kb.yaml", text)
    duplicates = by_kind(lint(load_knowledge_base(tmp_path, ("en",))), "duplicate")
    assert len(duplicates) == 1
    assert duplicates[0].entry_id == "login-help" and duplicates[0].line == line_of(text, "login-help")
    assert "the same question" in duplicates[0].message
    assert f"'password-reset' ({file.name}:{line_of(text, 'password-reset')})" in duplicates[0].message


def test_clean_knowledge_base_has_no_warnings(tmp_path: Path) -> None:
    write(tmp_path, "kb.yaml", CLEAN_YAML)
    assert lint(load_knowledge_base(tmp_path, ("en",))) == []
    out = io.StringIO()
    assert cmd_faq_lint(tmp_path, ("en",), out) == 0
    assert out.getvalue() == f"{tmp_path}: no warnings, 3 entries\n"


def test_folds_find_a_fight_in_a_larger_knowledge_base(tmp_path: Path) -> None:
    """Above the exact leave-one-out size, questions are held out by folds; a planted fight is still found."""
    topics = ["invoice", "coupon", "warranty", "battery", "charger", "screen", "keyboard", "printer",
              "router", "camera", "speaker", "headphones", "monitor", "tablet", "laptop", "mouse",
              "scanner", "projector", "microphone", "webcam"]
    lines = ["entries:"]
    for topic in topics:
        lines += [f"  - id: {topic}", "    questions:", f"      - problem with my {topic}",
                  f"      - my {topic} is broken", f"      - help with the {topic}", f"    answer: About the {topic}."]
    lines.insert(lines.index("  - id: coupon") + 2, "      - the invoice for my order is wrong, I need a new invoice")
    text = "\n".join(lines) + "\n"
    write(tmp_path, "kb.yaml", text)
    kb = load_knowledge_base(tmp_path, ("en",))
    assert kb.question_count > 50
    fights = by_kind(lint(kb), "fight")
    assert [(w.entry_id, w.line) for w in fights] == [("coupon", line_of(text, "coupon"))]
    assert "'invoice'" in fights[0].message


def test_cli_lint_warnings_exit_zero_text_and_json(tmp_path: Path) -> None:
    file = write(tmp_path, "shop.yaml", MESSY_YAML)
    out = io.StringIO()
    assert cmd_faq_lint(tmp_path, LANGS, out) == 0
    text = out.getvalue().splitlines()
    assert f"{file}:{line_of(MESSY_YAML, 'gift-wrap')}: [few-questions] gift-wrap: " in "\n".join(text)
    assert text[-1] == f"{len(text) - 1} warnings in 4 of 5 entries"
    out = io.StringIO()
    assert cmd_faq_lint(tmp_path, LANGS, out, as_json=True) == 0
    data = json.loads(out.getvalue())
    assert data["errors"] == [] and len(data["warnings"]) == len(text) - 1
    assert {"kind": "missing-answer", "entry_id": "refund", "file": str(file),
            "line": line_of(MESSY_YAML, "refund"), "message": "no answer in lv"} in data["warnings"]


def test_cli_lint_broken_knowledge_base_exits_one_with_every_problem(tmp_path: Path) -> None:
    file = write(tmp_path, "kb.yaml", "entries:\n  - id: a\n    questions: [x]\n  - id: b\n    answer: y\n")
    out = io.StringIO()
    assert cmd_faq_lint(tmp_path, ("en",), out) == 1
    assert f"{file}:2: entry 'a' has no 'answer'" in out.getvalue()
    assert f"{file}:4: entry 'b' has no 'questions'" in out.getvalue()
    out = io.StringIO()
    assert cmd_faq_lint(tmp_path, ("en",), out, as_json=True) == 1
    errors = json.loads(out.getvalue())["errors"]
    assert [(e["file"], e["line"]) for e in errors] == [(str(file), 2), (str(file), 4)]


def test_a_fight_needs_the_other_entry_to_be_offered(tmp_path: Path) -> None:
    """Ranked first but below `given_at`, the customer goes to a person: a thin entry, not a fight."""
    write(tmp_path, "shop.yaml", MESSY_YAML)
    kb = load_knowledge_base(tmp_path, LANGS)
    offered = by_kind(lint(kb), "fight")
    assert offered  # the planted fight, at the default suggest_at
    assert by_kind(lint(kb, given_at=1.01), "fight") == []  # nothing scores above 1
    everything = by_kind(lint(kb, given_at=0.0), "fight")
    assert {w.entry_id for w in offered} <= {w.entry_id for w in everything}
