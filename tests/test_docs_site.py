"""The documentation site (mkdocs.yml and docs/) stays consistent with the package.

The site itself is built by ``mkdocs build --strict`` in CI (.ci/run); these tests check what can
be checked without mkdocs: the navigation, the API reference's targets, the pages' examples, and
the tables the pages copy from the package.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

import immunorules as ir
import immunorules.testing

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MKDOCS = ROOT / "mkdocs.yml"


def config() -> dict[str, Any]:
    data = yaml.safe_load(MKDOCS.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def nav_files(nav: Any) -> list[str]:
    """Every page a nav (nested lists of ``{title: page}``) points to."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in nav_files(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_files(value)]
    raise AssertionError(f"unexpected nav entry {nav!r}")


def test_every_nav_page_exists() -> None:
    data = config()
    assert data.get("docs_dir", "docs") == "docs"
    pages = nav_files(data["nav"])
    assert pages, "mkdocs.yml has no nav"
    missing = [page for page in pages if not (DOCS / page).is_file()]
    assert missing == [], f"mkdocs.yml's nav names pages that do not exist: {missing}"
    assert len(pages) == len(set(pages)), "a page is in the nav twice"


def test_every_page_is_in_the_nav() -> None:
    pages = set(nav_files(config()["nav"]))
    orphans = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")} - pages
    assert not orphans, f"add these pages to mkdocs.yml's nav: {sorted(orphans)}"


def test_api_reference_targets_resolve() -> None:
    """Every ``::: dotted.name`` of the API page names a real object, and the page documents
    both public modules."""
    targets = re.findall(r"^::: ([\w.]+)\s*$", (DOCS / "api.md").read_text(), flags=re.M)
    assert "immunorules" in targets and "immunorules.testing" in targets
    for target in targets:
        parts = target.split(".")
        for split in range(len(parts), 0, -1):
            try:
                obj: Any = importlib.import_module(".".join(parts[:split]))
            except ImportError:
                continue
            for attribute in parts[split:]:
                obj = getattr(obj, attribute)
            break
        else:
            raise AssertionError(f"cannot import {target}")


def _public_docstrings() -> dict[str, str]:
    """The docstrings the API page renders: the two modules, every public name and every
    public member of the public classes."""
    docs: dict[str, str] = {
        "immunorules": ir.__doc__ or "",
        "immunorules.testing": immunorules.testing.__doc__ or "",
    }
    for module in (ir, immunorules.testing):
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            docs[f"{module.__name__}.{name}"] = obj.__doc__ or ""
            if inspect.isclass(obj):
                for member, value in vars(obj).items():
                    doc = getattr(value, "__doc__", None) if not member.startswith("_") else None
                    if doc and not isinstance(value, (str, int, float, bool, tuple)):
                        docs[f"{module.__name__}.{name}.{member}"] = doc
    return docs


def test_generated_pages_do_not_cite_the_internal_spec() -> None:
    """Docstrings the API page shows must not refer to a specification users do not have."""
    cited = sorted(name for name, doc in _public_docstrings().items() if "SPEC" in doc)
    assert cited == [], f"these public docstrings mention SPEC and would show in the docs: {cited}"


def _values(annotation: Any) -> list[str]:
    """The literal values a profile field's annotation allows (Optional unwrapped)."""
    values: list[str] = []
    for arg in typing.get_args(annotation) or (annotation,):
        if typing.get_origin(arg) is typing.Literal:
            values += [str(v) for v in typing.get_args(arg)]
    return values


def test_rule_format_lists_every_profile_field_and_value() -> None:
    page = (DOCS / "rule-format.md").read_text()
    for name, field in ir.ConditionProfile.model_fields.items():
        assert f"`{name}`" in page, f"docs/rule-format.md does not list the field {name}"
        for value in _values(field.annotation):
            assert f"`{value}`" in page, f"docs/rule-format.md lacks {name} = {value}"
    kb = ir.load_rules(engine="native")
    for condition in kb.conditions:
        assert f"`{condition.id}`" in page, f"docs/rule-format.md lacks condition {condition.id}"
    for category in kb.categories:
        assert f"`{category.id}`" in page
    for advisory in kb.advisories:
        if advisory.kind == "referral":
            assert f"`{advisory.key}`" in page, f"docs/rule-format.md lacks referral {advisory.key}"


EXAMPLE_PAGES = sorted(p.name for p in DOCS.glob("*.md") if ">>> " in p.read_text())


@pytest.mark.parametrize("page", EXAMPLE_PAGES)
def test_page_examples_pass(page: str) -> None:
    failures, attempted = doctest.testfile(
        str(DOCS / page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
        raise_on_error=False,
    )
    assert attempted > 0
    assert failures == 0, f"{failures} of {attempted} examples in docs/{page} failed (see above)"
