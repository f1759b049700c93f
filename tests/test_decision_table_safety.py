"""The decision table shows untrusted rule-file text (titles, evidence keys) as text: its
Markdown, rendered by a real CommonMark renderer, and its HTML carry no live markup."""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

import immunorules as ir

from .conftest import rule

TITLES = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](https://evil.example) ![x](https://evil.example/x.png) `code` *em* a|b \\ &amp; ~~s~~",
]
EVIL_KEY = "E<svg onload=alert(1)>"


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> ir.DecisionTable:
    folder = tmp_path_factory.mktemp("evil")
    rules = []
    for index, title in enumerate(TITLES):
        item = rule(f"EVIL-{index}", {"advise": ["hbv_screen"]}, {"condition": "psoriasis"})
        item["title"] = title
        item["evidence"] = [EVIL_KEY]
        rules.append(item)
    rules[0]["when"] = {"prior_lines_of_therapy": {"max": 1}}  # "<= 1" made by immunorules
    evidence = {EVIL_KEY: {"citation": "A source"}}
    (folder / "rules.yaml").write_text(yaml.safe_dump({"evidence": evidence, "rules": rules}))
    return ir.load_rules(folder, engine="native").decision_table()


class _Tags(HTMLParser):
    """The element names and attributes in an HTML fragment, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parsed(fragment: str) -> _Tags:
    parser = _Tags()
    parser.feed(fragment)
    return parser


def _commonmark(text: str) -> str:
    rendered: str = MarkdownIt("commonmark").enable("table").render(text)
    return rendered


def test_markdown_renders_titles_and_keys_as_text(table: ir.DecisionTable) -> None:
    rendered = _commonmark(table._repr_markdown_())
    parsed = _parsed(rendered)
    assert set(parsed.tags) <= {"table", "thead", "tbody", "tr", "th", "td", "code", "br"}
    assert not {"src", "onerror", "onload", "href"} & set(parsed.attributes)
    text = "".join(parsed.text)
    for title in TITLES:
        assert title in text  # shown exactly as written
    assert EVIL_KEY in text and "<= 1" in text
    rows = re.findall(r"<tr>(.*?)</tr>", rendered, re.S)
    assert len(rows) == 1 + len(TITLES)
    assert len({row.count("<t") for row in rows}) == 1  # no cell split or swallowed


def test_to_markdown_is_the_notebook_markdown(table: ir.DecisionTable) -> None:
    assert table.to_markdown() == table._repr_markdown_()
    assert "<script>" not in table.to_markdown() and "&lt;script&gt;" in table.to_markdown()


def test_html_is_self_contained_and_escaped(table: ir.DecisionTable) -> None:
    fragment = table._repr_html_()
    assert fragment == table.to_html()
    assert fragment.startswith('<div class="ir-root ir-decision-table"><style>')
    assert ir.NOT_FOR_CLINICAL_USE.split(".")[0] in fragment
    assert "http" not in fragment.replace("https://evil.example", "")  # nothing external
    parsed = _parsed(fragment)
    assert {"script", "img", "svg", "a"}.isdisjoint(parsed.tags)
    assert not {"src", "onerror", "onload", "href"} & set(parsed.attributes)
    text = "".join(parsed.text)
    for title in TITLES:
        assert title in text
    assert EVIL_KEY in text
    assert parsed.tags.count("tr") == 1 + len(TITLES)
    assert "<th>prior_lines_of_therapy</th>" in fragment and "&lt;= 1" in fragment


def test_to_frame(table: ir.DecisionTable) -> None:
    import pandas as pd

    frame = table.to_frame()
    assert list(frame.columns) == [
        "rule_id", "title", "status", "area", "condition", "prior_lines_of_therapy",
        "suggest", "flag", "avoid", "advise", "evidence", "file", "line",
    ]  # fmt: skip
    assert list(frame["rule_id"]) == ["EVIL-0", "EVIL-1", "EVIL-2"]
    assert list(frame["title"]) == TITLES
    first = frame.iloc[0]
    assert first["prior_lines_of_therapy"] == "<= 1" and pd.isna(first["condition"])
    assert first["advise"] == "hbv_screen" and first["evidence"] == EVIL_KEY
    assert str(frame["line"].dtype) == "Int64" and int(first["line"]) > 1
    assert Path(first["file"]).name == "rules.yaml"


def test_to_frame_without_pandas_says_how_to_get_it(
    table: ir.DecisionTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'immunorules\[pandas\]'"):
        table.to_frame()
