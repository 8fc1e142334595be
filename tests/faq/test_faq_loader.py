"""Loader: every problem with its file and line, all at once, nothing half-loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faq import KnowledgeBaseError, Problem, load_knowledge_base
from tests.faq.faq_samples import LANGUAGES, SHOP_YAML, write


def problems_of(folder: Path) -> list[Problem]:
    with pytest.raises(KnowledgeBaseError) as caught:
        load_knowledge_base(folder, LANGUAGES)
    return caught.value.problems


def test_loads_entries_with_defaults_and_lines(tmp_path: Path) -> None:
    write(tmp_path, "shop.yaml", SHOP_YAML)
    kb = load_knowledge_base(tmp_path, LANGUAGES)
    assert list(kb.entries) == ["refund-window", "opening-hours", "password-reset", "delivery-time"]
    refund = kb.entries["refund-window"]
    assert refund.team == "billing"
    assert refund.tags == ("returns",)
    assert refund.line == 3
    assert refund.file == tmp_path / "shop.yaml"
    assert kb.entries["opening-hours"].team == "support"  # the file's default team
    assert kb.entries["password-reset"].questions == {"en": ("I forgot my password", "How do I reset my password?")}
    assert kb.entries["password-reset"].answers == {"en": 'Use the "Forgot password" link on the sign-in page.'}
    assert kb.question_count == 20


def test_problem_str_names_file_and_line() -> None:
    assert str(Problem(Path("kb/a.yaml"), 12, "bad id")) == "kb/a.yaml:12: bad id"
    assert str(Problem(Path("kb/a.yaml"), None, "cannot read")) == "kb/a.yaml: cannot read"


def test_every_problem_reported_at_once_with_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", """\
entries:
  - id: shared
    questions: ["Where is my order?"]
    answer: On its way.
  - id: no-answer
    questions: ["What is this?"]
  - id: Bad Id!
    questions: [x]
    answer: y
  - id: klingon
    questions:
      tlh: [nuqneH]
    answer: Qapla
  - id: empty-questions
    questions:
      en: []
    answer: z
  - id: extra
    questions: [q]
    answer: a
    colour: blue
""")
    write(tmp_path, "b.yaml", """\
entries:
  - id: shared
    questions: ["Where is my parcel?"]
    answer: Coming.
""")
    write(tmp_path, "c.yaml", "entries:\n  - id: broken\n    questions: [unclosed\n")
    messages = {(p.file.name, p.line, p.message) for p in problems_of(tmp_path)}
    assert ("a.yaml", 5, "entry 'no-answer' has no 'answer'") in messages
    assert ("a.yaml", 7, "bad id 'Bad Id!': use lower-case letters, digits, '-', '_' and '.'") in messages
    assert any(f == "a.yaml" and line == 12 and "'tlh' is not one of the configured" in m for f, line, m in messages)
    assert ("a.yaml", 16, "entry 'empty-questions' has an empty question list for 'en'") in messages
    assert any(f == "a.yaml" and line == 21 and "unknown key 'colour'" in m for f, line, m in messages)
    assert ("b.yaml", 2, f"duplicate id 'shared', first defined at {tmp_path / 'a.yaml'}:2") in messages
    assert any(f == "c.yaml" and m.startswith("bad YAML") and line is not None for f, line, m in messages)
    assert len(messages) == 7


def test_error_message_lists_every_problem(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "entries:\n  - id: x\n  - id: y\n    questions: [q]\n")
    with pytest.raises(KnowledgeBaseError) as caught:
        load_knowledge_base(tmp_path, LANGUAGES)
    text = str(caught.value)
    assert text.startswith("3 problems in the knowledge base")
    assert f"{tmp_path / 'a.yaml'}:2: entry 'x' has no 'questions'" in text
    assert f"{tmp_path / 'a.yaml'}:3: entry 'y' has no 'answer'" in text


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path)
    assert problem.message == f"no *.yaml files in {tmp_path}"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", None, "the file is empty"),
        ("- just\n- a list\n", 1, "must be a mapping"),
        ("entries: {a: 1}\n", 1, "'entries' must be a list"),
        ("team: x\n", 1, "missing 'entries'"),
        ("entries: []\n---\nentries: []\n", 3, "only one YAML document"),
        ("entries:\n  - id: a\n    questions: {en: [q]}\n    answer: {}\n", 4, "empty 'answer'"),
        ("entries:\n  - id: a\n    questions: [q, '']\n    answer: b\n", 3, "question is empty"),
        ("entries:\n  - id: a\n    questions: [q]\n    answer: {en: a, xx: b}\n", 4, "'xx' is not one of"),
        ("entries:\n  - id: a\n    questions: [q]\n    answer: [a]\n", 4, "must be text"),
    ],
)
def test_single_file_problems(tmp_path: Path, text: str, line: int | None, fragment: str) -> None:
    write(tmp_path, "kb.yaml", text)
    problems = problems_of(tmp_path)
    assert any(p.line == line and fragment in p.message for p in problems), problems


def test_not_utf8_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "kb.yaml").write_bytes(b"entries:\n  - id: \xff\xfe\n")
    (problem,) = problems_of(tmp_path)
    assert "not UTF-8" in problem.message


YAMLISH = st.text(alphabet=st.sampled_from(list("entris:qugowaly -[]{}'\"\n\t#&*!|>,.?%@`") + ["é", "Π", "\x00"]),
                  max_size=200)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(YAMLISH, st.text(max_size=200), YAMLISH.map(lambda t: "entries:\n  - id: a\n" + t)))
def test_any_yamlish_text_only_raises_knowledge_base_error(tmp_path: Path, text: str) -> None:
    write(tmp_path, "kb.yaml", text)
    try:
        kb = load_knowledge_base(tmp_path, LANGUAGES)
    except KnowledgeBaseError as exc:
        assert exc.problems and all(isinstance(p, Problem) for p in exc.problems)
    else:
        assert kb.entries
