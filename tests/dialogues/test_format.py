"""The dialogue format itself: a mistake in a dialogue file fails loudly, naming the file and the step."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dialogues.test_dialogues import (
    FILES,
    DialogueError,
    known_text_keys,
    load_dialogue,
    template_pattern,
)

ENTRIES = {"shipping-cost", "refund-time"}


def load(tmp_path: Path, text: str):
    path = tmp_path / "example.yaml"
    path.write_text(text, encoding="utf-8")
    return load_dialogue(path, ENTRIES, known_text_keys())


def test_there_are_enough_dialogues() -> None:
    assert len(FILES) >= 60, [path.name for path in FILES]


def test_yes_and_no_stay_text_numbers_become_text(tmp_path: Path) -> None:
    dialogue = load(tmp_path, """
about: yes, no and numbers as customers type them
steps:
  - say: yes
  - press: no
  - say: 5
    expect: {options: [yes, no, pick:*, pick:shipping-cost, rate:5], replies: 1}
  - agent: claim
    expect: {ok: false}
""")
    assert [step.value for step in dialogue.steps] == ["yes", "no", "5", "claim"]
    assert dialogue.steps[2].expect["options"][:2] == ["yes", "no"]
    assert dialogue.steps[3].expect["ok"] is False


@pytest.mark.parametrize(("text", "complaint"), [
    ("about: x\nsteps:\n  - say: hi\n    expect: {langauge: en}\n", "step 1: expect: unknown key langauge"),
    ("about: x\nsteps:\n  - say: hi\n  - say: hi\n    expcet: {}\n", "step 2: unknown key expcet"),
    ("about: x\nsteps:\n  - say: hi\n    press: yes\n", "step 1: needs exactly one of say, press, agent"),
    ("about: x\nsteps:\n  - say: hi\n    expect: {says: [greting]}\n", "step 1: expect: `says`: no text key 'greting'"),
    ("about: x\nsteps:\n  - say: hi\n    expect: {answers: no-such-entry}\n", "no FAQ entry 'no-such-entry'"),
    ("about: x\nsteps:\n  - say: hi\n    expect: {options: [maybe]}\n", "unknown option 'maybe'"),
    ("about: x\nsteps:\n  - say: hi\n    expect: {status: open}\n", "`status` must be one of"),
    ("about: x\nsteps:\n  - say: hi\n    expect: {ok: true}\n", "`ok` is only for agent steps"),
    ("about: x\nsteps:\n  - agent: transfer\n", "agent transfer needs a `team`"),
    ("about: x\nsteps:\n  - agent: sing\n", "unknown agent action 'sing'"),
    ("about: x\nsteps:\n  - say: hi\n    text: hello\n", "step 1: unknown key text"),
    ("about: x\nhint: de\nsteps:\n  - say: hi\n", "`hint` must be one of"),
    ("about: x\nstep:\n  - say: hi\n", "unknown key step"),
    ("steps:\n  - say: hi\n", "`about` is missing"),
    ("about: x\nsteps: [\n", "not valid YAML"),
])
def test_mistakes_name_the_file_and_the_step(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(DialogueError) as raised:
        load(tmp_path, text)
    message = str(raised.value)
    assert "example.yaml" in message and complaint in message, message


def test_templates_match_with_any_placeholder_value() -> None:
    pattern = template_pattern("Your case #$case is waiting. Position: ${position}. Costs $$5.")
    assert pattern.fullmatch("Your case #1001 is waiting. Position: 2. Costs $5.")
    assert not pattern.fullmatch("Your case is waiting.")
