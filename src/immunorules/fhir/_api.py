"""The two entry points: one patient's record (a Bundle, or a list of resources), and a FHIR
Bulk Data export streamed patient by patient."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal

from .._errors import ImmunorulesError
from .._model import jsonstrict
from .._model.profile import did_you_mean
from ._codes import code_index
from ._errors import FhirError, FhirProblem, FhirWarning
from ._profile import FhirProfile, assemble
from ._record import (
    CLINICAL_TYPES,
    Drug,
    Finding,
    PatientInfo,
    clip,
    drug_of,
    earlier,
    patient_info,
    read_finding,
    validate_resource,
    where_of,
)
from ._references import Locator

__all__ = ["profile_from_fhir", "profiles_from_bulk"]

Source = Mapping[str, Any] | Sequence[Mapping[str, Any]] | str | bytes | os.PathLike[str]
Validate = Literal["all", "used"]


def _kb(kb: Any) -> Any:
    if kb is None:
        from .._api.functions import bundled

        return bundled()
    return kb


def _as_of(as_of: date | datetime | str | None) -> date | None:
    if as_of is None:
        return None
    if isinstance(as_of, datetime):
        return as_of.date()
    if isinstance(as_of, date):
        return as_of
    if isinstance(as_of, str):
        try:
            return date.fromisoformat(as_of[:10])
        except ValueError:
            pass
    raise FhirError([FhirProblem("$", "as_of", f"{as_of!r} is not a date (YYYY-MM-DD)")])


def _condition(kb: Any, condition: str | None) -> str | None:
    if condition is None:
        return None
    known = kb.schema.conditions
    if condition not in known:
        hint = did_you_mean(str(condition), list(known)) or ""
        raise FhirError(
            [FhirProblem("$", "condition", f"{condition!r} is not a known condition{hint}")]
        )
    return condition


def _today() -> date:
    return datetime.now(UTC).date()


def _load_json(text: str | bytes, where: str) -> Any:
    """Strict JSON (a key twice in one object, ``NaN``, a number too long to read: refused)."""
    try:
        return jsonstrict.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise FhirError([FhirProblem(where, "$", _json_problem(exc))]) from None


def _json_problem(exc: BaseException) -> str:
    """What is wrong with text that is not strict JSON, in words that quote none of it."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not valid JSON: not UTF-8 text (byte {exc.start})"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
    if "digits" in str(exc) and not isinstance(exc, jsonstrict.StrictJSONError):
        return "not valid JSON: a number has more digits than can be read (4,300 at most)"
    return "not valid JSON: " + clip(str(exc))


def _resources(source: Any) -> tuple[list[tuple[str, Any, str | None]], Locator]:
    """The resources of a source as (where, resource, fullUrl), and a locator holding the
    Medications it has, for references to find."""
    data = source
    if isinstance(source, str):
        source = source.removeprefix("\ufeff")  # a byte order mark, as some editors write
    if isinstance(source, os.PathLike) or (isinstance(source, str) and _path_like(source)):
        path = Path(source)
        where = clip(repr(str(path)) if "\x00" in str(path) else str(path))
        try:
            raw = path.read_bytes()
        except OSError as exc:
            message = exc.strerror or str(exc)
            raise FhirError([FhirProblem(where, "$", f"cannot read: {message}")]) from None
        except ValueError:  # a NUL in the path: no file can have that name
            raise FhirError(
                [FhirProblem(where, "$", "cannot read: a path cannot contain a NUL character")]
            ) from None
        data = _load_json(raw, where)
    elif isinstance(source, str | bytes):
        data = _load_json(source, "$")
    items: list[tuple[str, Any, str | None]] = []
    if isinstance(data, Mapping) and data.get("resourceType") == "Bundle":
        problems = validate_resource({**data, "entry": []}, "Bundle")
        if problems:
            raise FhirError(problems)
        entries = data.get("entry") or []
        if not isinstance(entries, list):
            raise FhirError([FhirProblem("Bundle", "entry", "must be an array")])
        for number, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            where = f"entry[{number}]"
            if resource is None:
                raise FhirError([FhirProblem(where, "resource", "the entry has no resource")])
            full_url = entry.get("fullUrl")
            items.append((where, resource, full_url if isinstance(full_url, str) else None))
    elif isinstance(data, Mapping):
        items.append(("$", data, None))
    elif isinstance(data, Sequence) and not isinstance(data, str | bytes):
        items = [(f"[{number}]", resource, None) for number, resource in enumerate(data)]
    else:
        raise FhirError(
            [FhirProblem("$", "$", "expected a Bundle, a resource or a list of resources")]
        )
    # Without fullUrls (a list of resources), a urn:uuid: names the resource of that id.
    locator = Locator(loose_urn=not any(url for _, _, url in items))
    for _, resource, full_url in items:
        if isinstance(resource, Mapping) and resource.get("resourceType") == "Medication":
            locator.add_medication(resource, full_url)
    return items, locator


def _path_like(text: str) -> bool:
    """Whether ``text`` is a path rather than JSON text: it does not start like a JSON object
    or array, and is one short line (JSON text of any other shape is read as JSON, and its
    error quotes none of it)."""
    head = text.lstrip()
    return not head.startswith(("{", "[")) and "\n" not in head.rstrip() and len(text) <= 4096


def profile_from_fhir(
    source: Source,
    *,
    kb: Any = None,
    as_of: date | datetime | str | None = None,
    condition: str | None = None,
    validate: Validate = "all",
) -> FhirProfile:
    """Read one patient's FHIR R4 record into a profile of ``kb`` (default: the bundled
    knowledge base), with the provenance of every value.

    ``source`` is a Bundle (a dict, JSON text, or a path to a JSON file), one resource, or a list
    of resources, all about one patient. A resource whose ``subject`` names someone else (another
    patient, a group, a reference that names no resource of the record) is left out, with a
    warning that counts them; versioned, absolute, ``urn:uuid:`` and contained references are
    resolved as FHIR says. ``as_of`` reads the record as on that date: conditions
    with a later onset are left out, and one that abated on or before it is history.
    ``condition`` names the condition being treated when the record has several (or none).
    A field is set only from evidence in the record: with none it is not stated (None, listed in
    ``unknown``); a negative test, or a refuted or ended Condition for a fact about the current
    state, is evidence of absence and states "no". A medication record whose drug the
    terminology does not recognise is evidence that could not be read: ``not_stated`` and
    ``unrecognised`` name it (``prior_therapy_classes`` stays not stated unless other records
    give a class).
    ``validate="all"`` (the default) checks every resource against ``fhir.resources``' R4B models;
    ``"used"`` checks only the Patient and the resources whose codes the vocabulary maps.

    Raises :class:`FhirError` for invalid FHIR, a record without a Patient, or with two.
    """
    kb = _kb(kb)
    day = _as_of(as_of)
    chosen = _condition(kb, condition)
    index = code_index(kb.schema)
    items, locator = _resources(source)
    problems: list[FhirProblem] = []
    patients: list[tuple[str, Mapping[str, Any], str | None]] = []
    clinical: list[tuple[str, Mapping[str, Any], str | None]] = []
    for where, resource, full_url in items:
        named = where_of(resource, where) if isinstance(resource, Mapping) else where
        if validate == "all" or not isinstance(resource, Mapping):
            found = validate_resource(resource, named)
            if found:
                problems.extend(found)
                continue
        assert isinstance(resource, Mapping)
        resource_type = resource.get("resourceType")
        if resource_type == "Patient":
            if validate != "all":
                found = validate_resource(resource, named)
                if found:
                    problems.extend(found)
                    continue
            patients.append((named, resource, full_url))
        elif resource_type in CLINICAL_TYPES:
            clinical.append((named, resource, full_url))
    if len(patients) > 1:
        names = ", ".join(where for where, _, _ in patients)
        problems.append(
            FhirProblem(
                "$",
                "$",
                f"the record holds {len(patients)} patients ({names}); give "
                "one patient's record, or use profiles_from_bulk for many",
            )
        )
    if not patients:
        problems.append(FhirProblem("$", "$", "the record holds no Patient resource"))
    if problems:
        raise FhirError(problems)
    _, resource, full_url = patients[0]
    patient = patient_info(resource)
    locator.add_patient(resource, full_url)
    findings: list[Finding] = []
    others: dict[str, int] = {}
    for named, resource, full_url in clinical:
        if locator.about(resource, full_url, patient.id) == "other":
            kind = str(resource.get("resourceType"))
            others[kind] = others.get(kind, 0) + 1
            continue
        medication = partial(locator.medication, full_url=full_url)
        read_as = _finding(resource, named, medication, index, validate, problems)
        if read_as is not None:
            findings.append(read_as[0])
    if problems:
        raise FhirError(problems)
    profile = assemble(patient, findings, kb.schema, as_of=day, condition=chosen, today=_today())
    if others:
        count = sum(others.values())
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(others.items()))
        profile = _with_warning(
            profile,
            f"left out {count} resource{'s' if count > 1 else ''} ({kinds}) whose subject is "
            "not this patient (another patient, a group, or a reference that names no "
            "resource of the record)",
        )
    return profile


def _finding(
    resource: Mapping[str, Any],
    named: str,
    medication: Callable[[Mapping[str, Any]], Any],
    index: Any,
    validate: Validate,
    problems: list[FhirProblem],
) -> tuple[Finding, bool] | None:
    """The finding of a resource and whether the mapping reads anything from it (False: a
    medication it does not recognise, kept so the profile can name it); None when the resource
    says nothing usable (its problems, if invalid, added to ``problems``)."""
    try:
        finding = read_finding(resource, named, medication)
    except (TypeError, AttributeError, ValueError, KeyError) as exc:  # a wrong JSON type
        found = validate_resource(dict(resource), named)
        problems.extend(found or [FhirProblem(named, "$", f"cannot be read: {type(exc).__name__}")])
        return None
    if finding is None:
        return None
    if not _used(finding, index):
        # A medication the mapping cannot read is still evidence: the profile names it as not
        # recognised (it is not validated under "used": nothing is read from it).
        return (finding, False) if finding.kind == "medication" else None
    if validate == "used":
        found = validate_resource(dict(resource), named)
        if found:
            problems.extend(found)
            return None
    return finding, True


def _used(finding: Finding, index: Any) -> bool:
    """Whether the mapping can read anything from a finding: a code it knows or, for a
    medication, an ingredient named in its text (the name fallback)."""
    codings = finding.codings + finding.severity
    if any(index.lookup(system, code) for system, code in codings):
        return True
    return finding.kind == "medication" and any(index.classes_named(t) for t in finding.texts)


def _bulk_type(path: Path) -> str | None:
    for part in path.name.split("."):
        if part in (*CLINICAL_TYPES, "Patient", "Medication"):
            return part
    return None


#: The longest line of a Bulk Data file that is read, by default (64 MB); a longer line is a bad
#: line, skipped in bounded memory.
MAX_LINE_BYTES = 64 * 1024 * 1024
#: The most problems a Bulk Data export reports one by one; the rest are counted.
_REPORTED = 20
#: The most problems kept for a FhirError; the rest are counted.
_KEPT = 1000
_SKIP = 1 << 20


def _lines(path: Path, limit: int) -> Iterator[tuple[str, Any]]:
    """``(file:line, resource)`` for each non-blank line; a line that cannot be read (not
    UTF-8, not strict JSON, longer than ``limit`` bytes) gives a :class:`FhirProblem` in place
    of the resource."""
    try:
        with path.open("rb") as handle:
            number = 0
            while line := handle.readline(limit + 1):
                number += 1
                where = f"{path.name}:{number}"
                if len(line) > limit and not line.endswith(b"\n"):
                    while (rest := handle.readline(_SKIP)) and not rest.endswith(b"\n"):
                        pass  # the rest of the line is skipped, a chunk at a time
                    message = f"the line is longer than {limit:,} bytes (max_line_bytes)"
                    yield where, FhirProblem(where, "$", message)
                elif line.strip():
                    try:
                        yield where, _load_json(line, where)
                    except FhirError as exc:
                        yield where, exc.problems[0]
    except OSError as exc:
        message = exc.strerror or type(exc).__name__
        raise FhirError([FhirProblem(clip(str(path)), "$", f"cannot read: {message}")]) from None


class _Report:
    """The problems of an export: the first ones kept, all counted."""

    def __init__(self) -> None:
        self.kept: list[FhirProblem] = []
        self.count = 0

    def add(self, problems: Iterable[FhirProblem]) -> None:
        for problem in problems:
            self.count += 1
            if len(self.kept) < _KEPT:
                self.kept.append(problem)

    def error(self) -> FhirError:
        more = self.count - len(self.kept)
        extra = [FhirProblem("$", "$", f"and {more:,} more problems")] if more else []
        return FhirError([*self.kept, *extra])

    def warn(self) -> None:
        for problem in self.kept[:_REPORTED]:
            warnings.warn(FhirWarning(f"{problem} (left out)"), stacklevel=3)
        if self.count > _REPORTED:
            more = self.count - _REPORTED
            warnings.warn(
                FhirWarning(
                    f"and {more:,} more problems in the Bulk Data export ({self.count:,} in "
                    "all), each left out; errors='raise' lists them"
                ),
                stacklevel=3,
            )


def profiles_from_bulk(
    folder: str | os.PathLike[str],
    *,
    kb: Any = None,
    as_of: date | datetime | str | None = None,
    validate: Validate = "used",
    errors: Literal["raise", "warn"] = "raise",
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[tuple[str, FhirProfile]]:
    """Stream the profiles of a FHIR Bulk Data export: ``(patient id, FhirProfile)`` for every
    Patient of ``Patient.*.ndjson``, in file order, read from ``Condition``, ``Procedure``,
    ``MedicationRequest``, ``MedicationStatement`` and ``Observation`` files when present.

    One pass over each file keeps, per patient, only the facts of the resources whose codes the
    vocabulary maps, and one medication record per drug the terminology does not recognise (to
    name it in ``not_stated``), so memory grows with what the export says about the profile
    fields and the distinct drugs of each patient, not with its size. ``validate="used"`` (the
    default) checks the Patients and those resources against ``fhir.resources``' R4B models;
    ``"all"`` checks every line. A resource is about the Patient its ``subject`` names (see the
    docs on references); one about no Patient of the export is left out.

    A bad line (not UTF-8, not JSON, longer than ``max_line_bytes``), an invalid Patient and an
    invalid resource raise :class:`FhirError` listing every problem before anything is yielded
    (``errors="raise"``), or are left out (``errors="warn"``): each is reported as a
    :class:`FhirWarning` (the first 20, then a count of the rest), and an invalid resource is
    also noted in its patient's ``warnings``.
    """
    kb = _kb(kb)
    day = _as_of(as_of)
    if (
        isinstance(max_line_bytes, bool)
        or not isinstance(max_line_bytes, int)
        or max_line_bytes < 1
    ):
        raise FhirError([FhirProblem("$", "max_line_bytes", "must be a positive number of bytes")])
    root = Path(folder)
    if not root.is_dir():
        raise FhirError([FhirProblem(clip(str(root)), "$", "not a folder with a Bulk Data export")])
    files: dict[str, list[Path]] = {}
    for path in sorted(root.glob("*.ndjson")):
        kind = _bulk_type(path)
        if kind is not None:
            files.setdefault(kind, []).append(path)
    if not files.get("Patient"):
        raise FhirError(
            [FhirProblem(clip(str(root)), "$", "the export has no Patient.*.ndjson file")]
        )
    index = code_index(kb.schema)
    report = _Report()
    skipped: dict[str, list[str]] = {}
    patients: dict[str, PatientInfo] = {}
    locator = Locator(loose_urn=True)
    for path in files["Patient"]:
        for where, resource in _lines(path, max_line_bytes):
            found = _unreadable(resource) or validate_resource(resource, where)
            if found:
                report.add(found)
                continue
            info = patient_info(resource)
            patients[info.id] = info
            locator.add_patient(resource)
    for path in files.get("Medication", ()):
        for _, resource in _lines(path, max_line_bytes):
            if isinstance(resource, FhirProblem):
                report.add([resource])
            elif isinstance(resource, Mapping):
                locator.add_medication(resource)
    findings: dict[str, list[Finding]] = {pid: [] for pid in patients}
    unread: dict[str, dict[Drug, Finding]] = {pid: {} for pid in patients}
    for kind in CLINICAL_TYPES:
        for path in files.get(kind, ()):
            for where, resource in _lines(path, max_line_bytes):
                if isinstance(resource, FhirProblem):
                    report.add([resource])
                    continue
                if validate == "all" or not isinstance(resource, Mapping):
                    found = validate_resource(resource, where)
                    if found:
                        pid = locator.subject(resource) if isinstance(resource, Mapping) else None
                        _bad(found, pid, report, skipped)
                        continue
                assert isinstance(resource, Mapping)
                pid = locator.subject(resource)
                if pid is None:  # about no Patient of the export
                    continue
                named = where_of(resource, where)
                local: list[FhirProblem] = []
                read_as = _finding(resource, named, locator.medication, index, validate, local)
                if local:
                    _bad(local, pid, report, skipped)
                elif read_as is not None and read_as[1]:
                    findings[pid].append(read_as[0])
                elif read_as is not None:
                    _keep_earliest(unread[pid], read_as[0])
    if report.count and errors == "raise":
        raise report.error()
    report.warn()
    today = _today()
    for pid, info in patients.items():
        try:
            own = [*findings.pop(pid), *unread.pop(pid).values()]
            profile = assemble(info, own, kb.schema, as_of=day, condition=None, today=today)
        except ImmunorulesError:  # pragma: no cover - assemble validates its own values
            raise
        if pid in skipped:
            note = "left out invalid resources: " + "; ".join(skipped[pid])
            profile = _with_warning(profile, note)
        yield pid, profile


def _keep_earliest(kept: dict[Drug, Finding], finding: Finding) -> None:
    """Keep one medication record the mapping does not recognise per drug: the earliest (an
    undated one first), so memory grows with the distinct drugs of a patient, not with their
    records, and a record inside any ``as_of`` is kept if one is."""
    known = kept.get(drug_of(finding))
    if known is None or earlier(finding, known):
        kept[drug_of(finding)] = finding


def _unreadable(line: Any) -> list[FhirProblem]:
    return [line] if isinstance(line, FhirProblem) else []


def _bad(
    found: list[FhirProblem],
    pid: str | None,
    report: _Report,
    skipped: dict[str, list[str]],
) -> None:
    report.add(found)
    if pid is not None:
        skipped.setdefault(pid, []).extend(str(p) for p in found)


def _with_warning(profile: FhirProfile, warning: str) -> FhirProfile:
    from dataclasses import replace

    return replace(profile, warnings=(*profile.warnings, warning))
