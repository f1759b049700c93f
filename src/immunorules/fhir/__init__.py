"""FHIR R4 input: a patient's record, or a FHIR Bulk Data export, becomes condition profiles,
with the provenance of every value.

Research prototype - NOT FOR CLINICAL USE. Needs the ``fhir`` extra
(``pip install "immunorules[fhir]"``): resources are validated with the R4B models of
``fhir.resources`` (R4B changed none of the resources read here). What a code means is data in
the knowledge base's vocabulary (the ``codes`` of its fields, conditions, disease areas and drug
classes), so a rule set's own vocabulary extends the mapping. This package imports the core;
the core never imports it.
"""

from __future__ import annotations

from ._api import profile_from_fhir, profiles_from_bulk
from ._errors import FhirError, FhirProblem, FhirWarning
from ._profile import Evidence, FhirProfile

__all__ = [
    "Evidence",
    "FhirError",
    "FhirProblem",
    "FhirProfile",
    "FhirWarning",
    "profile_from_fhir",
    "profiles_from_bulk",
]
