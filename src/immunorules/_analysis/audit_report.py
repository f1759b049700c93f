"""The audit's report: findings, filtering and rendering (text, JSON, Markdown, HTML).

The analysis itself is in ``_audit``; this module only holds its results. Its text, Markdown
and HTML come from the render layer (through ``Rendered``): it must never write a report itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, SerializeAsAny, computed_field

from .._model.base import WithoutV1
from .._model.matching import Scalar
from .._model.profile import ConditionProfile
from .._model.result import NOT_FOR_CLINICAL_USE, KnowledgeBaseInfo, Rendered
from .._model.rules import show_value

__all__ = [
    "KINDS",
    "SEVERITY_OF",
    "AuditReport",
    "Finding",
    "FindingKind",
    "Severity",
    "describe_region",
]

FindingKind = Literal[
    "gap",
    "unresolved_conflict",
    "dead_rule",
    "golden_case_failed",
    "missing_evidence",
    "redundant_rule",
    "masked_rule",
    "untested_rule",
    "unused_effect",
    "unused_vocabulary",
]
Severity = Literal["error", "warning", "info"]

KINDS: Final[tuple[str, ...]] = get_args(FindingKind)
SEVERITIES: Final[tuple[str, ...]] = get_args(Severity)
SEVERITY_OF: Final[dict[str, Severity]] = {
    "gap": "error",
    "unresolved_conflict": "error",
    "dead_rule": "error",
    "golden_case_failed": "error",
    "missing_evidence": "error",
    "redundant_rule": "warning",
    "masked_rule": "warning",
    "untested_rule": "warning",
    "unused_effect": "info",
    "unused_vocabulary": "info",
}


class _Frozen(WithoutV1, BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Finding(_Frozen):
    """One thing the audit found, with the rules involved and, where one exists, a concrete
    profile that shows it (``example_profile``) and the profiles it concerns.

    A finding about profiles is about one cause (a gap, a rule on one side of conflicts, a
    masked or redundant rule), and its profiles are the union of ``regions``: disjoint mappings
    of field -> allowed values (a field left out takes any value), the largest first.
    ``region`` is the first of them, the one holding ``example_profile``; ``region_text`` says
    the whole union in words and ``region_size`` counts its profiles. ``rule_ids`` name the
    cause's rule first (for a conflict: then every rule on the other side somewhere in its
    profiles)."""

    kind: FindingKind
    severity: Severity
    rule_ids: tuple[str, ...] = ()
    message: str
    example_profile: SerializeAsAny[ConditionProfile] | None = None
    region: dict[str, list[Scalar]] | None = None
    regions: tuple[dict[str, list[Scalar]], ...] = ()
    """Every region of the finding, disjoint, the largest first (``region`` is the first)."""
    region_text: str | None = None
    """The finding's profiles in words, e.g. ``condition = melanoma; prior_lines_of_therapy >=
    1`` (the union of ``regions``)."""
    region_size: int | None = None
    """How many valid profiles the finding is about (all of ``regions``)."""
    subject: str | None = None
    """What an ``unused_vocabulary`` finding is about, e.g. ``advisory:pml_risk``, or an
    ``unused_effect`` one, e.g. ``avoid:jak_inhibitors`` or ``flag:immunostimulants``."""

    def to_text(self) -> str:
        lines = [f"[{self.severity}] {self.kind}: {self.message}"]
        if self.rule_ids:
            lines.append(f"    rules: {', '.join(self.rule_ids)}")
        if self.region is not None:
            lines.append(f"    region: {self.region_text or describe_region(self.region)}")
        if self.example_profile is not None:
            lines.append(f"    example: {compact_profile(self.example_profile)}")
        return "\n".join(lines)


def describe_region(region: dict[str, list[Scalar]]) -> str:
    """A region as conditions, e.g. ``severity in [moderate, severe]`` (without the knowledge
    base's domains at hand; findings carry the fuller ``region_text``)."""
    parts = []
    for name, values in region.items():
        numbers = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
        if len(values) == 1:
            parts.append(f"{name} = {show_value(values[0])}")
        elif len(numbers) == len(values) and numbers == list(range(numbers[0], numbers[-1] + 1)):
            parts.append(f"{name} in {numbers[0]}..{numbers[-1]}")
        else:
            parts.append(f"{name} in [{', '.join(show_value(v) for v in values)}]")
    return "; ".join(parts) or "every profile"


def compact_profile(profile: ConditionProfile) -> str:
    """A profile as ``field=value`` items, leaving out fields at their defaults."""
    data = profile.model_dump(mode="json", exclude_defaults=True)
    data.setdefault("disease_area", profile.disease_area)
    return ", ".join(f"{key}={show_value(value)}" for key, value in data.items())


def _choices(value: str | Iterable[str] | None, allowed: tuple[str, ...], what: str) -> set[str]:
    if value is None:
        return set(allowed)
    chosen = {value} if isinstance(value, str) else set(value)
    unknown = sorted(chosen - set(allowed))
    if unknown:
        raise ValueError(f"unknown finding {what} {unknown}; expected some of {list(allowed)}")
    return chosen


class AuditReport(Rendered, _Frozen):
    """Everything ``audit(kb)`` found. ``ok`` is true when no finding is an error.

    ``findings`` lists at most ``max_findings`` findings of each kind (those about the most
    profiles); ``totals`` counts every finding of each kind the audit made, listed or not, and
    ``truncated`` says whether some are not listed."""

    _render_kind: ClassVar[str] = "audit"

    findings: tuple[Finding, ...]
    knowledge_base: KnowledgeBaseInfo
    active_rules: int
    profiles: int
    """How many valid profiles the audit analysed (all of them, exactly)."""
    totals: dict[FindingKind, int] = {}
    """Findings of each kind, including those not listed; empty: exactly those listed."""
    max_findings: int | None = None
    """The most findings of one kind listed (None: no limit)."""
    notice: str = NOT_FOR_CLINICAL_USE

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return not any(finding.severity == "error" for finding in self.findings)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def truncated(self) -> bool:
        """Whether some findings are counted in ``totals`` but not listed."""
        return any(self.total(kind) > len(self.filter(kind=kind)) for kind in self.totals)

    def total(self, kind: str) -> int:
        """How many findings of this kind the audit made, listed or not."""
        _choices(kind, KINDS, "kind")
        if kind in self.totals:
            return self.totals[kind]
        return len(self.filter(kind=kind))

    @property
    def errors(self) -> tuple[Finding, ...]:
        return self.filter(severity="error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return self.filter(severity="warning")

    @property
    def infos(self) -> tuple[Finding, ...]:
        return self.filter(severity="info")

    def filter(
        self,
        kind: str | Iterable[str] | None = None,
        severity: str | Iterable[str] | None = None,
        rule_id: str | None = None,
    ) -> tuple[Finding, ...]:
        """The findings of these kinds and severities (each one name or several), optionally
        only those naming ``rule_id``. An unknown kind or severity is a ``ValueError``."""
        kinds = _choices(kind, KINDS, "kind")
        severities = _choices(severity, SEVERITIES, "severity")
        return tuple(
            finding
            for finding in self.findings
            if finding.kind in kinds
            and finding.severity in severities
            and (rule_id is None or rule_id in finding.rule_ids)
        )

    def counts(self) -> dict[str, int]:
        """Findings per severity, e.g. ``{"error": 0, "warning": 1, "info": 12}``, counting
        those not listed too (see ``totals``)."""
        counts = dict.fromkeys(SEVERITIES, 0)
        for kind in KINDS:
            counts[SEVERITY_OF[kind]] += self.total(kind)
        return counts

    def summary(self) -> str:
        counts = self.counts()
        state = "OK" if self.ok else "FAILED"
        errors, warnings = counts["error"], counts["warning"]
        return (
            f"{state}: {errors} error{'s' * (errors != 1)}, "
            f"{warnings} warning{'s' * (warnings != 1)}, {counts['info']} info"
        )

    # -- rendering ---------------------------------------------------------------------------

    def to_text(self) -> str:
        """A plain-text report: errors, then warnings, then info (unused vocabulary in brief),
        the notice last."""
        return self._rendered("text")

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON (``model_dump(mode="json")``, with ``ok``)."""
        return self.model_dump_json(indent=indent)
