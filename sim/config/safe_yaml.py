"""YAML reading that cannot be made to hang, explode or guess: limits on size, nesting and aliases.

Every config file and every ``--set`` value goes through :func:`load_yaml`:

- the text must be UTF-8 (a binary file is reported as such, with the offending byte's offset);
- the text is at most :data:`~sim.config.limits.MAX_YAML_BYTES` long;
- nesting is at most :data:`~sim.config.limits.MAX_YAML_DEPTH` levels, counted after alias expansion;
- the document, with every alias expanded, has at most :data:`~sim.config.limits.MAX_YAML_NODES` nodes
  (so a "billion laughs" document is refused before anything walks it), and no alias refers to itself;
- a key given twice in one mapping is an error naming both lines (YAML's "last one wins" hides typos);
- a date that does not exist (``2023-02-30``) is an error at its line, not an exception.

Problems raise :class:`YamlProblem`, a ``yaml.MarkedYAMLError`` so callers report file, line and column.
"""

from __future__ import annotations

import datetime
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sim.config.limits import MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES

MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlProblem(yaml.MarkedYAMLError):
    """A document that breaks one of hmsim's YAML rules (limits, duplicate keys, impossible dates)."""


class _Loader(yaml.SafeLoader):
    """SafeLoader with a nesting limit while composing, expansion limits, duplicate-key and date checks."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise YamlProblem(
                    None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue
            if first is not None:
                raise YamlProblem(
                    None,
                    None,
                    f"duplicate key {key!r} (first given on line {first + 1}); give each key once",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: ScalarNode) -> datetime.date | datetime.datetime:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise YamlProblem(
                None, None, f"{node.value!r} is not a valid date ({exc})", node.start_mark
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _check_expansion(root: Node) -> None:
    """Refuse documents whose alias-expanded size or depth exceeds the limits, or whose aliases loop."""
    sizes: dict[int, int] = {}
    heights: dict[int, int] = {}
    active: set[int] = set()

    def children(node: Node) -> list[Node]:
        if isinstance(node, SequenceNode):
            return list(node.value)
        if isinstance(node, MappingNode):
            return [part for pair in node.value for part in pair]
        return []

    def visit(node: Node, level: int) -> None:
        key = id(node)
        if key in sizes:
            if level + heights[key] > MAX_YAML_DEPTH:
                raise YamlProblem(
                    None,
                    None,
                    f"nested deeper than {MAX_YAML_DEPTH} levels (aliases expanded)",
                    node.start_mark,
                )
            return
        if key in active:
            raise YamlProblem(None, None, "an alias refers to a node that contains it", node.start_mark)
        if level > MAX_YAML_DEPTH:
            raise YamlProblem(
                None, None, f"nested deeper than {MAX_YAML_DEPTH} levels (aliases expanded)", node.start_mark
            )
        active.add(key)
        size, height = 1, 1
        for child in children(node):
            visit(child, level + 1)
            size += sizes[id(child)]
            height = max(height, 1 + heights[id(child)])
            if size > MAX_YAML_NODES:
                raise YamlProblem(
                    None,
                    None,
                    f"expands to more than {MAX_YAML_NODES:,} values (aliases expanded); "
                    "hmsim refuses such documents".replace(",", " "),
                    node.start_mark,
                )
        active.discard(key)
        sizes[key], heights[key] = size, height

    visit(root, 1)


def load_yaml(text: str) -> Any:
    """Parse one YAML document under hmsim's limits (see the module docstring)."""
    if len(text) > MAX_YAML_BYTES:
        raise YamlProblem(
            None,
            None,
            f"{len(text):,} characters, more than the {MAX_YAML_BYTES:,} allowed".replace(",", " "),
        )
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _check_expansion(root)
        return loader.construct_document(root)
    except RecursionError:  # a safety net: the depth limit above should make this unreachable
        raise YamlProblem(None, None, "nested too deeply") from None
    finally:
        loader.dispose()


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (a leading BOM allowed); a ``UnicodeDecodeError`` names the byte and its offset."""
    return data.decode("utf-8-sig")


__all__ = ["ComposerError", "ConstructorError", "YamlProblem", "decode_text", "load_yaml"]
