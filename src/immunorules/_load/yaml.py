"""Safe YAML reading that keeps line numbers and never constructs objects.

Documents are composed into nodes with PyYAML's safe composer and converted here by hand: only
the plain JSON-like tags (map, seq, str, int, float, bool, null, and timestamps kept as text)
are accepted, so a ``!!python/...`` tag is reported, never executed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["YamlDocument", "YamlProblem", "parse_yaml"]

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + name for name in ("str", "int", "float", "bool", "null"))
_MAX_NODES = 200_000


@dataclass(frozen=True, slots=True)
class YamlProblem:
    line: int | None
    path: str
    message: str


@dataclass(slots=True)
class YamlDocument:
    """Plain Python data plus the line of every JSON path in it."""

    data: Any
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[YamlProblem] = field(default_factory=list)

    def line(self, path: str) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = _parent(path)
        return None


def parse_yaml(text: str) -> YamlDocument:
    """Parse one YAML document safely; syntax errors and unsafe tags become problems."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        return YamlDocument(
            None, problems=[YamlProblem(line, "$", f"YAML syntax error: {message}")]
        )
    except yaml.YAMLError as exc:
        return YamlDocument(None, problems=[YamlProblem(None, "$", f"YAML error: {exc}")])
    document = YamlDocument(None)
    if node is not None:
        document.data = _Converter(document).convert(node, "$")
    return document


class _Converter:
    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.constructor = SafeConstructor()
        self.active: set[int] = set()
        self.count = 0

    def problem(self, node: Node, path: str, message: str) -> None:
        self.document.problems.append(YamlProblem(node.start_mark.line + 1, path, message))

    def convert(self, node: Node, path: str) -> Any:
        self.document.lines.setdefault(path, node.start_mark.line + 1)
        self.count += 1
        if self.count > _MAX_NODES:
            if self.count == _MAX_NODES + 1:
                self.problem(node, path, f"document too large (more than {_MAX_NODES} nodes)")
            return None
        if id(node) in self.active:
            self.problem(node, path, "recursive YAML alias")
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode) and node.tag == _TAG + "seq":
                return [self.convert(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode) and node.tag == _TAG + "map":
                return self.mapping(node, path)
            self.problem(node, path, _tag_message(node.tag))
            return None
        finally:
            self.active.discard(id(node))

    def scalar(self, node: ScalarNode, path: str) -> Any:
        if node.tag == _TAG + "timestamp":
            return node.value
        if node.tag not in _SCALAR_TAGS:
            self.problem(node, path, _tag_message(node.tag))
            return None
        try:
            return self.constructor.construct_object(node)
        except (ConstructorError, ValueError) as exc:
            self.problem(node, path, f"invalid {node.tag.removeprefix(_TAG)} value: {exc}")
            return None

    def mapping(self, node: MappingNode, path: str) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, path, "mapping keys must be plain scalars")
                continue
            key = self.scalar(key_node, path)
            if key is None and key_node.tag != _TAG + "null":
                continue
            child = child_path(path, key)
            if key in result:
                self.problem(key_node, child, f"duplicate key {key!r}")
                continue
            self.document.lines[child] = key_node.start_mark.line + 1
            result[key] = self.convert(value_node, child)
        return result


def child_path(path: str, key: object) -> str:
    """The JSON path of ``key`` under ``path``: ``$.rules`` or ``$['odd key']``."""
    text = str(key)
    if text.isidentifier():
        return f"{path}.{text}"
    return f"{path}[{text!r}]"


def _parent(path: str) -> str:
    if path == "$":
        return ""
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else "$"


def _tag_message(tag: str) -> str:
    return (
        f"YAML tag {tag.replace(_TAG, '!!')!r} is not allowed: rule files hold plain data only "
        "(mappings, lists, strings, numbers, booleans, null)"
    )
