"""Rendering (text, Markdown, HTML, JSON) of results, why-not answers, knowledge bases, audits."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

import immunorules as ir
from immunorules._render import text as _render
from immunorules._render.html import audit_html

from .bundled import CONDITIONS, vocabulary
from .conftest import MakeKB, rule

TRANSPLANT_MELANOMA = {
    "immune_activity": "underactive",
    "condition": "melanoma",
    "transplant_status": "solid_organ_recipient",
}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Checker(HTMLParser):
    """Checks that tags are balanced and collects tags, attributes and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> after {self.stack}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def flat(text: str) -> str:
    """Text with its line wrapping undone."""
    return " ".join(text.split())


def parse_html(markup: str) -> _Checker:
    checker = _Checker()
    checker.feed(markup)
    checker.close()
    assert checker.stack == [], f"unclosed tags: {checker.stack}"
    return checker


def assert_self_contained(markup: str) -> _Checker:
    checker = parse_html(markup)
    assert not {"script", "link", "img", "iframe", "object"} & set(checker.tags)
    assert "@import" not in markup and "url(" not in markup
    for name, value in checker.attrs:
        assert name != "src" and not name.startswith("on"), (name, value)
        if name == "href":
            assert value is not None and value.startswith(("https://", "http://")), value
    return checker


@pytest.fixture
def kb(make_kb: MakeKB) -> ir.KnowledgeBase:
    """A transplant recipient with melanoma: a conflict, a flag, an avoid, both advisory kinds."""
    return make_kb(
        [
            rule(
                "MEL-ICI",
                {
                    "suggest": [
                        {
                            "category": "immunostimulants",
                            "tier": "first_line",
                            "subcategories": ["checkpoint_inhibitors"],
                        }
                    ],
                    "avoid": [{"subcategory": "interferons"}],
                    "advise": ["irae_risk"],
                },
                {"condition": "melanoma"},
            ),
            rule(
                "SOT-CANCER",
                {
                    "suggest": [
                        {
                            "category": "immunosuppressants",
                            "tier": "first_line",
                            "subcategories": ["mtor_inhibitors"],
                        }
                    ],
                    "flag": ["immunostimulants"],
                    "advise": ["multidisciplinary_review", "allograft_rejection_risk"],
                },
                {"transplant_status": "solid_organ_recipient", "disease_area": "oncology"},
            ),
        ]
    )


def test_result_text_shows_everything_a_reader_needs(kb: ir.KnowledgeBase) -> None:
    text = kb.evaluate(TRANSPLANT_MELANOMA).explain()
    assert text.startswith("Research prototype - NOT FOR CLINICAL USE.")
    assert "Profile: Melanoma (solid tumour oncology)" in text
    assert "transplant_status=solid_organ_recipient" in text
    assert "CONFLICT (resolved by a flag)" in text
    assert "* Immunosuppressants (suppress): first line" in text
    assert "* Immunostimulants (stimulate): FLAGGED - requires specialist review" in text
    assert "flagged by: SOT-CANCER" in text
    atc = ", ".join(c.code for c in vocabulary().subcategory("checkpoint_inhibitors").atc)
    assert atc  # the class has ATC codes to show
    assert f"class: Immune checkpoint inhibitors (ATC {atc})" in text
    assert "Interferons" in text and "within Immunostimulants" in text
    # Referrals come before cautions, each with the rule behind it.
    assert text.index("Referrals:") < text.index("Cautions:")
    assert "(multidisciplinary_review; SOT-CANCER)" in flat(text)
    # Each reason once, with its matched values and evidence link.
    assert text.count("MEL-ICI: Rule MEL-ICI") == 1
    assert "matched: condition=melanoma" in text
    assert "evidence: E1 <https://example.org>" in text
    assert "Rules fired: MEL-ICI, SOT-CANCER" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_uncovered_result_says_so_plainly(kb: ir.KnowledgeBase) -> None:
    result = kb.evaluate({"immune_activity": "overactive", "condition": "psoriasis"})
    assert not result.covered
    text = result.explain()
    assert "NOT COVERED" in text and "(none)" in text
    assert "Not covered" in result.to_markdown()
    assert "Not covered" in result._repr_html_()


def test_unresolved_conflict_is_highlighted(make_kb: MakeKB) -> None:
    kb = make_kb(
        [
            rule("UP", {"suggest": [{"category": "immunostimulants", "tier": "first_line"}]}),
            rule("DOWN", {"suggest": [{"category": "immunosuppressants", "tier": "first_line"}]}),
        ]
    )
    result = kb.evaluate(TRANSPLANT_MELANOMA)
    assert "CONFLICT (UNRESOLVED" in result.explain()
    markup = result.to_html()
    assert 'class="ir-conflict ir-unresolved" role="alert"' in markup
    assert "UNRESOLVED" in result.to_markdown()


def test_result_html_is_self_contained_and_complete(kb: ir.KnowledgeBase) -> None:
    result = kb.evaluate(TRANSPLANT_MELANOMA)
    markup = result._repr_html_()
    checker = assert_self_contained(markup)
    assert markup.count("<style>") == 1
    text = " ".join(checker.text)
    assert "NOT FOR CLINICAL USE" in text
    assert "Conflict (resolved by a flag)" in text
    for label in ("first line", "FLAGGED", "specialist review", "avoid", "referral", "caution"):
        assert label in text
    assert ("href", "https://example.org") in checker.attrs
    assert "condition=melanoma" in text and "MEL-ICI" in text
    # Colours work on light and dark pages: text colour is inherited, tints are translucent.
    css = markup[markup.index("<style>") : markup.index("</style>")]
    assert "color:inherit" in css and "var(--jp-" in css
    assert not re.search(r"background:#[0-9a-f]{3,6}", css)


def test_everything_is_escaped(tmp_path: Path) -> None:
    hostile = "<script>alert('x')</script> & <b>bold</b> | *star* [link](javascript:x)"
    data = {
        "evidence": {
            "EVIL": {"citation": hostile, "url": "javascript:alert(1)", "accessed": "2026"},
        },
        "rules": [
            {
                "id": "EVIL-RULE",
                "title": hostile,
                "then": {"suggest": [{"category": "immunosuppressants", "tier": "first_line"}]},
                "because": hostile,
                "evidence": ["EVIL"],
            }
        ],
    }
    (tmp_path / "evil.yaml").write_text(yaml.safe_dump(data))
    kb = ir.load_rules(tmp_path, engine="native")
    result = kb.evaluate(TRANSPLANT_MELANOMA)
    answer = kb.why_not(TRANSPLANT_MELANOMA, "immunosuppressants")
    for markup in (result.to_html(), answer.to_html(), kb._repr_html_()):
        assert "<script" not in markup and "<b>bold" not in markup
        assert (
            "javascript:" not in markup.split("</style>", 1)[1].replace("[link](javascript:x)", "")
            or 'href="javascript' not in markup
        )
        assert 'href="javascript' not in markup
        checker = assert_self_contained(markup)
        assert any("<script>alert('x')</script>" in t for t in checker.text)
    markdown = result.to_markdown()
    assert "<script>" not in markdown and "\\<script\\>" in markdown
    assert "](javascript" not in markdown
    table_rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert all(line.count(" | ") == table_rows[0].count(" | ") for line in table_rows)


def test_markdown_and_json(kb: ir.KnowledgeBase) -> None:
    result = kb.evaluate(TRANSPLANT_MELANOMA)
    markdown = result._repr_markdown_()
    assert markdown.startswith("> **Research prototype - NOT FOR CLINICAL USE.")
    assert "| Immunostimulants | **FLAGGED (specialist review)** |" in markdown
    assert "#### Referrals" in markdown and "#### Cautions" in markdown
    assert "[E1](<https://example.org>)" in markdown
    data = json.loads(_render.result_json(result))
    assert data["notice"] == ir.NOT_FOR_CLINICAL_USE
    assert [s["tier"] for s in data["suggestions"]] == ["first_line", "flagged"]
    assert ir.Result.model_validate_json(_render.result_json(result)) == result


def test_whynot_renderings(kb: ir.KnowledgeBase) -> None:
    answer = kb.why_not(TRANSPLANT_MELANOMA, "immunostimulants", fields=list(kb.fields))
    text = answer.explain()
    assert text.startswith("Research prototype - NOT FOR CLINICAL USE.")
    assert "Why (not) Immunostimulants?" in text
    assert "FLAGGED: Immunostimulants is suggested but flagged" in flat(text)
    assert (
        "1. transplant_status: solid_organ_recipient -> none (or candidate, hsct_recipient)" in text
    )
    assert "=> first line via MEL-ICI" in text
    assert "SOT-CANCER flags it" in text
    assert "held   condition = melanoma  (profile: melanoma)" in text
    markdown = answer._repr_markdown_()
    assert "NOT FOR CLINICAL USE" in markdown and "✓ held" in markdown
    checker = assert_self_contained(answer._repr_html_())
    assert "Why (not) Immunostimulants?" in " ".join(checker.text)
    assert json.loads(_render.whynot_json(answer))["status"] == "flagged"

    absent = kb.why_not(TRANSPLANT_MELANOMA, "cellular_therapies")
    assert "no active rule in this knowledge base suggests it" in flat(absent.explain())
    assert "(none in this knowledge base)" in absent.explain()


def test_long_change_lists_are_capped_in_text_but_complete_in_json(make_kb: MakeKB) -> None:
    conditions = [c for c in CONDITIONS if "cancer" not in c][:14]
    kb = make_kb(
        [
            rule(
                f"R{i}",
                {"suggest": [{"category": "immunostimulants", "tier": "first_line"}]},
                {"condition": condition},
            )
            for i, condition in enumerate(conditions)
        ]
    )
    profile = {"immune_activity": "overactive", "disease_area": "allergic"}
    answer = kb.why_not(profile, "immunostimulants", fields=list(kb.fields))
    assert len(answer.changes) == 14
    text = answer.explain()
    assert f"... and {14 - _render.SHOWN_CHANGE_SETS} more" in text
    assert len(json.loads(answer.to_json())["changes"]) == 14


def test_knowledge_base_summary(kb: ir.KnowledgeBase) -> None:
    text = kb.explain()
    assert text.startswith("Research prototype - NOT FOR CLINICAL USE.")
    assert "2 active rules of 2" in text and "MEL-ICI" in text and "SOT-CANCER" in text
    assert "when condition = melanoma" in text
    markdown = kb._repr_markdown_()
    assert "| `MEL-ICI` |" in markdown
    checker = assert_self_contained(kb._repr_html_())
    assert "Decision table" in " ".join(checker.text)
    data = json.loads(_render.kb_json(kb))
    assert data["fingerprint"] == kb.fingerprint
    assert [row["rule"] for row in data["decision_table"]] == ["MEL-ICI", "SOT-CANCER"]


def test_audit_renderings(kb: ir.KnowledgeBase) -> None:
    report = ir.AuditReport(
        findings=(
            ir.Finding(
                kind="gap",
                severity="error",
                message="profiles <no rule> covers",
                example_profile=ir.ConditionProfile(**TRANSPLANT_MELANOMA),
                region={"condition": ["melanoma"], "prior_lines_of_therapy": [1, 2, 3]},
            ),
            ir.Finding(
                kind="redundant_rule", severity="warning", rule_ids=("A", "B"), message="A | B"
            ),
        ),
        knowledge_base=kb.info,
        active_rules=2,
        profiles=100,
    )
    markdown = _render.audit_markdown(report)
    assert "NOT FOR CLINICAL USE" in markdown and "### Audit: errors found" in markdown
    assert "| **error** | `gap` |  | profiles \\<no rule\\> covers" in markdown
    assert "A \\| B" in markdown and "prior\\_lines\\_of\\_therapy in 1..3" in markdown
    checker = assert_self_contained(audit_html(report))
    text = " ".join(checker.text)
    assert "profiles <no rule> covers" in text and "errors found" in text
    assert "example: immune_activity=underactive, condition=melanoma" in text
    assert "NOT FOR CLINICAL USE" in _render.audit_text(report)


def test_audit_rendering_of_a_real_report(kb: ir.KnowledgeBase) -> None:
    report = ir.audit(kb)
    assert "NOT FOR CLINICAL USE" in _render.audit_text(report)
    assert_self_contained(audit_html(report))
    # this small rule set leaves gaps, and the heading says so; the bundled rules audit clean
    assert not report.ok
    assert "### Audit: errors found" in _render.audit_markdown(report).splitlines()
    clean = ir.audit(ir.load_rules(engine="native"))
    assert clean.ok, clean.to_text()
    markdown = _render.audit_markdown(clean)
    assert "### Audit: OK" in markdown.splitlines() and "errors found" not in markdown


def test_results_carry_and_link_their_citations() -> None:
    kb = ir.load_rules(engine="native")
    result = kb.evaluate(TRANSPLANT_MELANOMA)
    lines: list[ir.Suggestion | ir.Avoidance | ir.Advisory] = [
        *result.suggestions,
        *result.avoided,
        *result.advisories,
    ]
    cited = {key for line in lines for r in line.reasons for key in r.evidence}
    assert cited and {c.key for c in result.citations} == cited
    assert all(c.citation == kb.evidence[c.key].citation for c in result.citations)
    # A result read back from JSON (as in another process) still renders its links.
    copy = ir.Result.model_validate_json(result.model_dump_json())
    assert copy == result
    assert "<https://" in copy.explain()
    answer = kb.why_not(TRANSPLANT_MELANOMA, "immunostimulants")
    assert {c.key for c in answer.citations} >= {
        key for check in answer.rules for key in check.evidence
    }


def test_knowledge_base_summary_renders_in_every_format(kb: ir.KnowledgeBase) -> None:
    data = json.loads(kb.to_json())
    assert data["name"] == kb.name and data["fingerprint"] == kb.fingerprint
    assert "NOT FOR CLINICAL USE" in data["notice"]
    with pytest.warns(DeprecationWarning, match=r"use kb\.explain\(\)"):
        deprecated = kb.summary()  # the second spelling: an alias that warns
    assert str(kb) == deprecated == kb.explain()
    assert kb._repr_markdown_() == kb.to_markdown()
    assert kb._repr_html_() == kb.to_html()
    assert repr(kb).startswith(f"<KnowledgeBase {kb.name} {kb.version}: ")
