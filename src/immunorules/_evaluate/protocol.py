"""What the evaluate and analysis layers need of a knowledge base, as a Protocol.

The knowledge base itself is the front door (``immunorules._api``), above these layers: they
type their argument with :class:`KnowledgeBaseLike` instead of importing it. This module only
describes; it must never import the front door or hold behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

if TYPE_CHECKING:
    from .._errors import ProfileError
    from .._model.matching import Matcher
    from .._model.profile import ConditionProfile
    from .._model.result import KnowledgeBaseInfo, Result
    from .._model.rules import Evidence, Rule
    from .._model.schema import Schema
    from .._model.space import FlatSpace
    from .assume import Assume
    from .batch import ResultCache
    from .resolve import Resolver

__all__ = ["KnowledgeBaseLike"]


class KnowledgeBaseLike(Protocol):
    """Loaded rules bound to a matching engine, as the layers below the front door see them."""

    @property
    def fingerprint(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def engine(self) -> str: ...
    @property
    def schema(self) -> Schema: ...
    @property
    def space(self) -> FlatSpace: ...
    @property
    def info(self) -> KnowledgeBaseInfo: ...
    @property
    def rules(self) -> tuple[Rule, ...]: ...
    @property
    def active_rules(self) -> tuple[Rule, ...]: ...
    @property
    def scope(self) -> tuple[Rule, ...]: ...
    @property
    def evidence(self) -> dict[str, Evidence]: ...
    @property
    def files(self) -> tuple[str, ...]: ...

    # the evaluation machinery batch evaluation drives directly
    @property
    def _matcher(self) -> Matcher: ...
    @property
    def _resolver(self) -> Resolver: ...
    @property
    def _results(self) -> ResultCache: ...
    def _evaluate_checked(
        self,
        profile: ConditionProfile,
        /,
        *,
        depends_on: bool = True,
        assumed: Mapping[str, Any] | None = None,
    ) -> Result: ...

    def rule(self, rule_id: str, /) -> Rule: ...
    def parse(self, profile: object, /) -> ConditionProfile: ...
    def evaluate(
        self,
        profile: ConditionProfile | Mapping[str, Any],
        /,
        *,
        depends_on: bool = True,
        assume: Assume = None,
    ) -> Result: ...
    @overload
    def evaluate_many(
        self,
        profiles: Iterable[ConditionProfile | Mapping[str, Any]],
        *,
        workers: int = 1,
        errors: Literal["raise"] = "raise",
        depends_on: bool = True,
        assume: Assume = None,
    ) -> list[Result]: ...
    @overload
    def evaluate_many(
        self,
        profiles: Iterable[ConditionProfile | Mapping[str, Any]],
        *,
        workers: int = 1,
        errors: Literal["collect"],
        depends_on: bool = True,
        assume: Assume = None,
    ) -> list[Result | ProfileError]: ...
