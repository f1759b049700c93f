"""pytest plugin: every golden case (``tests:``) of your rule files as its own test item.

Installed with the package (entry point ``pytest11``); inactive unless rule paths are given::

    pytest --immunorules-rules my_rules/            # golden cases of my_rules/
    pytest --immunorules-rules bundled --immunorules-rules my_rules/ --immunorules-audit

or in the ini file: ``immunorules_rules = my_rules`` (paths relative to it). The paths are loaded
together as one knowledge base. Items are named ``<rule file>::<RULE-ID>[<n>]`` (the n-th case
of the rule); ``--immunorules-audit`` adds an item ``immunorules-audit`` that fails on error
findings. A rule set that does not load gives one failing item, ``immunorules-rules``, listing
every problem; so does any other exception while loading (never a pytest INTERNALERROR). When the
golden cases ran, the summary at the end shows their coverage: the share of active rules they
fire and of effects they check, and the rules none fires.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .._analysis.golden import GoldenCaseRef, golden_cases
from .._api.functions import audit, coverage
from .._api.knowledge_base import KnowledgeBase, load_rules
from .._errors import EngineError, ImmunorulesError
from .._load.loader import BUNDLED_RULES

__all__ = ["AuditItem", "GoldenCaseItem", "RuleFile"]

_KB = pytest.StashKey[KnowledgeBase | Exception]()
_COVERAGE = pytest.StashKey[bool]()  # whether the golden cases were added (so the summary shows)
_MAX_LISTED = 20  # untested rules named in the summary
_ENGINE_ARGUMENT = re.compile(r"\bengine=(['\"])(\w+)\1")
_MAX_MESSAGE = 2000


class _Failure(Exception):
    """A failure whose message is the whole report (no traceback)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("immunorules", "immunorules rule files")
    group.addoption(
        "--immunorules-rules",
        action="append",
        default=[],
        metavar="PATH",
        help="rule file or folder whose golden cases run as test items ('bundled' = the "
        "bundled rules); repeat to load several together",
    )
    group.addoption(
        "--immunorules-engine",
        default="auto",
        choices=("auto", "durable", "native"),
        help="matching engine for the golden cases (default: auto)",
    )
    group.addoption(
        "--immunorules-audit",
        action="store_true",
        default=False,
        help="also run the rule audit as one test item, failing on error findings",
    )
    parser.addini("immunorules_rules", "rule files or folders (as --immunorules-rules)", "paths")


def _rule_paths(config: pytest.Config) -> list[Path]:
    given = [BUNDLED_RULES if p == "bundled" else Path(p) for p in config.option.immunorules_rules]
    return given or list(config.getini("immunorules_rules"))


def _knowledge_base(config: pytest.Config) -> KnowledgeBase | Exception:
    """The rule paths loaded once, or the exception loading them raised: any exception, since
    one escaping from a collection hook is a pytest INTERNALERROR instead of a failing item."""
    if _KB not in config.stash:
        try:
            config.stash[_KB] = load_rules(
                _rule_paths(config), engine=config.option.immunorules_engine
            )
        except Exception as exc:
            config.stash[_KB] = exc
    return config.stash[_KB]


def _load_failure(error: Exception) -> str:
    """What the failing ``immunorules-rules`` item says about an exception while loading."""
    if isinstance(error, EngineError):
        text = _ENGINE_ARGUMENT.sub(r"--immunorules-engine \2", str(error))
        return f"the rule files cannot be evaluated: {_clipped(text)}"
    if isinstance(error, ImmunorulesError):
        return f"the rule files do not load:\n{_clipped(str(error))}"
    return (
        f"the rule files could not be loaded: {type(error).__name__}: {_clipped(str(error))}\n"
        "This is a bug in immunorules, not a problem you can fix in the rule files' tests; "
        "please report it together with the rule files."
    )


def _selected(config: pytest.Config) -> bool:
    """Whether this run asks for the rule files' items: always with ``--immunorules-rules`` or
    a run of the whole suite; with paths or node ids on the command line (``pytest
    tests/test_x.py::test_one``) only when one of them is (or holds, or lies in) a rule path,
    or names an ``immunorules-`` item."""
    if config.option.immunorules_rules or config.args_source != pytest.Config.ArgsSource.ARGS:
        return True
    rules = [Path(path).resolve() for path in _rule_paths(config)]
    for arg in config.args:
        name = arg.split("::", 1)[0]
        if name.startswith("immunorules-"):
            return True
        target = (config.invocation_params.dir / name).resolve()
        if any(
            target == rule or rule in target.parents or target in rule.parents for rule in rules
        ):
            return True
    return False


def _clipped(text: str) -> str:
    if len(text) <= _MAX_MESSAGE:
        return text
    return f"{text[:_MAX_MESSAGE]}... ({len(text):,} characters)"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add the golden-case items before selection (``-k``, ``-m``, ``--lf``) runs."""
    if not _rule_paths(config) or not _selected(config):
        return
    loaded = _knowledge_base(config)
    added: list[pytest.Item] = []
    if isinstance(loaded, Exception):
        added.append(
            AuditItem.from_parent(
                session, name="immunorules-rules", nodeid="immunorules-rules", error=loaded
            )
        )
    else:
        by_file: dict[str, list[GoldenCaseRef]] = {}
        for ref in sorted(golden_cases(loaded), key=lambda r: (r.rule.file, r.case.line or 0)):
            by_file.setdefault(ref.rule.file, []).append(ref)
        for file, refs in by_file.items():
            node = RuleFile.from_parent(session, path=Path(file).resolve())
            node.refs = refs
            node.kb = loaded
            found = list(node.collect())
            # report them as collected, so that "collected N items" counts them
            config.hook.pytest_collectreport(
                report=pytest.CollectReport(node.nodeid, "passed", None, list[Any](found))
            )
            added.extend(found)
        config.stash[_COVERAGE] = True
        if config.option.immunorules_audit:
            added.append(
                AuditItem.from_parent(session, name="immunorules-audit", nodeid="immunorules-audit")
            )
    items.extend(added)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The golden cases' coverage, after the run that added them."""
    loaded = config.stash.get(_KB, None)
    if not config.stash.get(_COVERAGE, False) or not isinstance(loaded, KnowledgeBase):
        return
    try:
        report = coverage(loaded)
    except Exception as exc:  # the summary never turns a run into an INTERNALERROR
        terminalreporter.write_line(f"immunorules coverage failed: {type(exc).__name__}: {exc}")
        return
    info = report.knowledge_base
    terminalreporter.write_sep("-", "immunorules coverage")
    terminalreporter.write_line(
        f"{info.name} {info.version} (fingerprint {info.fingerprint[:12]}): "
        f"{report.rules - len(report.untested_rules):,} of {report.rules:,} active rules fired "
        f"by a golden case ({report.rule_share:.0%}), {report.observed_effects:,} of "
        f"{report.effects:,} effects checked ({report.effect_share:.0%})"
    )
    untested = report.untested_rules
    if untested:
        more = len(untested) - _MAX_LISTED
        listed = ", ".join(untested[:_MAX_LISTED]) + (f" and {more:,} more" if more > 0 else "")
        terminalreporter.write_line(f"untested rules ({len(untested):,}): {listed}")
    if report.unobserved_effects:
        terminalreporter.write_line(
            f"unobserved effects: {len(report.unobserved_effects):,} (immunorules coverage "
            "lists them)"
        )


class RuleFile(pytest.File):
    """A rule file, the parent of its rules' golden-case items."""

    refs: list[GoldenCaseRef]
    kb: KnowledgeBase

    def collect(self) -> Iterator[GoldenCaseItem]:
        for ref in self.refs:
            yield GoldenCaseItem.from_parent(self, name=ref.id, ref=ref, kb=self.kb)


class GoldenCaseItem(pytest.Item):
    """One golden case: its profile evaluated, its expectations checked."""

    def __init__(self, *, ref: GoldenCaseRef, kb: KnowledgeBase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ref = ref
        self.kb = kb

    def runtest(self) -> None:
        message = self.ref.describe_failure(self.kb)
        if message is not None:
            raise _Failure(message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, _Failure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.ref.case.line or self.ref.rule.line
        return self.path, None if line is None else line - 1, f"golden case {self.ref.id}"


class AuditItem(pytest.Item):
    """The rule audit (or the load error of the rule files) as one test item."""

    def __init__(self, *, error: Exception | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        if self.error is not None:
            raise _Failure(_load_failure(self.error))
        loaded = _knowledge_base(self.config)
        assert isinstance(loaded, KnowledgeBase)
        report = audit(loaded)
        if not report.ok:
            raise _Failure(report.to_text())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, _Failure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name
