"""Renderings of a knowledge base with its own vocabulary, and the labels they are made with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import immunorules as ir
from immunorules._render import html as html_writer
from immunorules._render import markdown as markdown_writer
from immunorules._render import plain
from immunorules._render import text as text_render
from immunorules._render.build import audit_document, result_document, whynot_document
from immunorules._render.labels import Labels

from .conftest import EVIDENCE, require, rule
from .test_render import assert_self_contained

HOSTILE = "<b>bold</b> & *star* | [x](javascript:y)"
VOCABULARY: dict[str, Any] = {
    "fields": [
        {"id": "kidney_filtration", "type": "integer", "min": 0, "max": 150, "modifiable": True},
        {"id": "stage", "type": "enum", "values": ["s1", "s2", "s3", "s4"], "modifiable": True},
        {"id": "on_dialysis", "type": "boolean", "modifiable": True},
        {"id": "tried", "type": "set", "of": "subcategories", "modifiable": True},
    ],
    "conditions": [
        {
            "id": "lupus_nephritis_x",
            "disease_area": "autoimmune",
            "immune_activity": "overactive",
            "name": f"Nephritis X {HOSTILE}",
        }
    ],
    "subcategories": [
        {
            "id": "renal_sparing_class",
            "category": "immunosuppressants",
            "direction": "suppress",
            "name": "Renal-sparing class",
        }
    ],
    "advisories": [
        {"key": "renal_review", "kind": "referral", "message": f"Ask nephrology {HOSTILE}"}
    ],
}
PROFILE = {
    "immune_activity": "overactive",
    "condition": "lupus_nephritis_x",
    "kidney_filtration": 10,
    "stage": "s1",
    "tried": ["renal_sparing_class"],
}


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> ir.KnowledgeBase:
    folder: Path = tmp_path_factory.mktemp("own")
    rules = [
        rule(
            "NX-FIRST",
            {
                "suggest": [
                    {
                        "category": "immunosuppressants",
                        "tier": "first_line",
                        "subcategories": ["renal_sparing_class"],
                    }
                ],
                "advise": ["renal_review"],
            },
            {
                "condition": "lupus_nephritis_x",
                "kidney_filtration": {"min": 30},
                "stage": ["s3", "s4"],
            },
        ),
        rule(
            "NX-AVOID",
            {"avoid": [{"subcategory": "renal_sparing_class"}], "advise": ["renal_review"]},
            {"condition": "lupus_nephritis_x", "on_dialysis": True},
        ),
    ]
    document = {"vocabulary": VOCABULARY, "evidence": EVIDENCE, "rules": rules}
    document["scope"] = {"condition": "lupus_nephritis_x"}
    (folder / "rules.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return ir.load_rules(folder, engine="native")


def _all_formats(model: ir.Result | ir.WhyNot | ir.AuditReport) -> tuple[str, str, str]:
    return model.explain(), model.to_markdown(), model.to_html()


def test_labels_work_outside_any_rendering(own: ir.KnowledgeBase) -> None:
    labels = Labels.of(own.schema)
    assert labels.condition("lupus_nephritis_x").startswith("Nephritis X")
    assert labels.subcategory("renal_sparing_class") == "Renal-sparing class"
    assert labels.class_label("renal_sparing_class") == "Renal-sparing class (no ATC code)"
    assert labels.category("immunosuppressants") == "Immunosuppressants"
    assert labels.advisory("renal_review").startswith("Ask nephrology")
    assert labels.field_type("kidney_filtration") == "integer"
    assert labels.field_type("stage") == "enum"
    assert labels.tier("first_line") == "first line"
    # Ids the vocabulary lacks read as themselves: never a KeyError.
    for lookup in (
        labels.condition,
        labels.area,
        labels.category,
        labels.subcategory,
        labels.class_label,
        labels.advisory,
    ):
        assert "no_such_id" in lookup("no_such_id")
    assert labels.atc("no_such_id") == ()
    assert labels.field_type("no_such_field") is None
    assert labels.tier("no_such_tier") == "no_such_tier"
    # The bundled labels do not know the custom ids, and say so without raising.
    bundled = Labels.for_subject(None)
    assert bundled.subcategory("renal_sparing_class") == "renal_sparing_class"


def test_values_read_by_the_field_type(own: ir.KnowledgeBase) -> None:
    labels = Labels.of(own.schema)
    assert labels.values_text([30, 31, 32, 33], "kidney_filtration") == "30-33"
    assert labels.values_text([30, 32], "kidney_filtration") == "30, 32"
    assert labels.values_text(["s1", "s2", "s3"], "stage") == "s1, s2, s3"
    assert labels.values_text([None, 1, 2, 3], "kidney_filtration") == "null, 1, 2, 3"
    bundled = Labels.for_subject(None)
    assert bundled.values_text([1, 2, 3], "prior_lines_of_therapy") == "1-3"
    assert bundled.values_text([1, 2, 3], "no_such_field") == "1, 2, 3"


def test_a_result_of_an_own_vocabulary_renders_in_every_format(own: ir.KnowledgeBase) -> None:
    suggested = own.evaluate({**PROFILE, "kidney_filtration": 40, "stage": "s3"})
    assert "      class: Renal-sparing class (no ATC code)" in suggested.explain()
    assert "| Immunosuppressants | **first line** | Renal-sparing class" in suggested.to_markdown()
    result = own.evaluate({**PROFILE, "kidney_filtration": 40, "stage": "s3", "on_dialysis": True})
    text, markdown, markup = _all_formats(result)
    assert "Profile: Nephritis X <b>bold</b>" in text
    assert "* Renal-sparing class (no ATC code), within Immunosuppressants  [NX-AVOID]" in text
    assert "kidney_filtration=40" in text and "tried=[renal_sparing_class]" in text
    assert "Ask nephrology" in text
    assert "Nephritis X \\<b\\>bold\\</b\\>" in markdown and "<b>" not in markdown
    assert "](javascript" not in markdown
    checker = assert_self_contained(markup)
    assert "<b>bold</b>" not in markup and "Renal-sparing class" in " ".join(checker.text)
    assert text_render.result_json(result).startswith("{")


def test_cards_of_an_own_vocabulary_use_its_names(own: ir.KnowledgeBase) -> None:
    service = require("immunorules.service")
    suggested = own.evaluate({**PROFILE, "kidney_filtration": 40, "stage": "s3"})
    info = next(
        card for card in service.cards_from_result(suggested) if "Consider" in card["summary"]
    )
    assert info["summary"] == "Consider Immunosuppressants (first line): Renal-sparing class"
    assert "Drug classes: Renal-sparing class \\(no ATC code\\)" in info["detail"]
    avoided = own.evaluate({**PROFILE, "on_dialysis": True})
    (critical,) = service.order_cards(avoided, {"renal_sparing_class": ["drug X"]})
    assert critical["summary"] == (
        "Avoid Renal-sparing class (selected order is in an avoided class): Rule NX-AVOID"
    )


def test_a_why_not_of_an_own_vocabulary_renders_in_every_format(own: ir.KnowledgeBase) -> None:
    answer = own.why_not(PROFILE, "immunosuppressants", fields=list(own.fields), max_changes=2)
    assert answer.status == "absent" and answer.changes
    text, markdown, markup = _all_formats(answer)
    # The integer field reads as a range (its type says so), the enum field as a list.
    assert "kidney_filtration: 10 -> 30 (any of 30-150)" in text
    assert "stage: s1 -> s3 (or s4)" in text
    assert "`kidney_filtration: 10 -> 30 (any of 30-150)" in markdown
    assert "(any of 30-150)" in markup and "(or s4)" in markup
    assert "<b>bold</b>" not in markdown and "<b>bold</b>" not in markup
    assert_self_contained(markup)


def test_an_audit_of_an_own_vocabulary_renders_in_every_format(own: ir.KnowledgeBase) -> None:
    report = ir.audit(own)
    text, markdown, markup = _all_formats(report)
    for rendering in (text, markdown, markup):
        assert "NOT FOR CLINICAL USE" in rendering
    assert text == report.to_text() == text_render.audit_text(report)
    capped = ir.audit(own, max_findings=1)
    assert text_render.audit_text(capped) == capped.to_text()
    example = next(f.example_profile for f in report.findings if f.example_profile is not None)
    details = ", ".join(Labels.of(own.schema).profile_details(example))
    assert "condition=lupus\\_nephritis\\_x" in markdown
    assert details in " ".join(assert_self_contained(markup).text)


def test_every_writer_writes_every_document(own: ir.KnowledgeBase) -> None:
    labels = Labels.of(own.schema)
    documents = [
        result_document(own.evaluate(PROFILE), labels),
        whynot_document(own.why_not(PROFILE, "immunosuppressants"), labels),
        audit_document(ir.audit(own), labels),
    ]
    for document in documents:
        text = plain.write(document)
        if document.kind == "audit":  # the report's text ends with the notice
            assert text.endswith(ir.NOT_FOR_CLINICAL_USE)
        else:
            assert text.startswith("Research prototype - NOT FOR CLINICAL USE.")
            assert max(len(line) for line in text.splitlines()) <= 100
        assert markdown_writer.write(document).startswith("> **Research prototype")
        assert_self_contained(html_writer.write(document))
