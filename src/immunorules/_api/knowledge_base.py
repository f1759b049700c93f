"""The knowledge base: loaded rules bound to a matching engine, and its public methods.

It is the front door's object: every layer below reaches it only through the Protocol of
``_evaluate.protocol``. It must never hold evaluation or analysis logic itself; it delegates.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar, Literal, overload

from .._analysis.audit_report import AuditReport
from .._analysis.decision_table import DecisionTable
from .._analysis.whynot import WhyNot
from .._engines.native import NativeMatcher
from .._errors import EngineError, ProfileError
from .._evaluate.assume import Assume, assumptions, fill
from .._evaluate.batch import ResultCache
from .._evaluate.depends import Depends
from .._evaluate.resolve import Resolver
from .._load.about import About
from .._load.loader import BUNDLED_RULES, LoadedRules, PathInput, load_rule_files
from .._model.cache import BoundedCache
from .._model.matching import Matcher
from .._model.profile import ConditionProfile
from .._model.result import KnowledgeBaseInfo, Rendered, Result
from .._model.rules import Evidence, Rule
from .._model.schema import Schema
from .._model.space import FlatSpace
from .._model.vocabulary import AdvisoryDef, Category, ConditionDef, FieldDef, Subcategory

__all__ = ["EngineName", "KnowledgeBase", "__version__", "load_rules"]

EngineName = Literal["auto", "durable", "native"]
ProfileInput = ConditionProfile | Mapping[str, Any]

try:
    __version__ = version("immunorules")
except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
    __version__ = "0+unknown"


def load_rules(
    paths: PathInput | Sequence[PathInput] | None = None, *, engine: EngineName = "auto"
) -> KnowledgeBase:
    """Load a knowledge base: the bundled rules by default, or only the rule files under ``paths``.

    Raises :class:`RuleFileError` listing every problem in every file.
    """
    loaded = load_rule_files(BUNDLED_RULES if paths is None else paths)
    bundled = paths is None or _is_bundled(paths)
    return KnowledgeBase(loaded, engine=engine, bundled=bundled)


def _is_bundled(paths: PathInput | Sequence[PathInput]) -> bool:
    items = [paths] if isinstance(paths, str) or not isinstance(paths, Sequence) else paths
    return [Path(p).resolve() for p in items] == [BUNDLED_RULES.resolve()]


class KnowledgeBase(Rendered):
    """Rules bound to a matching engine. Evaluate profiles with :meth:`evaluate`."""

    _render_kind: ClassVar[str] = "kb"

    def __init__(self, loaded: LoadedRules, *, engine: EngineName = "auto", bundled: bool) -> None:
        self._loaded = loaded
        self._rules_by_id = {rule.id: rule for rule in loaded.rules}
        self._active = tuple(rule for rule in loaded.rules if rule.active)
        self.fingerprint: str = _fingerprint(loaded)
        about = _about(loaded, bundled=bundled)
        self.name: str = about["name"]
        self.version: str = about["version"]
        self.schema: Schema = loaded.schema
        self.space: FlatSpace = loaded.space
        self._matcher: Matcher = _make_matcher(
            engine, [loaded.space.matcher(rule) for rule in self._active], loaded.space.domains
        )
        self.engine: str = self._matcher.name
        self._info = KnowledgeBaseInfo(fingerprint=self.fingerprint, engine=self.engine, **about)
        self._bundled = bundled
        # The resolver numbers the active rules as the native engine and the dependencies do.
        self._resolver = Resolver(
            {rule.id: rule for rule in self._active},
            self._info,
            evidence=loaded.evidence,
            schema=loaded.schema,
        )
        self._resolver.depends = Depends(loaded.schema, loaded.space, self._active)
        # The native engine's tables are the dependencies' own: one pass over a profile reads
        # both (Resolver.evaluate); another engine is asked which rules fire.
        self._fused = isinstance(self._matcher, NativeMatcher) and self._matcher.rule_ids == tuple(
            rule.id for rule in self._resolver.depends.rules
        )
        self._results = ResultCache()

    # -- contents ----------------------------------------------------------------------------

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule loaded (any status), sorted by id."""
        return self._loaded.rules

    @property
    def active_rules(self) -> tuple[Rule, ...]:
        return self._active

    @property
    def evidence(self) -> dict[str, Evidence]:
        return dict(self._loaded.evidence)

    @property
    def files(self) -> tuple[str, ...]:
        return self._loaded.files

    @property
    def profile_model(self) -> type[ConditionProfile]:
        """This knowledge base's profile class: a frozen pydantic model built from its
        vocabulary (:class:`ConditionProfile` itself when the vocabulary adds no field,
        condition or disease area)."""
        return self.schema.profile_model

    @property
    def fields(self) -> dict[str, FieldDef]:
        """Each profile field's definition: type, domain (``values``, ``min``/``max``),
        default, ``modifiable``, ``description``."""
        return dict(self.schema.fields)

    @property
    def scope(self) -> tuple[Rule, ...]:
        """The regions the rule files claim to cover (empty: the whole profile space)."""
        return self._loaded.scope

    @property
    def conditions(self) -> tuple[ConditionDef, ...]:
        return self.schema.vocabulary.conditions

    @property
    def categories(self) -> tuple[Category, ...]:
        return self.schema.vocabulary.categories

    @property
    def subcategories(self) -> tuple[Subcategory, ...]:
        return self.schema.vocabulary.subcategories

    @property
    def advisories(self) -> tuple[AdvisoryDef, ...]:
        return self.schema.vocabulary.advisories

    def parse(self, profile: object) -> ConditionProfile:
        """A valid profile of this knowledge base from a profile or a dict; raises
        :class:`ProfileError` listing every problem."""
        return self.schema.parse(profile)

    @property
    def info(self) -> KnowledgeBaseInfo:
        """Its name, version, fingerprint and engine, and the description, effective date and
        authors its ``knowledge-base.yaml`` gives: what every result and audit report carries
        as ``knowledge_base``."""
        return self._info

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id; ``KeyError`` if there is none."""
        return self._rules_by_id[rule_id]

    def __repr__(self) -> str:
        return (
            f"<KnowledgeBase {self.name} {self.version}: {len(self._active)} active rules, "
            f"engine={self.engine}>"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """A pickle carries the loaded rules (about 170 kB for the bundled ones, pickled once
        per knowledge base), never the engine or the caches: unpickling rebuilds the knowledge
        base from them, once per process for the same rules and engine, so it travels cheaply
        to worker processes (multiprocessing, Dask, Spark) however many tasks carry it."""
        rules = self.__dict__.get("_pickled_rules")
        if rules is None:
            rules = self.__dict__["_pickled_rules"] = pickle.dumps(self._loaded, protocol=5)
        identity = f"{self.name} {self.version}"  # the same rules may be named otherwise
        return (_rebuild, (self.fingerprint, self.engine, self._bundled, rules, identity))

    # -- evaluation --------------------------------------------------------------------------

    def match(self, profile: ProfileInput) -> tuple[Rule, ...]:
        """The active rules whose conditions hold for ``profile``, sorted by id."""
        checked = self.schema.parse(profile)
        ids = self._matcher.match(self.space.fact(checked))
        return tuple(self._rules_by_id[rule_id] for rule_id in sorted(ids))

    def evaluate(
        self, profile: ProfileInput, *, depends_on: bool = True, assume: Assume = None
    ) -> Result:
        """Evaluate one profile (a :class:`ConditionProfile` or a dict).

        The result lists the fields the profile leaves not stated (``unstated``) and, for each
        of them whose stated value would change the answer, a :class:`Dependency`
        (``depends_on``: the values that would, and what they would change), computed exactly
        from the rules; ``depends_on=False`` leaves that out (a little faster).
        ``assume={"pregnant": False, ...}`` fills the named fields when the profile leaves them
        not stated, and ``assume="v2"`` every field whose default is not stated with earlier
        versions' reading (false, ``"none"``, empty, 0); what was filled is in
        ``result.assumed``. Raises :class:`ProfileError` for an invalid profile or policy.
        """
        checked = self.schema.parse(profile)
        if assume is None:  # _evaluate_checked, one call less
            return self._resolver.evaluate(
                checked,
                None if self._fused else self._matcher.match(self.space.fact(checked)),
                depends_on=depends_on,
            )
        filled, assumed = fill(self.schema, checked, assumptions(self.schema, assume))
        return self._evaluate_checked(filled, depends_on=depends_on, assumed=assumed)

    def _evaluate_checked(
        self,
        profile: ConditionProfile,
        /,
        *,
        depends_on: bool = True,
        assumed: Mapping[str, Any] | None = None,
    ) -> Result:
        return self._resolver.evaluate(
            profile,
            None if self._fused else self._matcher.match(self.space.fact(profile)),
            depends_on=depends_on,
            assumed=assumed,
        )

    @overload
    def evaluate_many(
        self,
        profiles: Iterable[ProfileInput],
        *,
        workers: int = 1,
        errors: Literal["raise"] = "raise",
        depends_on: bool = True,
        assume: Assume = None,
    ) -> list[Result]: ...

    @overload
    def evaluate_many(
        self,
        profiles: Iterable[ProfileInput],
        *,
        workers: int = 1,
        errors: Literal["collect"],
        depends_on: bool = True,
        assume: Assume = None,
    ) -> list[Result | ProfileError]: ...

    def evaluate_many(
        self,
        profiles: Iterable[ProfileInput],
        *,
        workers: int = 1,
        errors: Literal["raise", "collect"] = "raise",
        depends_on: bool = True,
        assume: Assume = None,
    ) -> list[Result] | list[Result | ProfileError]:
        """Evaluate many profiles: the same results as :meth:`evaluate`, in input order.

        Each distinct profile is evaluated once, and each distinct plain dict validated once
        (results are kept in a bounded cache of this knowledge base, so repeated calls are fast
        too). ``errors="raise"``
        raises :class:`ProfileError` for the first invalid input, its paths prefixed with the
        input's index (``[3].severity``); ``errors="collect"`` puts the :class:`ProfileError`
        that :meth:`evaluate` would raise in that position instead. ``workers=N`` (N > 1)
        matches the distinct profiles in N spawn-started processes that rebuild this knowledge
        base from its rules: worth it for large batches on the durable engine only, as starting
        them takes about a second. ``depends_on`` and ``assume`` as for :meth:`evaluate`.
        """
        from .._evaluate.batch import evaluate_many

        return evaluate_many(
            self, profiles, workers=workers, errors=errors, depends_on=depends_on, assume=assume
        )

    @overload
    def iter_evaluate(
        self,
        profiles: Iterable[ProfileInput],
        *,
        batch_size: int = 10_000,
        errors: Literal["raise"] = "raise",
        depends_on: bool = True,
        assume: Assume = None,
    ) -> Iterator[Result]: ...

    @overload
    def iter_evaluate(
        self,
        profiles: Iterable[ProfileInput],
        *,
        batch_size: int = 10_000,
        errors: Literal["collect"],
        depends_on: bool = True,
        assume: Assume = None,
    ) -> Iterator[Result | ProfileError]: ...

    def iter_evaluate(
        self,
        profiles: Iterable[ProfileInput],
        *,
        batch_size: int = 10_000,
        errors: Literal["raise", "collect"] = "raise",
        depends_on: bool = True,
        assume: Assume = None,
    ) -> Iterator[Result] | Iterator[Result | ProfileError]:
        """Evaluate profiles as they come, yielding results in input order with memory bounded
        by ``batch_size``: the input is read ``batch_size`` profiles at a time (a generator
        over a file of any length is fine) and each batch evaluated like
        :meth:`evaluate_many`. ``errors`` as there: ``"raise"`` raises at the first invalid
        profile (after yielding the results before it), ``"collect"`` yields its
        :class:`ProfileError` in its place. ``depends_on`` and ``assume`` as for
        :meth:`evaluate`."""
        from .._evaluate.stream import iter_evaluate

        return iter_evaluate(
            self,
            profiles,
            batch_size=batch_size,
            errors=errors,
            depends_on=depends_on,
            assume=assume,
        )

    def evaluate_frame(self, table: Any, *, id_columns: str | Sequence[str] | None = None) -> Any:
        """Evaluate every row of a table (one profile per row, columns named after profile fields)
        and return a table of the same kind with one row per input row, in order.

        ``table`` is a pandas DataFrame, a pyarrow Table or RecordBatch, or a polars DataFrame.
        The output holds the id columns unchanged (``id_columns``: a column name or a list of
        them; by default every column that is not a profile field, so a ``patient_id`` column
        needs no option), then ``covered`` and ``conflict`` (booleans), one ``tier_<category>``
        column per category (``first_line``, ``escalation``, ``flagged``, or null when the
        category is not suggested), ``avoided`` (drug classes, or categories avoided whole),
        ``advisories`` (keys), ``fired_rules`` (rule ids), ``unstated`` (the fields the row leaves
        not stated) and ``depends_on`` (those of them whose stated value would change its
        answer, as ``Result.depends_on`` names them), each a list per row (a tuple in
        pandas; in Arrow and polars a list of dictionary-encoded strings, so no name is copied
        per row), and ``error``: null, or for an invalid row the message of the
        :class:`ProfileError` that ``evaluate`` would raise (its other cells are null). Invalid
        rows never stop the others. With ``id_columns`` given, a column that is neither a
        profile field nor an id column is a :class:`ProfileError`.

        A missing cell (None, NaN, ``pd.NA``, null) is a field not given, so its default
        applies; an integral float is an integer; a set field's cell is a list of members. The
        answers are those of :meth:`evaluate` row by row, computed column by column.
        ``immunorules.evaluate_frame(table)`` does the same with the bundled knowledge base.
        """
        from .._evaluate.frame import evaluate_frame

        return evaluate_frame(table, self, id_columns=id_columns)

    # -- explanations (computed in _analysis, rendered in _render) ----------------------------

    def why_not(
        self,
        profile: ProfileInput,
        category: str,
        *,
        max_changes: int = 3,
        fixed: Iterable[str] = (),
        fields: Iterable[str] | None = None,
    ) -> WhyNot:
        """Why ``category`` is or is not suggested for ``profile``: the rules that could suggest
        it with each condition held or failed, the avoid/flag rules that overrode it, and the
        smallest profile changes (verified) that would make it a first-line or escalation
        suggestion, changing at most ``max_changes`` fields: those in ``fields`` if given, else
        every field but ``fixed`` if given, else only the fields the vocabulary marks
        ``modifiable`` (a treatable state, never the condition or a history). Raises
        :class:`ProfileError` or ``ValueError`` (unknown category or field)."""
        from .._analysis.whynot import why_not

        return why_not(self, profile, category, max_changes=max_changes, fixed=fixed, fields=fields)

    def decision_table(self, *, include_inactive: bool = False) -> DecisionTable:
        """One row per active rule (every rule with ``include_inactive``): the condition on each
        field it tests, its effects and evidence; ``.to_markdown()``, ``.to_csv()``, and
        ``.to_records()`` for flat text rows (``row["rule"]``, ``row["when"]``, ...)."""
        from .._analysis.decision_table import decision_table

        return decision_table(self, include_inactive=include_inactive)

    def to_dmn(self, path: str | os.PathLike[str]) -> Path:
        """Write what the active rules answer as a DMN 1.3 model at ``path`` (export only):
        input data named by field id (a set field: one boolean input ``<field>.<member>`` per
        member the rules name), a decision ``tier_<category>`` per category (hit policy
        PRIORITY over ``avoided``, ``flagged``, ``first_line``, ``escalation``; null when none
        applies) and the decisions ``avoided`` and ``advisories`` (hit policy COLLECT). A fact
        not stated is null. Explanations, evidence, the audit and dependencies are not carried.
        Returns the path written."""
        from .._interop import write_dmn

        return write_dmn(self, path)

    def to_jdm(self, path: str | os.PathLike[str]) -> Path:
        """Write what the active rules answer as a GoRules JSON Decision Model at ``path``
        (decision tables only; export only). For the profile as JSON (field ids as keys, not
        stated as null) it answers ``{"tiers": {category: tier or null}, "avoided": [drug
        class ids], "advisories": [keys]}``. Returns the path written."""
        from .._interop import write_jdm

        return write_jdm(self, path)

    def audit(
        self,
        *,
        scope: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        max_findings: int | None = 500,
        progress: Callable[[str, int, int], None] | bool | None = None,
    ) -> AuditReport:
        """Deprecated: use ``immunorules.audit(kb)``, the one documented spelling."""
        warnings.warn(
            "kb.audit() is deprecated; use immunorules.audit(kb)", DeprecationWarning, stacklevel=2
        )
        from .._analysis.audit import audit

        return audit(self, scope=scope, max_findings=max_findings, progress=progress)

    def summary(self) -> str:
        """Deprecated: use ``kb.explain()`` (or ``str(kb)``), the spelling every model shares."""
        warnings.warn(
            "kb.summary() is deprecated; use kb.explain() or str(kb)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._rendered("text")

    def to_json(self, *, indent: int | None = 2) -> str:
        """The summary as JSON: identity, counts, and one record per rule."""
        return self._rendered("json", indent=indent)


#: Knowledge bases rebuilt from pickles in this process, by (fingerprint, engine, bundled, name and
#: version): a worker that receives the same knowledge base with every task builds it once.
_REBUILT: BoundedCache[tuple[str, str, bool, str], KnowledgeBase] = BoundedCache(8)
_REBUILT_LOCK = threading.Lock()  # one build per key


def _rebuild(
    fingerprint: str, engine: str, bundled: bool, rules: bytes, identity: str = ""
) -> KnowledgeBase:
    """The knowledge base of a pickle (see :meth:`KnowledgeBase.__reduce__`): the rules are
    unpickled only when this process has not rebuilt it yet."""
    key = (fingerprint, engine, bundled, identity)
    with _REBUILT_LOCK:
        kb = _REBUILT.get(key)
        if kb is None:
            loaded = pickle.loads(rules)
            kb = KnowledgeBase(loaded, engine=engine, bundled=bundled)  # type: ignore[arg-type]
            if kb.fingerprint != fingerprint:  # pragma: no cover - a rebuild that differs
                raise EngineError("an unpickled knowledge base has other rules than its pickle")
            _REBUILT.put(key, kb)
        return kb


#: The version of a rule folder whose ``knowledge-base.yaml`` gives none.
UNVERSIONED = "unversioned"


def _about(loaded: LoadedRules, *, bundled: bool) -> dict[str, Any]:
    """Name, version, description, effective date and authors of the rules loaded: each path's
    own (the bundled folder's version is the library's), several joined (``bundled+gca``)."""
    parts = loaded.about
    if not parts:  # rules pickled before paths described themselves
        parts = (About(name="immunorules-bundled" if bundled else "custom", bundled=bundled),)
    versions = [part.version or (__version__ if part.bundled else UNVERSIONED) for part in parts]
    described = [part for part in parts if part.description]
    if len(described) == 1:
        description = described[0].description
    else:
        description = "; ".join(f"{part.name}: {part.description}" for part in described) or None
    dates = [part.effective for part in parts if part.effective is not None]
    return {
        "name": "+".join(part.name for part in parts),
        "version": "+".join(versions),
        "description": description,
        "effective": max(dates) if dates else None,
        "authors": tuple(dict.fromkeys(a for part in parts for a in part.authors)),
    }


def _make_matcher(
    engine: EngineName, matchers: Sequence[Any], domains: Mapping[str, Sequence[Any]]
) -> Matcher:
    if engine not in ("auto", "durable", "native"):
        raise ValueError(f"engine must be 'auto', 'durable' or 'native', not {engine!r}")
    if engine == "native":
        return NativeMatcher(matchers, domains)
    from .._engines.durable import DurableMatcher, durable_available

    if engine == "auto" and not durable_available():
        return NativeMatcher(matchers, domains)
    if not durable_available():
        raise EngineError("durable_rules is not importable here; use engine='native'")
    return DurableMatcher(matchers)


def _fingerprint(loaded: LoadedRules) -> str:
    def canonical(rule: Rule) -> dict[str, Any]:
        data = rule.model_dump(mode="json", exclude={"file", "line", "when", "tests", "sets"})
        data["when"] = {
            name: [v for v in loaded.space.domains[name] if v in allowed]
            for name, allowed in sorted(rule.when.items())
        }
        if rule.sets:
            data["sets"] = {
                name: {
                    "includes": sorted(test.includes),
                    "includes_any": [sorted(group) for group in test.includes_any],
                    "excludes": sorted(test.excludes),
                    **({"or_not_stated": True} if test.or_not_stated else {}),
                }
                for name, test in sorted(rule.sets.items())
            }
        data["tests"] = [case.model_dump(mode="json", exclude={"line"}) for case in rule.tests]
        return data

    content: dict[str, Any] = {
        "rules": [canonical(rule) for rule in loaded.rules],
        "evidence": {
            key: entry.model_dump(mode="json", exclude={"file", "line"})
            for key, entry in loaded.evidence.items()
        },
    }
    if not loaded.schema.bundled:
        content["vocabulary"] = loaded.schema.vocabulary.model_dump(mode="json")
    if loaded.scope:
        # a region's title names the file it came from: where the rules live is not content
        content["scope"] = [
            {k: v for k, v in canonical(region).items() if k != "title"} for region in loaded.scope
        ]
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()
