"""Safe YAML reading that keeps line numbers and never constructs objects.

The document is read as a stream of parser events (libyaml's parser when PyYAML has it) and
turned into plain data here, without PyYAML's composer or constructor: only the plain JSON-like
tags (map, seq, str, int, float, bool, null, and timestamps kept as text) are accepted, so a
``!!python/...`` tag is reported, never executed.

Reading is bounded, so that a hostile or broken file costs a problem, not the machine: the text
may have at most ``MAX_CHARS`` characters, the document at most ``MAX_NODES`` nodes (counting
every node an alias repeats; reading stops there) and at most ``MAX_DEPTH`` levels of nesting
(deeper content is passed over, and reading stops at 512 levels); integers must fit in 64 bits.
Nothing recurses, whatever the nesting. A scalar that cannot be read (a refused tag, a number
too large or malformed) is left out of its mapping, as if absent, with a problem at its path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import ScalarNode

from .._errors import shown

__all__ = ["MAX_CHARS", "MAX_DEPTH", "MAX_NODES", "YamlDocument", "YamlProblem", "parse_yaml"]

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + name for name in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP = _TAG + "seq", _TAG + "map"

#: The most characters one rule file may have (a file of 20,000 ordinary rules has ~10 MB).
MAX_CHARS = 64 * 1024 * 1024
#: The most YAML nodes (scalars, lists, mappings, and the nodes each alias repeats) in one file.
MAX_NODES = 3_000_000
#: The most levels of lists and mappings inside one another (rule files need fewer than 10).
MAX_DEPTH = 64
_STOP_DEPTH = 512  # nesting at which reading stops altogether
_MAX_INT_CHARS = 64
_MAX_INT = 2**63

# The libyaml parser when PyYAML was built with it (about 20 times faster), else PyYAML's own.
_Loader: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


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
    """Parse one YAML document safely; syntax errors, unsafe tags and documents too large or
    too deep to read become problems."""
    if len(text) > MAX_CHARS:
        return YamlDocument(
            None,
            problems=[
                YamlProblem(
                    None,
                    "$",
                    f"file too large: {len(text):,} characters, more than the {MAX_CHARS:,} a "
                    "rule file may have; split it into several files",
                )
            ],
        )
    builder = _Builder()
    try:
        builder.build(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        return YamlDocument(
            None, problems=[YamlProblem(line, "$", f"YAML syntax error: {message}")]
        )
    except yaml.YAMLError as exc:
        return YamlDocument(None, problems=[YamlProblem(None, "$", f"YAML error: {exc}")])
    except _TooDeep:
        return YamlDocument(None, problems=builder.document.problems)  # it says where
    except _TooLarge as exc:
        problem = YamlProblem(
            exc.line,
            "$",
            f"document too large: more than {MAX_NODES:,} YAML nodes (aliases count every "
            "node they repeat); reading stopped here. Split it into several files",
        )
        return YamlDocument(None, problems=[*builder.document.problems, problem])
    return builder.document


class _TooLarge(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _TooDeep(Exception):
    """Nesting far past MAX_DEPTH: reading stops (PyYAML's own scanner slows down with every
    level, and libyaml stops at 1,000 levels anyway)."""


# -- building data from parser events ---------------------------------------------------------

# What a mapping expects next.
_KEY, _VALUE, _SKIP_VALUE = 0, 1, 2
# The entries of the anchor log: how to repeat what happened under an anchored node.
_SETDEFAULT, _ASSIGN, _PROBLEM = 0, 1, 2


class _Anchor:
    """What an anchored node was converted to, so that an alias can repeat it."""

    __slots__ = ("count", "line", "log_end", "log_start", "open", "path", "value")

    def __init__(self, path: str, line: int, log_start: int, count: int) -> None:
        self.path = path
        self.line = line
        self.log_start = log_start
        self.log_end = log_start
        self.count = count  # the node count at the start, then the nodes it holds
        self.value: Any = None
        self.open = True


class _Collection:
    __slots__ = ("anchor", "child", "key", "path", "state", "value")

    def __init__(
        self, path: str, value: list[Any] | dict[Any, Any], anchor: _Anchor | None
    ) -> None:
        self.path = path
        self.value = value
        self.anchor = anchor
        self.state = _KEY
        self.key: Any = None
        self.child = ""


class _Skip:
    """A node whose content is passed over (a refused tag, too deep, or a rejected key)."""

    __slots__ = ("anchor", "deliver", "depth")

    def __init__(self, *, deliver: bool, anchor: _Anchor | None = None) -> None:
        self.depth = 1
        self.deliver = deliver  # give its parent None when done (else it was a mapping key)
        self.anchor = anchor  # the node's own anchor: an alias repeats its problem


class _Builder:
    def __init__(self) -> None:
        self.document = YamlDocument(None)
        self.lines = self.document.lines
        self.stack: list[_Collection | _Skip] = []
        self.depth = 0  # collections on the stack
        self.count = 0
        self.anchors: dict[str, _Anchor | None] = {}  # None: passed over, an alias gives null
        self.open_anchors = 0
        self.log: list[tuple[int, str, int, str]] = []
        self.constructor = SafeConstructor()
        self.documents = 0
        self.first_mark: Any = None

    # -- driving ---------------------------------------------------------------------------

    def build(self, text: str) -> None:
        for event in _events(text):
            if isinstance(event, NodeEvent):
                self.count += 1
                if self.count > MAX_NODES:
                    raise _TooLarge(_line(event))
                top = self.stack[-1] if self.stack else None
                if isinstance(top, _Skip):
                    self.skip(top, event)
                else:
                    self.node(top, event)
            elif isinstance(event, SequenceEndEvent | MappingEndEvent):
                top = self.stack[-1]
                if isinstance(top, _Skip):
                    self.skip(top, event)
                else:
                    self.close(top)
            elif isinstance(event, DocumentStartEvent):
                self.documents += 1
                if self.documents > 1:
                    raise ComposerError(
                        "expected a single document in the stream",
                        self.first_mark,
                        "but found another document",
                        _mark(event),
                    )
                self.first_mark = event.start_mark

    def skip(self, top: _Skip, event: Event) -> None:
        if isinstance(event, SequenceStartEvent | MappingStartEvent):
            top.depth += 1
            if self.depth + top.depth > _STOP_DEPTH:
                raise _TooDeep
        elif isinstance(event, SequenceEndEvent | MappingEndEvent):
            top.depth -= 1
            if top.depth == 0:
                self.stack.pop()
                self.finish(top.anchor, None)
                if top.deliver:
                    self.deliver(None)
        if isinstance(event, NodeEvent) and _defines_anchor(event):
            self.define(event, None)

    # -- nodes -----------------------------------------------------------------------------

    def node(self, top: _Collection | None, event: Event) -> None:
        assert isinstance(event, NodeEvent)
        line = _line(event)
        if top is not None and isinstance(top.value, dict):
            if top.state == _KEY:
                self.key(top, event, line)
                return
            if top.state == _SKIP_VALUE:
                top.state = _KEY
                if _defines_anchor(event):
                    self.define(event, None)
                if isinstance(event, SequenceStartEvent | MappingStartEvent):
                    self.stack.append(_Skip(deliver=False))
                return
            path = top.child
        elif top is not None:
            path = f"{top.path}[{len(top.value)}]"
        else:
            path = "$"
        if isinstance(event, AliasEvent):
            self.alias(event, path, line)
            return
        self.set_line(path, line, _SETDEFAULT)
        if isinstance(event, ScalarEvent):
            tag = self.scalar_tag(event)
            if event.anchor is not None:
                anchor = self.define(event, _Anchor(path, line, len(self.log), self.count - 1))
            before = len(self.document.problems)
            value = self.scalar(tag, event.value, path, line)
            if event.anchor is not None:
                self.finish(anchor, value)
            unreadable = len(self.document.problems) > before
            if unreadable and top is not None and isinstance(top.value, dict):
                # A scalar that cannot be read is left out of its mapping, as if absent (the
                # problem, at its path, says why), rather than read as null.
                top.state = _KEY
                return
            self.deliver(value)
            return
        assert isinstance(event, SequenceStartEvent | MappingStartEvent)
        wanted = _SEQ if isinstance(event, SequenceStartEvent) else _MAP
        tag = wanted if event.tag in (None, "!") else event.tag
        anchor = None
        if event.anchor is not None:
            anchor = self.define(event, _Anchor(path, line, len(self.log), self.count - 1))
        if tag != wanted or self.depth >= MAX_DEPTH:
            if tag != wanted:
                self.problem(path, line, _tag_message(tag))
            else:
                self.problem(
                    path,
                    line,
                    f"nested too deeply: more than {MAX_DEPTH} levels of lists and mappings",
                )
            self.stack.append(_Skip(deliver=True, anchor=anchor))
            return
        self.stack.append(_Collection(path, [] if wanted == _SEQ else {}, anchor))
        self.depth += 1

    def start_skip(self, event: NodeEvent, *, deliver: bool) -> None:
        if event.anchor is not None:
            self.define(event, None)
        self.stack.append(_Skip(deliver=deliver))

    def close(self, top: _Collection) -> None:
        self.stack.pop()
        self.depth -= 1
        if top.anchor is not None:
            self.finish(top.anchor, top.value)
        self.deliver(top.value)

    def deliver(self, value: Any) -> None:
        if not self.stack:
            self.document.data = value
            return
        top = self.stack[-1]
        assert isinstance(top, _Collection)
        if isinstance(top.value, list):
            top.value.append(value)
        else:
            top.value[top.key] = value
            top.state = _KEY

    def key(self, top: _Collection, event: NodeEvent, line: int) -> None:
        assert isinstance(top.value, dict)
        top.state = _SKIP_VALUE
        if isinstance(event, AliasEvent):
            target = self.target(event)
            if target is None or target.open or isinstance(target.value, list | dict):
                line = target.line if target is not None else line
                self.problem(top.path, line, "mapping keys must be plain scalars")
                return
            key, tag = target.value, None
        elif isinstance(event, ScalarEvent):
            tag = self.scalar_tag(event)
            key = self.scalar(tag, event.value, top.path, line)
            if event.anchor is not None:
                anchor = self.define(event, _Anchor(top.path, line, len(self.log), self.count - 1))
                self.finish(anchor, key)
        else:
            self.problem(top.path, line, "mapping keys must be plain scalars")
            self.start_skip(event, deliver=False)
            return
        if key is None and tag != _TAG + "null":
            return
        child = child_path(top.path, key)
        if key in top.value:
            self.problem(child, line, f"duplicate key {shown(key)}")
            return
        self.set_line(child, line, _ASSIGN)
        top.key, top.child, top.state = key, child, _VALUE

    # -- anchors and aliases ---------------------------------------------------------------

    def define(self, event: NodeEvent, anchor: _Anchor | None) -> _Anchor | None:
        name = event.anchor
        assert name is not None
        if name in self.anchors:
            first = self.anchors[name]
            where = "" if first is None else f" (first defined on line {first.line})"
            raise ComposerError(None, None, f"found duplicate anchor {name!r}{where}", _mark(event))
        self.anchors[name] = anchor
        if anchor is not None:
            self.open_anchors += 1
        return anchor

    def finish(self, anchor: _Anchor | None, value: Any) -> None:
        if anchor is None:
            return
        anchor.value = value
        anchor.open = False
        anchor.log_end = len(self.log)
        anchor.count = self.count - anchor.count
        self.open_anchors -= 1

    def target(self, event: AliasEvent) -> _Anchor | None:
        name = event.anchor
        if name not in self.anchors:
            raise ComposerError(None, None, f"found undefined alias {name!r}", _mark(event))
        return self.anchors[name]

    def alias(self, event: AliasEvent, path: str, line: int) -> None:
        target = self.target(event)
        if target is None:
            self.set_line(path, line, _SETDEFAULT)
            self.deliver(None)
            return
        self.set_line(path, target.line, _SETDEFAULT)
        if target.open:
            self.problem(path, target.line, "recursive YAML alias")
            self.deliver(None)
            return
        self.count += target.count
        if self.count > MAX_NODES:
            raise _TooLarge(line)
        start = len(target.path)
        for kind, old, old_line, message in self.log[target.log_start : target.log_end]:
            new = path + old[start:]
            if kind == _PROBLEM:
                self.problem(new, old_line, message)
            else:
                self.set_line(new, old_line, kind)
        self.deliver(target.value)

    # -- bookkeeping -----------------------------------------------------------------------

    def set_line(self, path: str, line: int, kind: int) -> None:
        if kind == _ASSIGN:
            self.lines[path] = line
        else:
            self.lines.setdefault(path, line)
        if self.open_anchors:
            self.log.append((kind, path, line, ""))

    def problem(self, path: str, line: int, message: str) -> None:
        self.document.problems.append(YamlProblem(line, path, message))
        if self.open_anchors:
            self.log.append((_PROBLEM, path, line, message))

    # -- scalars ---------------------------------------------------------------------------

    def scalar_tag(self, event: ScalarEvent) -> str:
        if event.tag is None or event.tag == "!":
            tag: str = _RESOLVER.resolve(  # type: ignore[no-untyped-call]
                ScalarNode, event.value, event.implicit
            )
            return tag
        return event.tag

    def scalar(self, tag: str, value: str, path: str, line: int) -> Any:
        if tag == _TAG + "str" or tag == _TAG + "timestamp":
            return value
        if tag not in _SCALAR_TAGS:
            self.problem(path, line, _tag_message(tag))
            return None
        kind = tag.removeprefix(_TAG)
        if kind == "int" and len(value.replace("_", "").lstrip("+-")) > _MAX_INT_CHARS:
            self.problem(
                path,
                line,
                f"integer too large: {shown(value)} (rule files need no integer beyond 64 bits)",
            )
            return None
        try:
            if kind == "bool":
                return SafeConstructor.bool_values[value.lower()]
            if kind == "null":
                return None
            node = ScalarNode(tag, value)
            if kind == "int":
                number: int = self.constructor.construct_yaml_int(node)
                if abs(number) >= _MAX_INT:
                    self.problem(
                        path,
                        line,
                        f"integer too large: {shown(value)} (rule files "
                        "need no integer beyond 64 bits)",
                    )
                    return None
                return number
            return self.constructor.construct_yaml_float(node)
        except Exception:
            self.problem(path, line, f"invalid {kind} value: {shown(value)}")
            return None


_RESOLVER = yaml.resolver.Resolver()


def _defines_anchor(event: NodeEvent) -> bool:
    return not isinstance(event, AliasEvent) and event.anchor is not None


def _mark(event: Event) -> Any:
    """The event's start mark (PyYAML's or libyaml's ``Mark``)."""
    return event.start_mark


def _line(event: Event) -> int:
    line: int = _mark(event).line
    return line + 1


def _events(text: str) -> Iterator[Event]:
    loader = _Loader(text)
    try:
        while loader.check_event():
            yield loader.get_event()
    finally:
        loader.dispose()


# -- paths and messages -----------------------------------------------------------------------

_MAX_KEY_IN_PATH = 60


def child_path(path: str, key: object) -> str:
    """The JSON path of ``key`` under ``path``: ``$.rules`` or ``$['odd key']`` (a very long
    key is shortened, as :func:`shown` shortens it)."""
    if isinstance(key, str) and len(key) > _MAX_KEY_IN_PATH:
        return f"{path}[{shown(key, _MAX_KEY_IN_PATH)}]"
    text = key if isinstance(key, str) else shown(key, _MAX_KEY_IN_PATH)
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
        f"YAML tag {shown(tag.replace(_TAG, '!!'))} is not allowed: rule files hold plain data "
        "only (mappings, lists, strings, numbers, booleans, null)"
    )
