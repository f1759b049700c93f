"""What an answer assumes, shown wherever a person reads it: text, Markdown, HTML and JSON.

The results here are filled in by hand (``model_copy``), so the renderings are tested apart from
how evaluation computes ``unstated``, ``depends_on``, ``warnings`` and ``assumed``.
"""

from __future__ import annotations

import json

import pytest

import immunorules as ir
from immunorules._render import html as html_render
from immunorules._render.text import result_json, result_markdown, result_text

RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def filled(result: ir.Result, **update: object) -> ir.Result:
    return result.model_copy(update=update)


def with_assumptions(result: ir.Result) -> ir.Result:
    sub = result.suggestions[0].subcategories[0]
    return filled(
        result,
        unstated=("latent_tuberculosis", "pregnant", "heart_failure"),
        depends_on=(
            ir.Dependency(
                field="pregnant",
                values=(True,),
                effect="if pregnant: antifolate csDMARDs avoided",
                affects=(result.suggestions[0].category, sub),
            ),
            ir.Dependency(
                field="latent_tuberculosis",
                values=(True,),
                effect="if latent TB: screen and treat first",
                affects=(),
            ),
        ),
        warnings=("immune_activity underactive contradicts rheumatoid arthritis (overactive)",),
        assumed={"hepatitis_b": False},
    )


def test_a_fully_stated_answer_renders_as_before(kb: ir.KnowledgeBase) -> None:
    result = filled(kb.evaluate(RA), unstated=(), depends_on=(), warnings=(), assumed={})
    for text in (result_text(result), result_markdown(result), result.to_html()):
        assert "What this answer assumes" not in text
        assert "Depends on" not in text and "depends on</span>" not in text


def test_text_names_what_the_answer_depends_on(kb: ir.KnowledgeBase) -> None:
    result = with_assumptions(kb.evaluate(RA))
    text = result.explain()
    assert "What this answer assumes:" in text
    assert "WARNING: immune_activity underactive contradicts" in text
    assert "* pregnant = true: if pregnant: antifolate csDMARDs avoided" in text
    assert "affects: Immunosuppressants, Antifolate csDMARDs" in text
    assert "* latent_tuberculosis = true: if latent TB: screen and treat first" in text
    # a field in depends_on is not listed again among the others
    assert "Also not stated (would not change this answer): heart_failure" in text
    assert "Assumed for this answer: hepatitis_b=false" in text
    # it comes after the answer and before the reasons
    assert text.index("Suggested therapy") < text.index("What this answer") < text.index("Reasons:")


def test_only_unstated_fields_still_show(kb: ir.KnowledgeBase) -> None:
    result = filled(kb.evaluate(RA, depends_on=False), unstated=("heart_failure",))
    text = result.explain()
    assert "What this answer assumes:" in text
    assert "Depends on" not in text
    assert "Also not stated (would not change this answer): heart_failure" in text


def test_markdown_shows_it_escaped(kb: ir.KnowledgeBase) -> None:
    result = with_assumptions(kb.evaluate(RA))
    result = filled(
        result,
        depends_on=(
            ir.Dependency(field="pregnant", values=(True,), effect="<b>bold</b> [x](javascript:1)"),
        ),
    )
    text = result_markdown(result)
    assert "#### What this answer assumes" in text
    assert "**Depends on**" in text
    assert "- `pregnant` = `true`: \\<b\\>bold\\</b\\> \\[x\\]\\(javascript:1\\)" in text
    assert "> **Warning:** immune\\_activity underactive" in text
    assert "Assumed for this answer: `hepatitis_b=false`." in text


def test_html_shows_it_escaped_and_self_contained(kb: ir.KnowledgeBase) -> None:
    result = filled(
        with_assumptions(kb.evaluate(RA)),
        warnings=("<script>alert(1)</script>",),
    )
    page = result.to_html()
    assert "What this answer assumes" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "pregnant = true" in page
    assert 'title="Pregnant."' in page  # the vocabulary's description of the field
    assert "(affects Immunosuppressants, Antifolate csDMARDs)" in page
    assert "hepatitis_b=false" in page
    assert page.count("<style>") == 1 and html_render.CSS in page


def test_json_carries_every_field(kb: ir.KnowledgeBase) -> None:
    data = json.loads(result_json(with_assumptions(kb.evaluate(RA))))
    assert data["unstated"] == ["latent_tuberculosis", "pregnant", "heart_failure"]
    assert data["depends_on"][0] == {
        "field": "pregnant",
        "values": [True],
        "effect": "if pregnant: antifolate csDMARDs avoided",
        "affects": ["immunosuppressants", "antifolate_dmards"],
    }
    assert data["warnings"][0].startswith("immune_activity underactive")
    assert data["assumed"] == {"hepatitis_b": False}
    assert ir.Result.model_validate(data).depends_on[1].field == "latent_tuberculosis"


def test_integer_values_read_as_a_range(kb: ir.KnowledgeBase) -> None:
    result = filled(
        kb.evaluate(RA),
        unstated=("prior_lines_of_therapy",),
        depends_on=(
            ir.Dependency(
                field="prior_lines_of_therapy",
                values=tuple(range(1, 21)),
                effect="if any prior line: escalation instead",
            ),
        ),
    )
    assert "* prior_lines_of_therapy = 1-20: if any prior line" in result.explain()


def test_a_change_that_states_a_fact_reads_not_stated() -> None:
    from immunorules._analysis.whynot import ProfileChange
    from immunorules._render.build import change_items
    from immunorules._render.labels import Labels
    from immunorules._render.plain import change_text

    labels = Labels.for_subject(None)
    change = ProfileChange(
        field="severity", before=None, after="severe", alternatives=("severe", "moderate")
    )
    (item,) = change_items([change], labels)
    assert change_text(item) == "severity: not stated -> severe (or moderate)"
    back = ProfileChange(field="severity", before="mild", after=None, alternatives=(None, "severe"))
    (item,) = change_items([back], labels)
    assert change_text(item) == "severity: mild -> not stated (or severe)"
    both = ProfileChange(
        field="severity", before="mild", after="severe", alternatives=(None, "severe")
    )
    (item,) = change_items([both], labels)
    assert change_text(item) == "severity: mild -> severe (or not stated)"
