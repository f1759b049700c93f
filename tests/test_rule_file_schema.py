"""The rule-file JSON Schema agrees with the loader: every bad rule file the loader rejects, the
schema rejects at the same place, unless its problem is one JSON Schema cannot state (listed
below with the reason); every good rule file passes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import immunorules as ir
from immunorules import RuleFileError
from immunorules._load.vocabulary import VocabularyMerger
from immunorules._load.yaml import parse_yaml
from immunorules._model.schema import Schema, bundled_schema
from immunorules._model.vocabulary import bundled_vocabulary
from immunorules._render.schemas import rule_file_json_schema

ROOT = Path(__file__).parent.parent
BAD = sorted((ROOT / "tests" / "data" / "bad_rules").glob("*.yaml"))
GOOD = {
    "rules": ROOT / "rules",
    "small_rules": ROOT / "tests" / "data" / "small_rules",
    "own_vocabulary": ROOT / "examples" / "own_vocabulary" / "rules",
}

#: Problems in the YAML itself: the loader refuses the node while parsing and hands on a
#: document without it, so no schema of the parsed document can see them.
YAML_LEVEL = {
    "deeply_nested": "nesting deeper than 64 levels",
    "duplicate_yaml_key": "a key given twice (the parsed mapping keeps one)",
    "huge_binary_int_key": "an integer too large to read",
    "huge_decimal_int_value": "an integer too large to read",
    "huge_hex_int_status": "an integer too large to read",
    "huge_sexagesimal_advisory": "an integer too large to read",
    "python_name_tag": "a refused YAML tag",
    "python_tag": "a refused YAML tag",
    "recursive_alias": "a recursive alias",
    "syntax_error": "a YAML syntax error",
    "tagged_status": "a refused YAML tag",
}
#: Problems that relate two places (of one file, of several files, or of a file and the bundled
#: vocabulary): JSON Schema checks each value on its own and cannot compare them.
CROSS_REFERENCE = {
    "duplicate_id": "a rule id used twice",
    "unknown_evidence_key": "a reference to an evidence key defined elsewhere",
    "min_greater_than_max": "'min' compared with 'max'",
    "vocab_code_value_outside_domain": "a code's value compared with its own field's values",
    "vocab_field_clash": "a field redefined differently from the bundled vocabulary",
    "vocab_redefined_condition": "a condition redefined differently from the bundled vocabulary",
}
_EXPECT = re.compile(r"# expect: line=\S+ path=(\S+) ")


def _schema_for(document: Any) -> Schema:
    """The vocabulary the file's rules are checked against: the bundled one with the file's own
    ``vocabulary:`` section when that section is sound (as the loader does)."""
    if not isinstance(document, dict) or "vocabulary" not in document:
        return bundled_schema()
    merger = VocabularyMerger(bundled_vocabulary())
    problems: list[str] = []
    merger.add_section(
        document["vocabulary"], "$.vocabulary", str, lambda _, message: problems.append(message)
    )
    return Schema(merger.vocabulary()) if merger.added and not problems else bundled_schema()


def _error_paths(errors: list[jsonschema.ValidationError]) -> set[str]:
    found: set[str] = set()
    for error in errors:
        found.add(error.json_path)
        found |= _error_paths(list(error.context or []))
    return found


def _parent(json_path: str) -> str:
    """``$.rules[0].when`` -> ``$.rules[0]``; ``$.rules[0]`` -> ``$.rules``; ``$`` -> ``$``."""
    cut = max(json_path.rfind("."), json_path.rfind("["))
    return json_path[:cut] if cut > 0 else "$"


def test_exception_lists_name_existing_fixtures() -> None:
    names = {path.stem for path in BAD}
    assert set(YAML_LEVEL) <= names
    assert set(CROSS_REFERENCE) <= names
    assert not set(YAML_LEVEL) & set(CROSS_REFERENCE)


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_rule_file_is_rejected_by_loader_and_schema(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    with pytest.raises(RuleFileError):
        ir.load_rules(path, engine="native")
    document = parse_yaml(text)
    if path.stem in YAML_LEVEL:
        assert document.problems, f"{path.name} is listed as a YAML problem but parses cleanly"
        return
    assert not document.problems
    validator = jsonschema.Draft202012Validator(rule_file_json_schema(_schema_for(document.data)))
    errors = list(validator.iter_errors(document.data))
    if path.stem in CROSS_REFERENCE:
        assert errors == [], (
            f"the schema now rejects {path.name}: remove it from CROSS_REFERENCE",
            [e.message for e in errors],
        )
        return
    assert errors, f"the loader rejects {path.name} but the rule-file schema accepts it"
    match = _EXPECT.match(text)
    assert match, f"{path.name} lacks an '# expect:' header"
    near = _parent(match.group(1))  # an unknown key is an error of the mapping that holds it
    paths = _error_paths(errors)
    assert any(found.startswith(near) for found in paths), (near, sorted(paths))


@pytest.mark.parametrize("name", list(GOOD))
def test_good_rule_files_pass_the_schema_of_their_knowledge_base(name: str) -> None:
    folder = GOOD[name]
    schema = ir.load_rules(folder, engine="native").schema
    rule_schema = rule_file_json_schema(schema)
    jsonschema.Draft202012Validator.check_schema(rule_schema)
    validator = jsonschema.Draft202012Validator(rule_schema)
    files = sorted(p for p in folder.glob("*.yaml") if p.name != "knowledge-base.yaml")
    assert files
    for path in files:
        document = parse_yaml(path.read_text(encoding="utf-8")).data  # as the loader reads it
        errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]
        assert errors == [], (path.name, errors[:3])


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda rule: rule.update(then={"suggest": [], "flag": None}), "$.rules[0].then"),
        (lambda rule: rule.update(title="   "), "$.rules[0].title"),
        (lambda rule: rule["when"].update(severity={"not": []}), "$.rules[0].when.severity"),
        (lambda rule: rule["tests"][0].update(expect={}), "$.rules[0].tests[0].expect"),
        (lambda rule: rule["tests"][0]["profile"].update(sevrity="mild"), "$.rules[0].tests[0]"),
    ],
)
def test_schema_rejects_what_the_loader_rejects_in_a_good_rule(
    change: Any, where: str, tmp_path: Path
) -> None:
    """A few shapes no fixture covers, each rejected by the loader too."""
    document = parse_yaml((GOOD["small_rules"] / "oncology.yaml").read_text()).data
    change(document["rules"][0])
    changed = tmp_path / "changed.yaml"
    changed.write_text(json.dumps(document))  # JSON is YAML
    with pytest.raises(RuleFileError):
        ir.load_rules(changed, engine="native")
    validator = jsonschema.Draft202012Validator(rule_file_json_schema(bundled_schema()))
    paths = _error_paths(list(validator.iter_errors(document)))
    assert any(found.startswith(where) for found in paths), sorted(paths)
