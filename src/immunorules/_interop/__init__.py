"""Interchange: a knowledge base's answer written as DMN 1.3 or GoRules JDM decision tables.

Export only: the files carry what the rules answer (a tier per category, the drug classes
avoided, the advisories), compiled from the collect policy, and nothing of why (no explanations,
evidence, audit or dependencies on facts not stated). Nothing here reads such a file back or
evaluates one; the tests run real engines on them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from .._model.rules import Rule
from .._model.schema import Schema
from .dmn import DMN_NAMESPACE, dmn_document
from .jdm import JDM_CONTENT_TYPE, jdm_document
from .tables import TIERS, DecisionModel, answer_of, decision_model

__all__ = [
    "DMN_NAMESPACE",
    "JDM_CONTENT_TYPE",
    "TIERS",
    "DecisionModel",
    "Exportable",
    "answer_of",
    "decision_model",
    "dmn_text",
    "jdm_text",
    "model_of",
    "write_dmn",
    "write_jdm",
]


class Exportable(Protocol):
    """What export reads of a knowledge base."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def schema(self) -> Schema: ...
    @property
    def active_rules(self) -> tuple[Rule, ...]: ...


def model_of(kb: Exportable) -> DecisionModel:
    """The decision tables of ``kb``'s active rules."""
    return decision_model(kb.schema, kb.active_rules, name=kb.name)


def dmn_text(kb: Exportable) -> str:
    """``kb``'s answer as DMN 1.3 XML text."""
    return dmn_document(
        model_of(kb),
        namespace=f"urn:immunorules:{kb.name}:{kb.fingerprint[:16]}",
        description=(
            f"{kb.name} {kb.version}: what its active rules answer, exported by immunorules "
            "(research use only, not for clinical use). Not stated is null."
        ),
    )


def jdm_text(kb: Exportable) -> str:
    """``kb``'s answer as GoRules JDM JSON text."""
    return jdm_document(model_of(kb))


def _write(path: str | os.PathLike[str], text: str) -> Path:
    target = Path(path)
    target.write_text(text, encoding="utf-8")
    return target


def write_dmn(kb: Exportable, path: str | os.PathLike[str]) -> Path:
    """Write ``kb``'s answer as a DMN 1.3 file at ``path``; returns the path."""
    return _write(path, dmn_text(kb))


def write_jdm(kb: Exportable, path: str | os.PathLike[str]) -> Path:
    """Write ``kb``'s answer as a GoRules JDM file at ``path``; returns the path."""
    return _write(path, jdm_text(kb))
