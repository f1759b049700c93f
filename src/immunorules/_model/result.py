"""The result of evaluating a profile: suggestions, avoidances, advisories and conflicts.

Every model is a frozen pydantic model; every line carries the reasons (rules) behind it.
Rendering lives in ``_render``; these classes only delegate to it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal, NoReturn

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SerializeAsAny

from .._registry import register_renderer as register_renderer
from .._registry import renderer as _renderer
from .base import WithoutV1
from .profile import ConditionProfile

__all__ = [
    "NOT_FOR_CLINICAL_USE",
    "Advisory",
    "Avoidance",
    "Citation",
    "Conflict",
    "Dependency",
    "KnowledgeBaseInfo",
    "Reason",
    "Result",
    "Suggestion",
]

NOT_FOR_CLINICAL_USE = (
    "Research prototype - NOT FOR CLINICAL USE. immunorules suggests therapy categories and drug "
    "classes from declarative rules; it names no drugs or doses and replaces no clinician."
)

Tier = Literal["first_line", "escalation", "flagged"]
Value = str | bool | int | None | tuple[str, ...]


class _Frozen(WithoutV1, BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Rendered:
    """Notebook and ``str()`` display from a model's own text, Markdown and HTML renderings.

    Put it before the pydantic base, so its ``__str__`` wins over pydantic's. ``_render_kind``
    names the renderers (``result``, ``whynot``, ``audit``, ``kb``).
    """

    _render_kind: ClassVar[str] = ""

    def _rendered(self, format: str, **options: object) -> str:
        # the renderers are registered by the front door, never imported from here
        return _renderer(self._render_kind, format)(self, **options)

    def explain(self) -> str:
        """A plain-text explanation, with the not-for-clinical-use notice."""
        return self._rendered("text")

    def to_markdown(self) -> str:
        """Markdown, with the not-for-clinical-use notice."""
        return self._rendered("markdown")

    def to_html(self) -> str:
        """Self-contained HTML (no external CSS, scripts or fonts; all text escaped)."""
        return self._rendered("html")

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        return self.explain()


class ReadOnlyDict(dict[str, Value]):
    """A dict that refuses changes: reasons are shared between results, so their ``matched``
    values must not be edited in place (it serialises, compares and pickles as a dict)."""

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a reason's matched values are read-only")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self) -> tuple[type[ReadOnlyDict], tuple[dict[str, Value]]]:
        return (ReadOnlyDict, (dict(self),))


class Reason(_Frozen):
    """Why a line is in the result: the rule that fired and the profile values it matched."""

    rule_id: str
    title: str
    because: str
    evidence: tuple[str, ...]
    matched: Annotated[dict[str, Value], AfterValidator(ReadOnlyDict)]


class Citation(_Frozen):
    """An evidence entry cited by a result's reasons: the full citation behind a key."""

    key: str
    citation: str
    url: str | None = None
    accessed: str | None = None
    version: str | None = None
    confidence: Literal["verified", "secondary", "unverified"] | None = None


class Suggestion(_Frozen):
    """A therapy category the rules suggest, with its tier and drug classes."""

    category: str
    tier: Tier
    subcategories: tuple[str, ...]
    direction: Literal["suppress", "stimulate", "reconstitute", "cytotoxic", "mixed"] | None
    requires_specialist_review: bool
    reasons: tuple[Reason, ...]
    flag_reasons: tuple[Reason, ...] = ()


class Avoidance(_Frozen):
    """A category, or one drug class of it (``subcategory``), that must not be suggested."""

    category: str
    subcategory: str | None
    reasons: tuple[Reason, ...]


class Advisory(_Frozen):
    """A safety caution or a referral that comes with the result."""

    key: str
    kind: Literal["caution", "referral"]
    message: str
    reasons: tuple[Reason, ...]


class Conflict(_Frozen):
    """Opposite directions (suppress and stimulate) among the remaining suggestions."""

    categories: tuple[str, ...]
    directions: tuple[str, ...]
    message: str
    resolved: bool
    rule_ids: tuple[str, ...]


class KnowledgeBaseInfo(_Frozen):
    """Which knowledge base produced a result: its name and version (from the rule folder's
    ``knowledge-base.yaml``, else the folder's name; several folders join theirs with ``+``),
    the fingerprint of its content (sha256), the engine, and what ``knowledge-base.yaml``
    says of it (``description``, ``effective`` date, ``authors``; None or empty when not)."""

    name: str
    version: str
    fingerprint: str
    engine: str
    description: str | None = None
    effective: date | None = None
    authors: tuple[str, ...] = ()


class Dependency(_Frozen):
    """A fact the answer depends on: a field the profile leaves not stated, and the stated
    values that would change the answer (its suggestions, tiers, drug classes, avoidances,
    flags or advisories)."""

    field: str
    values: tuple[Value, ...]
    effect: str
    affects: tuple[str, ...] = ()


class Result(Rendered, _Frozen):
    """What the knowledge base says about one profile.

    ``unstated`` lists the fields the profile leaves not stated; ``depends_on`` says, for each
    of them whose stated value would change the answer, which values would and what they
    would change; ``warnings`` notes what was kept but looks wrong (e.g. a given immune
    activity that contradicts the condition's); ``assumed`` holds the values an ``assume=``
    policy filled in for this call.
    """

    _render_kind: ClassVar[str] = "result"

    profile: SerializeAsAny[ConditionProfile]
    suggestions: tuple[Suggestion, ...]
    avoided: tuple[Avoidance, ...]
    advisories: tuple[Advisory, ...]
    conflicts: tuple[Conflict, ...]
    covered: bool
    fired_rules: tuple[str, ...]
    knowledge_base: KnowledgeBaseInfo
    citations: tuple[Citation, ...] = ()
    unstated: tuple[str, ...] = ()
    depends_on: tuple[Dependency, ...] = ()
    warnings: tuple[str, ...] = ()
    assumed: Annotated[dict[str, Value], AfterValidator(ReadOnlyDict)] = Field(
        default_factory=ReadOnlyDict
    )
    notice: str = NOT_FOR_CLINICAL_USE

    def suggestion(self, category: str) -> Suggestion | None:
        """The suggestion for ``category``, or None when it is not suggested."""
        return next((s for s in self.suggestions if s.category == category), None)

    def tier(self, category: str) -> Tier | None:
        """The tier of ``category`` (first_line, escalation, flagged), or None."""
        found = self.suggestion(category)
        return None if found is None else found.tier
