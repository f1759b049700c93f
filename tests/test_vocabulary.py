"""Open vocabulary: rule sets declare their own fields, conditions, drug classes and advisories,
and every part of the library follows the knowledge base's schema."""

from __future__ import annotations

import ast
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import immunorules as ir
from immunorules._load.yaml import parse_yaml
from immunorules.testing import profiles

from .conftest import EVIDENCE, require, rule

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "own_vocabulary" / "rules"
SRC = ROOT / "src" / "immunorules"
GCA = {"immune_activity": "overactive", "condition": "giant_cell_arteritis"}

VOCABULARY: dict[str, Any] = {
    "fields": [
        {"id": "egfr", "type": "integer", "min": 0, "max": 150},
        {"id": "tried", "type": "set", "of": "subcategories", "modifiable": True},
        {"id": "band", "type": "enum", "values": ["low", "high"], "default": "low"},
        {"id": "on_dialysis", "type": "boolean"},
    ]
}


def _kb(tmp_path: Path, rules: list[dict[str, Any]], *, engine: str = "native") -> ir.KnowledgeBase:
    folder = tmp_path / f"kb-{engine}-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    document = {"vocabulary": VOCABULARY, "evidence": EVIDENCE, "rules": rules}
    document["scope"] = {"condition": "psoriasis"}
    (folder / "rules.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return ir.load_rules(folder, engine=engine)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def example() -> ir.KnowledgeBase:
    return ir.load_rules(EXAMPLE, engine="native")


# -- the profile model -------------------------------------------------------------------------


def test_a_vocabulary_extends_the_profile_model(example: ir.KnowledgeBase) -> None:
    model = example.profile_model
    assert issubclass(model, ir.ConditionProfile) and model is not ir.ConditionProfile
    # prior_therapy_classes is also a bundled field: the example's definition (which differs
    # only in its description) is the same field, kept where the bundled vocabulary has it
    assert list(example.fields)[-2:] == ["age", "visual_symptoms"]
    assert "prior_therapy_classes" in example.fields
    age = example.fields["age"]
    assert (age.type, age.min, age.max, age.default, age.modifiable) == (
        "integer",
        18,
        110,
        None,
        False,
    )
    assert example.fields["prior_therapy_classes"].modifiable
    profile = example.parse(
        {**GCA, "age": 80, "prior_therapy_classes": ["il6_pathway_inhibitors", "corticosteroids"]}
    )
    assert isinstance(profile, model) and profile.disease_area == "autoimmune"
    assert profile.prior_therapy_classes == ("corticosteroids", "il6_pathway_inhibitors")
    assert hash(profile) == hash(example.parse(profile.model_dump()))
    with pytest.raises(Exception):  # noqa: B017, PT011 - frozen
        profile.age = 81  # type: ignore[attr-defined]
    # A bundled profile is accepted by a knowledge base whose fields include its own.
    bundled = ir.ConditionProfile(immune_activity="overactive", condition="psoriasis")
    assert example.evaluate(bundled).profile == example.parse(
        {"immune_activity": "overactive", "condition": "psoriasis"}
    )
    # ...and the bundled model knows nothing of the example's.
    with pytest.raises(ir.ProfileError, match="not a known condition"):
        ir.evaluate(GCA)
    assert "giant_cell_arteritis" in {c.id for c in example.conditions}
    assert ir.ConditionProfile.model_fields.keys() < model.model_fields.keys()


def test_invalid_profiles_for_that_knowledge_base_list_every_problem(
    example: ir.KnowledgeBase,
) -> None:
    with pytest.raises(ir.ProfileError) as info:
        example.evaluate(
            {
                **GCA,
                "agee": 70,
                "age": "80",
                "prior_therapy_classes": ["tnf_inhibitor", 3],
                "visual_symptoms": "yes",
            }
        )
    problems = {p.path: p.message for p in info.value.problems}
    assert set(problems) == {"agee", "age", "prior_therapy_classes", "visual_symptoms"}
    assert "did you mean 'age'" in problems["agee"]
    assert "expected an integer" in problems["age"]
    assert "did you mean 'tnf_inhibitors'" in problems["prior_therapy_classes"]
    assert "members must be strings" in problems["prior_therapy_classes"]
    with pytest.raises(ir.ProfileError, match=r"age: 17 is outside 18\.\.110"):
        example.evaluate({**GCA, "age": 17})
    with pytest.raises(ir.ProfileError, match="expected a list"):
        example.evaluate({**GCA, "prior_therapy_classes": "tnf_inhibitors"})
    with pytest.raises(ir.ProfileError) as info:
        ir.evaluate({"immune_activity": "overactive", "condition": "psoriasis", "age": 40})
    assert info.value.problems[0].path == "age"


# -- rules on the new fields -------------------------------------------------------------------


def _set_rules() -> list[dict[str, Any]]:
    return [
        rule(
            "AFTER-TNF-OR-JAK",
            {
                "suggest": [
                    {
                        "category": "biologic_therapies",
                        "tier": "escalation",
                        "subcategories": ["interleukin_inhibitors"],
                    }
                ]
            },
            {
                "condition": "psoriasis",
                "tried": {"includes_any": ["tnf_inhibitors", "jak_inhibitors"]},
            },
        ),
        rule(
            "NEITHER",
            {"suggest": [{"category": "immunosuppressants", "tier": "first_line"}]},
            {"condition": "psoriasis", "tried": {"excludes": ["tnf_inhibitors", "jak_inhibitors"]}},
        ),
        rule(
            "BOTH-AND-KIDNEY",
            {"avoid": [{"subcategory": "interleukin_inhibitors"}], "advise": ["hbv_screen"]},
            {"tried": {"includes": ["tnf_inhibitors", "jak_inhibitors"]}, "egfr": {"max": 29}},
        ),
        rule(
            "HIGH-BAND",
            {"advise": ["serious_infection_risk"]},
            {"band": "high", "on_dialysis": True},
        ),
    ]


def test_set_conditions_and_new_fields_evaluate(tmp_path: Path) -> None:
    kb = _kb(tmp_path, _set_rules())
    base = {"immune_activity": "overactive", "condition": "psoriasis"}
    # ``tried`` has no default: omitted, it is not stated, and ``excludes`` does not match that
    assert kb.evaluate(base).fired_rules == ()
    assert kb.evaluate({**base, "tried": []}).fired_rules == ("NEITHER",)
    assert kb.evaluate({**base, "tried": ["jak_inhibitors"]}).fired_rules == ("AFTER-TNF-OR-JAK",)
    both = kb.evaluate({**base, "tried": ["tnf_inhibitors", "jak_inhibitors"], "egfr": 20})
    assert both.fired_rules == ("AFTER-TNF-OR-JAK", "BOTH-AND-KIDNEY")
    assert both.suggestion("biologic_therapies") is None  # its only class is avoided
    assert both.advisories[0].reasons[0].matched == {
        "egfr": 20,
        "tried": ("jak_inhibitors", "tnf_inhibitors"),
    }
    assert kb.evaluate({**base, "band": "high", "on_dialysis": True, "tried": []}).fired_rules == (
        "HIGH-BAND",
        "NEITHER",
    )
    row = kb.decision_table().row("AFTER-TNF-OR-JAK")
    # naming a class means its finer classes too (the bundled TNF inhibitors have two)
    assert row.conditions["tried"] == (
        "includes any of anti_tnf_antibodies, jak_inhibitors, tnf_inhibitors, "
        "tnf_receptor_fusion_proteins"
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_engines_agree_on_user_fields_and_sets(tmp_path: Path, data: st.DataObject) -> None:
    native = _ENGINES["native"]
    durable = _ENGINES["durable"]
    profile = data.draw(profiles(native, condition=["psoriasis", "rheumatoid_arthritis", None]))
    assert native.evaluate(profile).fired_rules == durable.evaluate(profile).fired_rules
    for candidate in native.active_rules:
        assert (candidate.id in native.evaluate(profile).fired_rules) == candidate.holds(profile)


_ENGINES: dict[str, ir.KnowledgeBase] = {}


@pytest.fixture(scope="module", autouse=True)
def _engines(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("engines")
    for engine in ("native", "durable"):
        _ENGINES[engine] = _kb(folder, _set_rules(), engine=engine)


def test_example_engines_agree(example: ir.KnowledgeBase) -> None:
    durable = ir.load_rules(EXAMPLE, engine="durable")
    values = [None, 18, 74, 75, 110]
    tried: list[list[str]] = [
        [],
        ["il6_pathway_inhibitors"],
        ["tnf_inhibitors"],
        ["tnf_inhibitors", "il6_pathway_inhibitors"],
    ]
    for age, classes, visual in itertools.product(values, tried, [False, True]):
        profile = {**GCA, "age": age, "prior_therapy_classes": classes, "visual_symptoms": visual}
        one, two = example.evaluate(profile), durable.evaluate(profile)
        assert one.model_dump(exclude={"knowledge_base"}) == two.model_dump(
            exclude={"knowledge_base"}
        )


# -- the audit over the new space ----------------------------------------------------------------


def test_audit_is_exact_over_set_members(tmp_path: Path) -> None:
    # ``tried`` may be not stated (no default): that is one more value the rules must cover
    unstated = rule(
        "TRIED-NOT-STATED",
        {"suggest": [{"category": "immunosuppressants", "tier": "first_line"}]},
        {"condition": "psoriasis", "tried": None},
    )
    rules = [*_set_rules(), unstated]
    clean = ir.audit(_kb(tmp_path, rules))
    assert clean.filter(kind="gap") == ()
    gappy = _kb(tmp_path, [r for r in rules if r["id"] != "NEITHER"])
    report = ir.audit(gappy)
    (gap,) = report.filter(kind="gap")
    assert gap.region is not None and gap.region_text is not None
    assert "tried excludes" not in gap.region_text and "tried &" in gap.region_text
    assert gap.example_profile is not None
    assert not gappy.evaluate(gap.example_profile).covered
    # Brute force over the members the rules name, with every other field at its default:
    # exactly the profiles without tnf_inhibitors and jak_inhibitors are uncovered.
    base = {"immune_activity": "overactive", "condition": "psoriasis"}
    members = ["tnf_inhibitors", "jak_inhibitors", "corticosteroids"]
    for size in range(len(members) + 1):
        for chosen in itertools.combinations(members, size):
            covered = gappy.evaluate({**base, "tried": list(chosen)}).covered
            assert covered == bool({"tnf_inhibitors", "jak_inhibitors"} & set(chosen)), chosen


def test_the_example_audits_clean_in_its_scope(example: ir.KnowledgeBase) -> None:
    report = ir.audit(example)
    assert report.ok and report.filter(severity=["error", "warning"]) == ()
    assert example.scope and example.scope[0].when["condition"] == {"giant_cell_arteritis"}
    wider = ir.audit(example, scope={"condition": ["giant_cell_arteritis", "psoriasis"]})
    (gap,) = wider.filter(kind="gap")
    assert gap.region == {"condition": ["psoriasis"]}
    with pytest.raises(ir.RuleFileError, match="did you mean 'psoriasis'"):
        ir.audit(example, scope={"condition": "psoriasi"})


def test_why_not_changes_set_members(example: ir.KnowledgeBase) -> None:
    answer = example.why_not(
        {**GCA, "prior_therapy_classes": ["il6_pathway_inhibitors"]}, "biologic_therapies"
    )
    (change_set,) = answer.changes
    (change,) = change_set.changes
    assert (change.field, change.before) == ("prior_therapy_classes", ("il6_pathway_inhibitors",))
    assert change.after in ((), None)  # stated none, or (v3) not stated
    assert example.evaluate(change_set.profile).tier("biologic_therapies") == "first_line"


def test_a_parent_class_means_its_finer_classes(tmp_path: Path) -> None:
    folder = tmp_path / "parent"
    folder.mkdir()
    vocabulary = {
        "subcategories": [
            {
                "id": "il6_inhibitors",
                "category": "biologic_therapies",
                "direction": "suppress",
                "name": "IL-6 inhibitors",
                "parent": "interleukin_inhibitors",
            }
        ]
    }
    rules = [
        rule(
            "SUGGEST",
            {
                "suggest": [
                    {
                        "category": "biologic_therapies",
                        "tier": "first_line",
                        "subcategories": ["il6_inhibitors"],
                    }
                ]
            },
        ),
        rule(
            "AVOID-PARENT",
            {"avoid": [{"subcategory": "interleukin_inhibitors"}]},
            {"pregnant": True},
        ),
    ]
    (folder / "r.yaml").write_text(
        yaml.safe_dump({"vocabulary": vocabulary, "evidence": EVIDENCE, "rules": rules})
    )
    kb = ir.load_rules(folder, engine="native")
    assert {s.id: s.parent for s in kb.subcategories}["il6_inhibitors"] == "interleukin_inhibitors"
    profile = {"immune_activity": "overactive", "condition": "psoriasis"}
    assert kb.evaluate(profile).tier("biologic_therapies") == "first_line"
    pregnant = kb.evaluate({**profile, "pregnant": True})
    assert pregnant.suggestion("biologic_therapies") is None
    assert {a.subcategory for a in pregnant.avoided} == {
        "interleukin_inhibitors",
        "il6_inhibitors",
        *(s.id for s in kb.subcategories if s.parent == "interleukin_inhibitors"),
    }


def test_frames_and_renderers_follow_the_vocabulary(example: ir.KnowledgeBase) -> None:
    pd = require("pandas")
    frame = pd.DataFrame(
        {
            "immune_activity": ["overactive", "overactive"],
            "condition": ["giant_cell_arteritis", "giant_cell_arteritis"],
            "age": [80, None],
            "prior_therapy_classes": [["il6_pathway_inhibitors"], []],
        }
    )
    out = example.evaluate_frame(frame)
    assert out["tier_biologic_therapies"].isna().tolist() == [True, False]
    assert out["tier_biologic_therapies"].iloc[1] == "first_line"
    result = example.evaluate({**GCA, "prior_therapy_classes": ["il6_pathway_inhibitors"]})
    assert "Giant cell arteritis" in result.explain()
    assert "[il6_pathway_inhibitors]" in result.explain()
    assert "IL-6 pathway inhibitors" in example.evaluate(GCA).to_html()
    assert "giant\\_cell\\_arteritis" in example.to_markdown()


# -- no schema constant is left ------------------------------------------------------------------

_OLD_CONSTANTS = {
    "FIELD_DOMAINS",
    "PROFILE_FIELDS",
    "CONDITIONS",
    "CONDITION_AREA",
    "DISEASE_AREAS",
    "CATEGORIES",
    "SUBCATEGORIES",
    "ADVISORIES",
    "REFERRALS",
    "MAX_PRIOR_LINES",
    "DIMENSIONS",
    "FULL",
    "JOINT_VALUES",
}


def test_no_module_level_schema_constant_is_left() -> None:
    found = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            targets = []
            if isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                targets = [node.target.id]
            found += [f"{path.name}:{name}" for name in targets if name in _OLD_CONSTANTS]
    assert found == []


def test_the_bundled_vocabulary_describes_the_bundled_profile_model() -> None:
    kb = ir.load_rules(engine="native")
    assert list(kb.fields) == list(ir.ConditionProfile.model_fields)
    for name, field in kb.fields.items():
        if field.type == "enum" and name not in ("disease_area", "condition"):
            annotation = str(ir.ConditionProfile.model_fields[name].annotation)
            assert all(repr(value) in annotation for value in field.values), name
    assert kb.profile_model is ir.ConditionProfile


# -- the CLI -----------------------------------------------------------------------------------


def test_vocabulary_and_schema_commands(capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema = require("jsonschema")
    from immunorules._cli.main import main

    assert main(["vocabulary", "--rules", str(EXAMPLE), "--engine", "native"]) == 0
    text = capsys.readouterr().out
    assert "age (integer, default null): 18..110 or null" in text
    assert (
        "giant_cell_arteritis" in text
        and "il6_pathway_inhibitors (within interleukin_inhibitors)" in text
    )
    assert main(["vocabulary", "--format", "json", "--engine", "native"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [f["id"] for f in data["fields"]][:2] == ["immune_activity", "disease_area"]

    assert main(["schema", "--rules", str(EXAMPLE), "--engine", "native"]) == 0
    profile_schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(profile_schema)
    validator = jsonschema.Draft202012Validator(profile_schema)
    assert validator.is_valid(
        {**GCA, "age": 80, "prior_therapy_classes": ["il6_pathway_inhibitors"]}
    )
    assert not validator.is_valid({**GCA, "age": 8})
    assert not validator.is_valid({**GCA, "agee": 80})

    assert main(["schema", "--rule-files", "--rules", str(EXAMPLE), "--engine", "native"]) == 0
    rules_schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(rules_schema)
    checker = jsonschema.Draft202012Validator(rules_schema)
    rule_files = [*sorted((ROOT / "rules").glob("*.yaml")), *sorted(EXAMPLE.glob("*.yaml"))]
    for path in (p for p in rule_files if p.name != "knowledge-base.yaml"):  # not a rule file
        document = parse_yaml(path.read_text(encoding="utf-8")).data  # as the loader reads it
        errors = [e.message for e in checker.iter_errors(document)]
        assert errors == [], (path.name, errors[:3])
    broken = parse_yaml((EXAMPLE / "giant_cell_arteritis.yaml").read_text()).data
    broken["rules"][0]["when"]["age"] = "old"
    assert not checker.is_valid(broken)


def test_bundled_record_codes_are_well_formed_and_cite_known_sources() -> None:
    """Every code the bundled vocabulary maps patient records with passes the loader's own
    checks, and every ``source`` it cites is listed in the vocabulary's sources."""
    from immunorules._load.vocabulary import code_problems

    vocab = ir.load_rules(engine="native").schema.vocabulary
    schema = ir.load_rules(engine="native").schema
    entries: list[Any] = [*schema.fields.values(), *vocab.conditions, *vocab.disease_areas]
    entries += list(vocab.subcategories)
    problems = {
        getattr(e, "id", ""): found
        for e in entries
        if (found := code_problems(e, getattr(e, "values", ())))
    }
    assert problems == {}
    cited = {c.source for e in entries for c in e.codes if c.source is not None}
    assert cited <= set(vocab.sources), cited - set(vocab.sources)
    assert sum(len(e.codes) for e in entries) > 200


# -- a broken definition is reported once, not at each of its uses -------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("      disease_area: autoimmune\n", "", "disease_area: Field required"),
        ("disease_area: autoimmune", "disease_area: vasculitis", "not a known disease area"),
        ("{id: age, type: integer, min: 18, max: 110,", "{id: age, type: integer, min: 18,"
         " max: 110, step: 2,", "unknown key"),
    ],
)  # fmt: skip
def test_a_broken_definition_is_one_problem(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    text = (EXAMPLE / "giant_cell_arteritis.yaml").read_text()
    assert old in text
    (tmp_path / "gca.yaml").write_text(text.replace(old, new, 1))
    with pytest.raises(ir.RuleFileError) as caught:
        ir.load_rules(tmp_path)
    problems = caught.value.problems
    assert len(problems) == 1, "\n".join(p.message for p in problems)
    (problem,) = problems
    assert problem.path.startswith("$.vocabulary.")
    assert expected in f"{problem.path}: {problem.message}"
    assert "not checked until" in problem.message


def test_a_use_of_a_name_never_defined_is_still_reported(tmp_path: Path) -> None:
    text = (EXAMPLE / "giant_cell_arteritis.yaml").read_text()
    (tmp_path / "gca.yaml").write_text(
        text.replace("condition: giant_cell_arteritis\n", "condition: giant_cell_arteritiss\n", 1)
    )
    with pytest.raises(ir.RuleFileError) as caught:
        ir.load_rules(tmp_path)
    assert any("giant_cell_arteritiss" in p.message for p in caught.value.problems)


@pytest.mark.parametrize("engine", ["native", "durable"])
def test_a_field_named_self_works_everywhere(tmp_path: Path, engine: str) -> None:
    """``self`` is an ordinary field id: the profile model takes it as a keyword (its own
    ``__init__`` takes ``self`` positionally only), so evaluation, the audit's example profiles,
    why-not, frames and renderers all work with it."""
    folder = tmp_path / "self"
    folder.mkdir()
    document = {
        "vocabulary": {"fields": [{"id": "self", "type": "boolean"}]},
        "evidence": EVIDENCE,
        "scope": {"condition": "psoriasis"},
        "rules": [
            rule(
                "SELF",
                {"suggest": [{"category": "immunosuppressants", "tier": "first_line"}]},
                {"condition": "psoriasis", "self": True},
            )
        ],
    }
    (folder / "rules.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    kb = ir.load_rules(folder, engine=engine)  # type: ignore[arg-type]
    stated = {"immune_activity": "overactive", "condition": "psoriasis", "self": True}
    result = kb.evaluate(stated)
    assert result.fired_rules == ("SELF",)
    assert result.profile.model_dump()["self"] is True
    assert "self" in {d.field for d in kb.evaluate({**stated, "self": None}).depends_on}
    report = ir.audit(kb)
    gaps = [f for f in report.findings if f.kind == "gap"]
    assert gaps and all(f.example_profile is not None for f in gaps)
    examples = [f.example_profile for f in gaps if f.example_profile is not None]
    assert any(example.model_dump()["self"] is not True for example in examples)
    assert "self" in result.to_markdown()
    pd = require("pandas")
    frame = kb.evaluate_frame(pd.DataFrame({"condition": ["psoriasis"], "self": [True]}))
    assert frame["fired_rules"][0] == ("SELF",)
