"""What the documentation pages say about the API matches it: the testing helpers' signatures on
the audit page, the decision table's methods (each shown somewhere besides the API reference),
and long code lines, which wrap in the site's narrow column instead of being cut off."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import yaml

import immunorules as ir
import immunorules.testing

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
AUDIT = (DOCS / "audit.md").read_text(encoding="utf-8")
HELPERS = {
    name: getattr(immunorules.testing, name)
    for name in immunorules.testing.__all__
    if inspect.isfunction(getattr(immunorules.testing, name))
}
_CODE = re.compile(r"`([a-z_]+)\(([^`]*)\)`")


def _documented(name: str, params: str) -> inspect.Signature | None:
    """The signature written as ``name(params)`` when it parses as parameters, else None (a call
    rather than a signature)."""
    try:
        function = ast.parse(f"def {name}({params}): pass").body[0]
    except SyntaxError:
        return None
    assert isinstance(function, ast.FunctionDef)
    namespace: dict[str, Any] = {}
    exec(compile(ast.Module([function], []), "<docs>", "exec"), namespace)
    return inspect.signature(namespace[name])


def _plain(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_the_audit_page_gives_every_testing_helper_its_real_signature() -> None:
    written: dict[str, list[inspect.Signature]] = {}
    for name, params in _CODE.findall(AUDIT):
        signature = _documented(name, params) if name in HELPERS else None
        if signature is not None:
            written.setdefault(name, []).append(signature)
    for name, function in HELPERS.items():
        if name.startswith(("assert_", "profiles")):
            real = _plain(inspect.signature(function))
            assert real in [_plain(s) for s in written.get(name, [])], f"{name}{real}"


def test_every_helper_call_on_the_audit_page_passes_the_knowledge_base() -> None:
    """``profiles(**finding.region)`` draws from the bundled vocabulary, not the audited one."""
    calls = [
        (name, args)
        for name, args in re.findall(r"\b([a-z_]+)\(([^()`]*)\)", AUDIT)
        if name in HELPERS
    ]
    assert calls
    for name, args in calls:
        first = args.split(",")[0].split("=")[0].strip()
        # assert_changes_within compares two knowledge bases: the old one comes first
        assert first in {"kb", "KB"} or (name, first) == ("assert_changes_within", "old"), (
            f"{name}({args})"
        )


def test_decision_table_methods_are_shown_outside_the_api_reference() -> None:
    pages = "\n".join(
        page.read_text(encoding="utf-8") for page in DOCS.glob("*.md") if page.name != "api.md"
    )
    methods = [
        name
        for name, value in vars(ir.DecisionTable).items()
        if name.startswith("to_") and callable(value)
    ]
    assert {"to_frame", "to_html"} <= set(methods)
    missing = [name for name in methods if f".{name}(" not in pages]
    assert missing == []


def test_long_code_lines_wrap_in_the_site() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    sheets = [DOCS / sheet for sheet in config.get("extra_css", [])]
    assert sheets and all(sheet.is_file() for sheet in sheets)
    css = "\n".join(sheet.read_text(encoding="utf-8") for sheet in sheets)
    rule = re.search(r"\.md-typeset pre > code\s*\{([^}]*)\}", css)
    assert rule is not None and "white-space: pre-wrap" in rule.group(1)
