"""The notebook HTML holds its own against JupyterLab's stylesheet.

JupyterLab styles every table in an output with ``.jp-RenderedHTMLCommon`` rules: cells
right-aligned by ``:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td`` (specificity 0,2,1),
vertically centred, unbordered, in a fixed-layout table; lists get bullets and padding. Our
scoped ``<style>`` comes later in the page, but a later rule only wins at equal or higher
specificity, so the rules that matter must be strictly more specific than JupyterLab's. These
tests count specificity as CSS Selectors Level 4 does, so they need no browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest

import immunorules as ir
from immunorules._render.html import CSS

Specificity = tuple[int, int, int]

# JupyterLab 4's rules for output tables and lists (packages/rendermime, base.css).
JUPYTERLAB_CELL_RULES = {
    "td": (
        ".jp-RenderedHTMLCommon td",
        ":not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td",
    ),
    "th": (
        ".jp-RenderedHTMLCommon th",
        ":not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon th",
    ),
}
JUPYTERLAB_LIST_RULES = (
    ".jp-RenderedHTMLCommon ul",
    ".jp-RenderedHTMLCommon ul:not(.list-inline)",
    ".jp-RenderedHTMLCommon ul ul",
)
JUPYTERLAB_TABLE_RULE = ".jp-RenderedHTMLCommon table"

TRANSPLANT_MELANOMA = {
    "immune_activity": "underactive",
    "condition": "melanoma",
    "transplant_status": "solid_organ_recipient",
}


def _closing(text: str, start: int) -> int:
    """The index of the parenthesis that closes the one opened just before ``start``."""
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced parentheses in {text!r}")


def specificity(selector: str) -> Specificity:
    """(ids, classes/attributes/pseudo-classes, types/pseudo-elements) of one complex selector.

    ``:not()``, ``:is()`` and ``:has()`` count as their most specific argument, ``:where()`` as
    nothing, ``*`` and combinators as nothing.
    """
    a = b = c = 0
    i = 0
    while i < len(selector):
        ch = selector[i]
        if ch in " >+~*,":
            i += 1
        elif selector.startswith("::", i):
            name = re.match(r"::[\w-]+", selector[i:])
            assert name, selector
            c += 1
            i += len(name.group())
        elif ch == ":":
            name = re.match(r":([\w-]+)(\()?", selector[i:])
            assert name, selector
            i += len(name.group())
            if name.group(2):
                end = _closing(selector, i)
                argument = selector[i:end]
                i = end + 1
                if name.group(1) in {"not", "is", "has"}:
                    inner = max(specificity(part.strip()) for part in argument.split(","))
                    a, b, c = a + inner[0], b + inner[1], c + inner[2]
                    continue
                if name.group(1) == "where":
                    continue
            b += 1
        elif ch == "[":
            b += 1
            i = selector.index("]", i) + 1
        elif ch in "#.":
            name = re.match(r"[#.][\w-]+", selector[i:])
            assert name, selector
            if ch == "#":
                a += 1
            else:
                b += 1
            i += len(name.group())
        else:
            name = re.match(r"[\w-]+", selector[i:])
            assert name, f"cannot read {selector[i:]!r} in {selector!r}"
            c += 1
            i += len(name.group())
    return a, b, c


def css_rules(css: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(selector, declarations) for every selector of every rule of a flat stylesheet."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    assert "@" not in css, "the parser below reads flat stylesheets only"
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations: dict[str, str] = {}
        for declaration in body.split(";"):
            if declaration.strip():
                name, _, value = declaration.partition(":")
                declarations[name.strip()] = " ".join(value.split())
        for selector in selectors.split(","):
            yield " ".join(selector.split()), declarations


def subject(selector: str) -> str:
    """The last compound selector: the element the rule styles."""
    return re.split(r"\s*[ >+~]\s*", selector.strip())[-1]


def targets(selector: str, tag: str, cls: str) -> bool:
    """Whether a selector styles ``tag`` elements inside (or being) an element of class ``cls``."""
    return re.match(rf"{tag}\b", subject(selector)) is not None and f".{cls}" in selector


def winning(tag: str, cls: str, prop: str) -> list[tuple[Specificity, str, str]]:
    """Our rules that set ``prop`` on ``tag`` elements under ``.cls``, most specific first."""
    found = [
        (specificity(selector), selector, declarations[prop])
        for selector, declarations in css_rules(CSS)
        if targets(selector, tag, cls) and prop in declarations
    ]
    return sorted(found, reverse=True)


def test_specificity_is_counted_as_browsers_do() -> None:
    assert specificity(".jp-RenderedHTMLCommon td") == (0, 1, 1)
    assert specificity(":not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td") == (0, 2, 1)
    assert specificity(".ir-root table.ir-table td") == (0, 2, 2)
    assert specificity(".jp-RenderedHTMLCommon tbody tr:nth-child(odd)") == (0, 2, 2)
    assert specificity("#main .a:hover > li::before") == (1, 2, 2)
    assert specificity(":where(.a) :is(.b, #c) *") == (1, 0, 0)
    assert specificity("div.ir-root ul.ir-reasons") == (0, 2, 2)


@pytest.mark.parametrize("cell", ["td", "th"])
def test_table_cells_are_left_aligned_above_jupyterlab(cell: str) -> None:
    aligned = winning(cell, "ir-table", "text-align")
    assert aligned, f"no .ir-table {cell} rule sets text-align"
    strongest, selector, value = aligned[0]
    assert value == "left", (selector, value)
    assert all(v == "left" for _, _, v in aligned), aligned
    for theirs in JUPYTERLAB_CELL_RULES[cell]:
        assert strongest > specificity(theirs), f"{selector!r} loses to {theirs!r}"
    # The same selector also tops the rest of JupyterLab's cell styling.
    declarations: dict[str, str] = {}
    for other, found in css_rules(CSS):
        if other == selector:
            declarations |= found
    assert declarations["vertical-align"] == "top"
    assert declarations["white-space"] == "normal"
    assert declarations["overflow-wrap"] == "anywhere", "long ids must wrap, not be cut"
    assert declarations["border"].startswith("1px solid")


def test_tables_lay_out_predictably_above_jupyterlab() -> None:
    found = [
        (specificity(selector), declarations)
        for selector, declarations in css_rules(CSS)
        if subject(selector).startswith("table.ir-table")
    ]
    assert found
    strongest, declarations = max(found, key=lambda item: item[0])
    assert strongest > specificity(JUPYTERLAB_TABLE_RULE)
    assert declarations["table-layout"] == "fixed"
    assert declarations["width"] == "100%"


def test_reason_lists_have_no_bullets_in_jupyterlab() -> None:
    rules = winning("ul", "ir-reasons", "list-style")
    assert rules and rules[0][2] == "none"
    for theirs in JUPYTERLAB_LIST_RULES:
        assert rules[0][0] > specificity(theirs), theirs


class _Cells(HTMLParser):
    """Every table cell with the classes of the elements around it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set[str]]] = []
        self.cells: list[tuple[str, list[tuple[str, set[str]]]]] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        if tag in {"td", "th"}:
            self.cells.append((tag, list(self.stack)))
        if tag != "br":
            self.stack.append((tag, classes))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1][0] == "style":
            self.styles.append(data)


@pytest.fixture(scope="module")
def bundled() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def test_rendered_tables_are_reached_by_the_selectors(bundled: ir.KnowledgeBase) -> None:
    """Every table cell of every rendering sits where ``.ir-root table.ir-table td`` finds it,
    and each table sits in a root whose kind the column widths are keyed on."""
    renderings = {
        "kb": bundled._repr_html_(),
        "audit": ir.audit(bundled)._repr_html_(),
        "whynot": bundled.why_not(TRANSPLANT_MELANOMA, "immunostimulants")._repr_html_(),
        "result": bundled.evaluate(TRANSPLANT_MELANOMA)._repr_html_(),
    }
    for kind, markup in renderings.items():
        parser = _Cells()
        parser.feed(markup)
        assert parser.styles == [CSS], kind
        if kind != "result":
            assert parser.cells, f"the {kind} rendering has no table to check"
        for _tag, ancestors in parser.cells:
            tables = [classes for tag, classes in ancestors if tag == "table"]
            roots = [classes for tag, classes in ancestors if tag == "div" and "ir-root" in classes]
            assert tables and "ir-table" in tables[-1], (kind, ancestors)
            assert roots and f"ir-{kind}" in roots[0], (kind, ancestors)
