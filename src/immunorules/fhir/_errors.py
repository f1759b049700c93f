"""The error FHIR input raises: every problem found, each located by resource and path.

Never lets a pydantic ``ValidationError``, a ``KeyError`` or a JSON error escape: callers catch one
:class:`FhirError` (an :class:`~immunorules.ImmunorulesError` and a ``ValueError``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .._errors import ImmunorulesError

__all__ = ["FhirError", "FhirProblem", "FhirWarning"]


@dataclass(frozen=True, slots=True)
class FhirProblem:
    """One thing wrong with FHIR input: which resource (``Condition/abc``, ``entry[3]``, a
    file and line, or ``$`` for the input as a whole), where in it (``path``), and what."""

    resource: str
    path: str
    message: str

    def __str__(self) -> str:
        where = self.resource if self.path in ("", "$") else f"{self.resource} {self.path}"
        return f"{where}: {self.message}"


class FhirError(ImmunorulesError, ValueError):
    """FHIR input that cannot become a profile: a resource that is not valid FHIR R4, a record
    without a Patient or with two, unreadable JSON. ``problems`` lists every problem found."""

    def __init__(self, problems: Iterable[FhirProblem]) -> None:
        self.problems: tuple[FhirProblem, ...] = tuple(problems) or (
            FhirProblem("$", "$", "invalid FHIR input"),
        )
        count = len(self.problems)
        shown = "; ".join(str(p) for p in self.problems[:10])
        more = f"; and {count - 10} more" if count > 10 else ""
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"invalid FHIR input ({count} {noun}): {shown}{more}")


class FhirWarning(UserWarning):
    """Something a Bulk Data export read with ``errors="warn"`` left out, and why: a line that is
    not JSON (or not UTF-8, or longer than the limit), a Patient or a resource that is not valid
    FHIR R4. Issued with :func:`warnings.warn`, at most 20 per export and then one with the count
    of the rest; the message names the file and line, never a value of the record."""
