"""YAML limits: alias bombs, deep nesting and oversized files refused with the line; real files pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from faq import KnowledgeBaseError, load_knowledge_base
from faq.bounded_yaml import YamlLimitError, YamlLimits, check_yaml_limits
from tests.faq.faq_samples import LANGUAGES, write

BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_billion_laughs_is_refused_at_the_line_that_goes_over() -> None:
    with pytest.raises(YamlLimitError) as error:
        check_yaml_limits(BILLION_LAUGHS, YamlLimits())
    assert error.value.line == 6  # f: 9 × 9^5 nodes is where 100,000 is passed
    assert "billion laughs" in str(error.value)


@pytest.mark.parametrize("text, fragment", [
    ("- " * 100_000 + "x\n", "nested more than 64 levels"),
    ("a:\n" + "".join(" " * level + "- \n" for level in range(1, 70)), "nested more than 64 levels"),
    ("a: &a [1, *a]\n", "recursive alias"),
    ("deep: &d " + "[" * 40 + "x" + "]" * 40 + "\nwrap: " + "[" * 30 + "*d" + "]" * 30 + "\n",
     "through an alias"),
])
def test_deep_and_recursive_documents_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(YamlLimitError, match=fragment) as error:
        check_yaml_limits(text, YamlLimits())
    assert error.value.line is not None


def test_an_oversized_text_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(YamlLimitError, match="over the limit of 100 bytes") as error:
        check_yaml_limits("a: " + "x" * 200 + "\n", YamlLimits(max_bytes=100))
    assert error.value.line is None


def test_ordinary_aliases_and_merge_keys_pass() -> None:
    text = ("defaults: &defaults {timeout: 30, retries: 3}\nprod:\n  <<: *defaults\n  host: a\n"
            "test:\n  <<: *defaults\n  host: b\nlist: &l [1, 2, 3]\nagain: *l\n")
    check_yaml_limits(text, YamlLimits())


@pytest.mark.parametrize("text, fragment", [
    (BILLION_LAUGHS, "aliases expand to more than"),
    ("entries:\n" + "  " + "- " * 5000 + "x\n", "nested more than"),
])
def test_a_knowledge_base_file_over_the_limits_is_a_problem_naming_file_and_line(tmp_path: Path, text: str,
                                                                                 fragment: str) -> None:
    file = write(tmp_path, "kb.yaml", text)
    with pytest.raises(KnowledgeBaseError) as error:
        load_knowledge_base(tmp_path, LANGUAGES)
    [problem] = error.value.problems
    assert problem.file == file and problem.line is not None and fragment in problem.message
    assert str(problem).startswith(f"{file}:{problem.line}: refused: ")


# --- the counts agree with a naive walk of the composed document ------------------------------------------

def _walk(node: yaml.Node, seen: set[int]) -> tuple[int, int]:
    """(nodes once expanded, nesting depth) by walking every alias for real; `seen` collects distinct nodes."""
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        return 1, 0
    children = [child for pair in node.value for child in pair] if isinstance(node, yaml.MappingNode) else node.value
    walked = [_walk(child, seen) for child in children]
    return 1 + sum(size for size, _ in walked), 1 + max((depth for _, depth in walked), default=0)


def _shared_trees() -> st.SearchStrategy[Any]:
    leaves = st.one_of(st.integers(0, 9), st.sampled_from(["a", "b", "ü"]))
    trees = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.sampled_from("kxyz"), inner, max_size=3)),
                         max_leaves=12)

    @st.composite
    def with_sharing(draw: st.DrawFn) -> Any:
        parts = draw(st.lists(trees.filter(lambda tree: isinstance(tree, (list, dict))), min_size=1, max_size=4))
        # The same objects again: safe_dump writes them once with an anchor, then as aliases.
        return [draw(st.sampled_from(parts)) for _ in range(draw(st.integers(1, 8)))]

    return with_sharing()


@settings(max_examples=300, deadline=None)
@given(_shared_trees())
def test_limits_hold_exactly_at_the_expanded_size_and_depth(data: Any) -> None:
    text = yaml.safe_dump(data)
    seen: set[int] = set()
    expanded, depth = _walk(yaml.compose(text, Loader=yaml.SafeLoader), seen)
    alias_nodes = expanded - len(seen)
    check_yaml_limits(text, YamlLimits(max_depth=depth, max_alias_nodes=alias_nodes))
    if alias_nodes:
        with pytest.raises(YamlLimitError, match="aliases expand"):
            check_yaml_limits(text, YamlLimits(max_depth=depth, max_alias_nodes=alias_nodes - 1))
    with pytest.raises(YamlLimitError, match="nested more than"):
        check_yaml_limits(text, YamlLimits(max_depth=depth - 1, max_alias_nodes=alias_nodes))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list("ab:-[]{}&*, \n") + ["&a ", "*a", "&b ", "*b", "  "]), max_size=60).map("".join))
def test_any_text_passes_or_raises_only_yaml_or_limit_errors(text: str) -> None:
    try:
        check_yaml_limits(text, YamlLimits(max_depth=5, max_alias_nodes=20))
    except (YamlLimitError, yaml.YAMLError):
        pass
