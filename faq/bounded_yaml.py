"""Bounds on what a YAML file may make us build: its size, its nesting depth, what its aliases expand to.

YAML aliases repeat a node by reference, so ten lines can stand for a billion nodes (the "billion
laughs"): composing stays small, but whatever walks or constructs the result does not. Deep nesting
overflows the recursive composer of pure-Python PyYAML. `check_yaml_limits` looks at the parser's
event stream first (no recursion, no expansion, about a tenth of the cost of composing) and refuses
such a file with the line where it goes over; only then does the caller compose or load it.

Used for every YAML file Helpline loads: the knowledge base (faq/loader.py), the configuration
(bot/settings.py), the bot texts (router/texts.py), the vocabularies (router/intents.py) and the saved
replies (channels/slack/replies.py); `load_yaml_file` is the one way for a file to be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class YamlLimits:
    max_bytes: int = 1024 * 1024
    max_depth: int = 64  # nested mappings and lists; hand-written files use fewer than ten
    max_alias_nodes: int = 100_000  # nodes that aliases add once expanded, in one document


class YamlLimitError(ValueError):
    """The text is over one of the limits; `line` (1-based) is where, when known."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(slots=True)
class _Open:
    """A mapping or list whose end the parser has not reached yet."""

    anchor: str | None
    size: int = 1  # nodes in it once expanded, itself included
    height: int = 1  # levels of nesting in it once expanded, itself included


def check_yaml_limits(text: str, limits: YamlLimits) -> None:
    """Raise YamlLimitError when `text` is over `limits`; YAML syntax errors raise yaml.YAMLError as usual."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise YamlLimitError(None, f"the file is {size} bytes, over the limit of {limits.max_bytes} bytes")
    open_nodes: list[_Open] = []
    anchored: dict[str, tuple[int, int]] = {}  # anchor → (size, height) of its finished node
    alias_nodes = 0
    for event in yaml.parse(text, Loader=_LOADER):
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.DocumentStartEvent):
            anchored.clear()  # anchors belong to one document
            alias_nodes = 0
            continue
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            open_nodes.append(_Open(event.anchor))
            if len(open_nodes) > limits.max_depth:
                raise YamlLimitError(line, f"nested more than {limits.max_depth} levels deep")
            continue
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            node = open_nodes.pop()
            _finish(node.anchor, node.size, node.height, anchored, open_nodes, line, limits)
            continue
        if isinstance(event, yaml.ScalarEvent):
            _finish(event.anchor, 1, 0, anchored, open_nodes, line, limits)
            continue
        if isinstance(event, yaml.AliasEvent):
            anchor = event.anchor or ""
            if any(node.anchor == anchor for node in open_nodes):
                raise YamlLimitError(line, f"alias *{anchor} refers to a node that contains it (recursive alias)")
            expanded, height = anchored.get(anchor, (1, 0))  # an unknown anchor: the composer says so
            alias_nodes += expanded
            if alias_nodes > limits.max_alias_nodes:
                raise YamlLimitError(line, f"aliases expand to more than {limits.max_alias_nodes} nodes "
                                           f"(a repeated alias, as in a 'billion laughs' file)")
            _finish(None, expanded, height, anchored, open_nodes, line, limits)


def _finish(anchor: str | None, size: int, height: int, anchored: dict[str, tuple[int, int]],
            open_nodes: list[_Open], line: int | None, limits: YamlLimits) -> None:
    """Count a finished node into the node that holds it."""
    if anchor:
        anchored[anchor] = (size, height)
    if not open_nodes:
        return
    parent = open_nodes[-1]
    parent.size += size
    parent.height = max(parent.height, height + 1)
    if len(open_nodes) - 1 + parent.height > limits.max_depth:  # an alias can bring its own depth
        raise YamlLimitError(line, f"nested more than {limits.max_depth} levels deep (through an alias)")


def load_yaml_file(path: Path, limits: YamlLimits | None = None) -> Any:
    """The one document of the YAML file at `path`, after the limits are checked.

    Raises YamlLimitError (size, depth, aliases) and yaml.YAMLError naming `path` and the line, OSError
    and UnicodeDecodeError as reading does. The size is checked before the file is read, so a huge file
    costs nothing.
    """
    limits = limits or YamlLimits()
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise YamlLimitError(None, f"{path}: the file is {size} bytes, over the limit of {limits.max_bytes} bytes")
    text = path.read_text(encoding="utf-8")
    try:
        check_yaml_limits(text, limits)
    except YamlLimitError as error:
        raise YamlLimitError(error.line, f"{path}: {error.message}") from None
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - the C or pure-Python *safe* loader
