"""Reads and validates the YAML files of a knowledge base, collecting every problem before failing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .bounded_yaml import YamlLimitError, YamlLimits, check_yaml_limits
from .errors import KnowledgeBaseError, Problem
from .model import Entry

# libyaml's loader parses about eight times faster and still records line numbers; pure Python when absent.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_FILE_KEYS = ("team", "entries")
_ENTRY_KEYS = ("id", "team", "tags", "questions", "answer")
_NULL_TAG = "tag:yaml.org,2002:null"
MAX_FILE_BYTES = 20 * 1024 * 1024  # far above any hand-edited file; stops a stray dump from eating memory
YAML_LIMITS = YamlLimits(max_bytes=MAX_FILE_BYTES)


def knowledge_base_files(path: Path) -> list[Path]:
    """The files that make up the knowledge base in folder `path`, in a stable order."""
    return sorted(p for p in path.glob("*.yaml") if p.is_file())


def load_entries(path: Path, languages: Sequence[str]) -> dict[str, Entry]:
    """Every entry of the knowledge base in folder `path`; raises KnowledgeBaseError listing all problems."""
    if not languages:
        raise ValueError("at least one language is needed")
    path = Path(path)
    if not path.is_dir():
        raise KnowledgeBaseError([Problem(path, None, "not a directory")])
    files = knowledge_base_files(path)
    if not files:
        raise KnowledgeBaseError([Problem(path, None, f"no *.yaml files in {path}")])
    problems: list[Problem] = []
    entries: dict[str, Entry] = {}
    for file in files:
        for entry in _FileReader(file, tuple(languages), problems).read():
            first = entries.get(entry.id)
            if first is not None:
                problems.append(Problem(
                    file, entry.line, f"duplicate id {entry.id!r}, first defined at {first.file}:{first.line}"))
            else:
                entries[entry.id] = entry
    if not problems and not entries:
        problems.append(Problem(path, None, "the knowledge base has no entries"))
    if problems:
        raise KnowledgeBaseError(problems)
    return entries


class _FileReader:
    """Walks one file's composed YAML nodes, so that every problem can name its line."""

    def __init__(self, file: Path, languages: tuple[str, ...], problems: list[Problem]) -> None:
        self.file = file
        self.languages = languages
        self.default_language = languages[0]
        self.problems = problems

    def problem(self, node: Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.problems.append(Problem(self.file, line, message))

    def read(self) -> list[Entry]:
        root = self._compose()
        if root is None:
            return []
        if not isinstance(root, MappingNode):
            self.problem(root, "the file must be a mapping with an 'entries' list")
            return []
        fields = self._mapping(root, _FILE_KEYS, "file")
        team = self._optional_text(fields.get("team"), "team")
        entries_node = fields.get("entries")
        if entries_node is None:
            self.problem(root, "missing 'entries'")
            return []
        if not isinstance(entries_node, SequenceNode):
            self.problem(entries_node, "'entries' must be a list")
            return []
        entries = []
        for item in entries_node.value:
            entry = self._entry(item, team)
            if entry is not None:
                entries.append(entry)
        return entries

    def _compose(self) -> Node | None:
        try:
            if self.file.stat().st_size > MAX_FILE_BYTES:
                self.problem(None, f"file is larger than {MAX_FILE_BYTES} bytes")
                return None
            text = self.file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            self.problem(None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
            return None
        except OSError as exc:
            self.problem(None, f"cannot read: {exc.strerror or exc}")
            return None
        try:
            check_yaml_limits(text, YAML_LIMITS)
            nodes = list(yaml.compose_all(text, Loader=_LOADER))
        except YamlLimitError as exc:
            self.problems.append(Problem(self.file, exc.line, f"refused: {exc.message}"))
            return None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            detail = " ".join(str(part) for part in (exc.context, exc.problem) if part)
            self.problems.append(Problem(self.file, line, f"bad YAML: {detail or exc}"))
            return None
        except (yaml.YAMLError, RecursionError) as exc:
            self.problems.append(Problem(self.file, None, f"bad YAML: {exc}"))
            return None
        if len(nodes) > 1:
            self.problem(nodes[1], "only one YAML document per file is allowed")
            return None
        if not nodes:
            self.problem(None, "the file is empty; it needs an 'entries' list")
            return None
        return nodes[0]

    def _mapping(self, node: MappingNode, allowed: tuple[str, ...], what: str) -> dict[str, Node]:
        fields: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, f"{what} keys must be plain words")
                continue
            key = key_node.value
            if key not in allowed:
                self.problem(key_node, f"unknown key {key!r} in {what} (allowed: {', '.join(allowed)})")
            elif key in fields:
                self.problem(key_node, f"key {key!r} appears twice in {what}")
            else:
                fields[key] = value_node
        return fields

    def _text(self, node: Node, what: str) -> str | None:
        """A non-empty string scalar, or None after recording a problem."""
        if not isinstance(node, ScalarNode) or node.tag == _NULL_TAG:
            self.problem(node, f"{what} must be text")
            return None
        value = node.value.strip()
        if not value:
            self.problem(node, f"{what} is empty")
            return None
        return value

    def _optional_text(self, node: Node | None, what: str) -> str | None:
        if node is None or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG):
            return None
        return self._text(node, what)

    def _entry(self, node: Node, file_team: str | None) -> Entry | None:
        if not isinstance(node, MappingNode):
            self.problem(node, "each entry must be a mapping with id, questions and answer")
            return None
        fields = self._mapping(node, _ENTRY_KEYS, "entry")
        before = len(self.problems)
        entry_id = None
        if "id" not in fields:
            self.problem(node, "entry has no 'id'")
        else:
            entry_id = self._text(fields["id"], "id")
            if entry_id is not None and not ID_PATTERN.match(entry_id):
                self.problem(fields["id"], f"bad id {entry_id!r}: use lower-case letters, digits, '-', '_' and '.'")
        label = f"entry {entry_id!r}" if entry_id else "entry"
        team = self._optional_text(fields.get("team"), "team")
        tags = self._tags(fields.get("tags"))
        questions: dict[str, tuple[str, ...]] = {}
        if "questions" not in fields:
            self.problem(node, f"{label} has no 'questions'")
        else:
            questions = self._questions(fields["questions"], label)
        answers: dict[str, str] = {}
        if "answer" not in fields:
            self.problem(node, f"{label} has no 'answer'")
        else:
            answers = self._answers(fields["answer"], label)
        if len(self.problems) > before or entry_id is None:
            return None
        return Entry(
            id=entry_id,
            team=team if team is not None else file_team,
            tags=tags,
            questions=MappingProxyType(questions),
            answers=MappingProxyType(answers),
            file=self.file,
            line=node.start_mark.line + 1,
        )

    def _tags(self, node: Node | None) -> tuple[str, ...]:
        if node is None or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG):
            return ()
        if not isinstance(node, SequenceNode):
            self.problem(node, "'tags' must be a list")
            return ()
        tags = (self._text(item, "tag") for item in node.value)
        return tuple(tag for tag in tags if tag is not None)

    def _language(self, node: Node) -> str | None:
        language = self._text(node, "language")
        if language is not None and language not in self.languages:
            self.problem(node, f"language {language!r} is not one of the configured languages "
                               f"({', '.join(self.languages)})")
            return None
        return language

    def _per_language(self, node: Node, what: str, label: str) -> list[tuple[str, Node]]:
        """(language, value node) pairs from a per-language mapping, or the default language for a bare value."""
        if not isinstance(node, MappingNode):
            return [(self.default_language, node)]
        pairs = []
        seen: set[str] = set()
        for key_node, value_node in node.value:
            language = self._language(key_node)
            if language is None:
                continue
            if language in seen:
                self.problem(key_node, f"language {language!r} appears twice in {what} of {label}")
                continue
            seen.add(language)
            pairs.append((language, value_node))
        if not node.value:
            self.problem(node, f"{label} has an empty '{what}'")
        return pairs

    def _questions(self, node: Node, label: str) -> dict[str, tuple[str, ...]]:
        questions: dict[str, tuple[str, ...]] = {}
        for language, value in self._per_language(node, "questions", label):
            if not isinstance(value, SequenceNode):
                self.problem(value, f"questions of {label} must be a list (per language or plain)")
                continue
            if not value.value:
                self.problem(value, f"{label} has an empty question list for {language!r}")
                continue
            texts = [self._text(item, "question") for item in value.value]
            questions[language] = tuple(text for text in texts if text is not None)
        return questions

    def _answers(self, node: Node, label: str) -> dict[str, str]:
        answers: dict[str, str] = {}
        for language, value in self._per_language(node, "answer", label):
            text = self._text(value, f"answer of {label}")
            if text is not None:
                answers[language] = text
        return answers
