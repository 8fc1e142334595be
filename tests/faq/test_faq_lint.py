"""`faq lint`: fights, near-duplicates, thin entries and missing translations, each with file:line and id."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bot.commands_faq import cmd_faq_lint
from faq import LintWarning, lint, load_knowledge_base
from faq.lint import lint_report
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
    lines = out.getvalue().splitlines()
    assert lines[-1] == f"{tmp_path}: no warnings, 3 entries"
    # Each question left out still finds its entry, so none is "least reached".
    assert lines[:-1] == ["reach: 9 of 9 questions (100%), each left out, find their entry: 9 answered, 0 offered "
                          "among choices; 0 answered with another entry, 0 offered only others, 0 to a person"]


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
    warned = [line for line in text if line.startswith(f"{file}:")]
    assert f"{file}:{line_of(MESSY_YAML, 'gift-wrap')}: [few-questions] gift-wrap: " in "\n".join(warned)
    assert text[-1] == f"{len(warned)} warnings in 4 of 5 entries"
    assert text[len(warned)].startswith("reach: ")
    out = io.StringIO()
    assert cmd_faq_lint(tmp_path, LANGS, out, as_json=True) == 0
    data = json.loads(out.getvalue())
    assert data["errors"] == [] and len(data["warnings"]) == len(warned)
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


def test_a_fight_is_a_wrong_answer_not_a_wrong_choice(tmp_path: Path) -> None:
    """Another entry among the choices tells the customer nothing wrong: only being answered with it is a fight."""
    write(tmp_path, "shop.yaml", MESSY_YAML)
    kb = load_knowledge_base(tmp_path, LANGS)
    assert by_kind(lint(kb), "fight")  # the planted fight, at the service's thresholds
    assert by_kind(lint(kb, answer_at=1.01), "fight") == []  # nothing scores above 1: nothing is answered


def test_json_says_per_entry_how_often_it_is_reached_and_by_whom(tmp_path: Path) -> None:
    write(tmp_path, "shop.yaml", MESSY_YAML)
    out = io.StringIO()
    assert cmd_faq_lint(tmp_path, LANGS, out, as_json=True) == 0
    data = json.loads(out.getvalue())
    assert set(data) == {"errors", "warnings", "reach", "entries"}
    entries = {e["id"]: e for e in data["entries"]}
    assert list(entries) == ["track-parcel", "change-address", "opening-hours", "gift-wrap", "refund"]
    track = entries["track-parcel"]
    assert track["answered_instead"] == {"change-address": 1}  # the planted question
    assert entries["change-address"]["took"] == {"track-parcel": 1}
    assert 0 <= track["self_served"] <= 1 and track["messages"] == sum(track["outcomes"].values())
    assert set(track["languages"]) == {"en", "lv"}
    assert data["reach"]["messages"] == sum(e["messages"] for e in entries.values())
    # gift-wrap's only English question has nothing left to be found by: not counted, warned as too few.
    assert entries["gift-wrap"]["languages"].keys() == {"lv"}


SAMPLE = Path(__file__).resolve().parents[2] / "config" / "faq"


def test_the_shipped_sample_shows_only_what_an_admin_should_act_on() -> None:
    """Complete in four languages with 8 questions each: no thin entries, translations or duplicates to
    report, and few questions that another entry would be answered with (each one worth a look)."""
    kb = load_knowledge_base(SAMPLE, ("en", "el", "lv", "hu"))
    report = lint_report(kb)
    kinds = {w.kind for w in report.warnings}
    assert kinds <= {"fight", "hard-to-reach"}, kinds
    assert len(report.warnings) <= 8, "\n".join(map(str, report.warnings))
    assert report.overall.messages == kb.question_count


def test_a_letter_apart_in_two_entries_is_no_duplicate_but_the_same_words_are(tmp_path: Path) -> None:
    """Turn the fan on and turn it off differ by a prefix in Greek: two needs, not one question twice."""
    text = """\
entries:
  - id: fan-on
    questions:
      - ενεργοποίησε τον ανεμιστήρα στο σαλόνι
      - άναψε τον ανεμιστήρα
      - βάλε μπρος τον ανεμιστήρα
    answer: Ο ανεμιστήρας άναψε.
  - id: fan-off
    questions:
      - απενεργοποίησε τον ανεμιστήρα στο σαλόνι
      - σβήσε τον ανεμιστήρα
      - κλείσε τον ανεμιστήρα στο σαλόνι
    answer: Ο ανεμιστήρας έσβησε.
  - id: fan-speed
    questions:
      - στο σαλόνι τον ανεμιστήρα κλείσε
      - πιο γρήγορα ο ανεμιστήρας
      - αύξησε την ταχύτητα του ανεμιστήρα
    answer: Πιο γρήγορα.
"""
    write(tmp_path, "kb.yaml", text)
    duplicates = by_kind(lint(load_knowledge_base(tmp_path, ("el",))), "duplicate")
    assert [(w.entry_id, "'fan-off'" in w.message) for w in duplicates] == [("fan-speed", True)]
    assert "near-duplicates" in duplicates[0].message
