"""The bundled knowledge base speaks of therapy categories and drug classes, never drugs or doses.

Product contract: nothing immunorules outputs names a specific drug, product or dose. The texts
it outputs come from the rule files (``title``, ``because``) and from the vocabulary (category,
drug-class and condition names, advisory messages). Evidence citations are source titles and may
name drugs, so they are not checked here.

The drug list was built by hand from the research reference the knowledge base encodes
(REFERENCE.md): every INN, product/brand name and drug abbreviation it mentions, plus the common
systemic glucocorticoid INNs. Deliberately NOT listed, because they name classes:
"immunoglobulin"/"IVIG" (the vocabulary's own referral is "immunoglobulin replacement", a class
of pooled products), "interferon"/"interferon-alpha/-beta/-gamma" and "interleukin-2"
(sub-classes under the vocabulary's "Interferons" and "Interleukins"), "thiopurine",
"anthracycline"-style class words, and class abbreviations such as TNFi, JAKi, CNI, mTORi, DAA.
"""

from __future__ import annotations

import re

import pytest

import immunorules as ir

# fmt: off
# INNs (and INN-like names) mentioned in REFERENCE.md.
DRUG_NAMES: tuple[str, ...] = (
    # S1P receptor modulators
    "fingolimod", "ozanimod", "siponimod", "ponesimod", "etrasimod",
    # JAK / TYK2 inhibitors
    "tofacitinib", "baricitinib", "upadacitinib", "filgotinib", "itacitinib", "peficitinib",
    "deucravacitinib", "ruxolitinib",
    # immunosuppressive monoclonal antibodies and fusion proteins
    "muromonab", "efalizumab", "natalizumab", "belimumab", "vedolizumab", "alemtuzumab",
    "begelomab", "ocrelizumab", "emapalumab", "inebilizumab", "eculizumab", "ravulizumab",
    "anifrolumab", "abatacept", "belatacept", "basiliximab",
    # anti-CD20 and other oncology antibodies
    "rituximab", "ofatumumab", "obinutuzumab", "pertuzumab", "trastuzumab",
    # checkpoint inhibitors
    "nivolumab", "pembrolizumab", "durvalumab", "avelumab", "atezolizumab", "cemiplimab",
    "ipilimumab", "relatlimab",
    # bispecific T-cell engagers
    "blinatumomab", "epcoritamab", "glofitamab", "teclistamab",
    # TNF and interleukin inhibitors
    "infliximab", "adalimumab", "golimumab", "anakinra", "sarilumab", "tocilizumab",
    "ixekizumab", "guselkumab", "ustekinumab", "risankizumab", "mirikizumab",
    # asthma / atopy biologics
    "omalizumab", "dupilumab",
    # mTOR and calcineurin inhibitors
    "sirolimus", "everolimus", "ciclosporin", "cyclosporine", "cyclosporin", "tacrolimus",
    "voclosporin",
    # antimetabolites, conventional DMARDs and other small molecules
    "mycophenolate", "mycophenolic acid", "azathioprine", "methotrexate", "leflunomide",
    "teriflunomide", "cyclophosphamide", "cladribine", "hydroxychloroquine", "sulfasalazine",
    "thalidomide", "lenalidomide", "pomalidomide", "dimethyl fumarate", "apremilast",
    "colchicine", "levamisole", "glatiramer",
    # glucocorticoids (the reference names two; the rest are the usual systemic INNs)
    "hydrocortisone", "prednisone", "prednisolone", "methylprednisolone", "dexamethasone",
    # immunostimulant products
    "aldesleukin", "talimogene", "laherparepvec", "peginterferon alfa-2", "interferon alfa-2b",
    "bacillus calmette",
    # cellular and gene therapies
    "axicabtagene", "tisagenlecleucel", "ciltacabtagene", "idecabtagene", "brexucabtagene",
    "lisocabtagene", "ciloleucel", "autoleucel", "vicleucel", "lifileucel",
    # antivirals named as non-immunomodulatory standard of care
    "valganciclovir", "ganciclovir", "letermovir", "entecavir", "tenofovir", "glecaprevir",
    "pibrentasvir", "sofosbuvir", "velpatasvir",
)

# Brand / product names mentioned in REFERENCE.md.
BRAND_NAMES: tuple[str, ...] = (
    "Strimvelis", "Amtagvi", "Xolair", "Humira", "Inflectra", "Simponi", "Proleukin",
    "Afinitor", "Abecma", "Breyanzi", "Carvykti", "Kymriah", "Tecartus", "Yescarta",
)

# Abbreviations the reference uses for single drugs or products (case-sensitive).
DRUG_ABBREVIATIONS: tuple[str, ...] = (
    "MTX", "MMF", "HCQ", "SSZ", "CYC", "AZA", "ATG", "DMF", "PTCy", "BCG", "T-VEC",
    "cilta-cel", "ide-cel", "axi-cel", "tisa-cel", "liso-cel", "brexu-cel",
)
# fmt: on

_NAME_PATTERN = re.compile(
    r"(?<![\w-])(?:" + "|".join(re.escape(n) for n in DRUG_NAMES + BRAND_NAMES) + r")",
    re.IGNORECASE,
)
_ABBREVIATION_PATTERN = re.compile(
    r"(?<![\w-])(?:" + "|".join(re.escape(a) for a in DRUG_ABBREVIATIONS) + r")(?![\w])"
)
_DOSE_PATTERN = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|μg|ug|g|IU|units?|mL|ml)(?:/|\b)"
    r"|/\s*(?:kg|m2|m²)\b",
    re.IGNORECASE,
)

TITLE_MAX = 110
BECAUSE_MIN = 40


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def _problems(text: str) -> list[str]:
    found = [m.group(0) for m in _NAME_PATTERN.finditer(text)]
    found += [m.group(0) for m in _ABBREVIATION_PATTERN.finditer(text)]
    found += [f"dose {m.group(0)!r}" for m in _DOSE_PATTERN.finditer(text)]
    return found


def _report(offences: list[str]) -> str:
    return f"{len(offences)} text(s) name a drug or dose:\n" + "\n".join(offences)


def test_the_patterns_catch_what_they_should() -> None:
    assert _problems("start methotrexate") == ["methotrexate"]
    assert _problems("Rituximab (anti-CD20)") == ["Rituximab"]
    assert _problems("BCMA CAR-T (cilta-cel or ide-cel)") == ["cilta-cel", "ide-cel"]
    assert _problems("treated with Amtagvi") == ["Amtagvi"]
    assert _problems("MTX or MMF") == ["MTX", "MMF"]
    assert _problems("prednisone-equivalent")[0] == "prednisone"
    assert _problems("tapered to 5 mg/day") == ["dose '5 mg/'"]
    assert _problems("10 mg/kg") != []
    assert _problems("20 mg daily") != []
    assert _problems("a 1.5 g dose") != []
    # class-level wording and outcome figures are fine
    for ok in (
        "a conventional synthetic DMARD",
        "an anti-CD20 antibody with HBV screening",
        "an IL-6 receptor antibody",
        "intravenous immunoglobulin replacement",
        "interferon-beta is coded L03",
        "high-dose interleukin-2 causes capillary leak",
        "about 40% of recipients rejected the graft; 75% flared",
        "grade 3 CRS in 11.6% and a 2-week monitoring period",
        "at least 12 months after the last dose",
        "TNF inhibitors and thiopurines; S1P modulators; CAR T cells",
    ):
        assert _problems(ok) == [], ok


def test_rule_titles_and_reasons_name_no_drug_or_dose(kb: ir.KnowledgeBase) -> None:
    offences = []
    for rule in kb.rules:
        for field in ("title", "because"):
            text = getattr(rule, field) or ""
            found = _problems(text)
            if found:
                offences.append(f"{rule.id}.{field}: {sorted(set(found))}")
    assert not offences, _report(offences)


def test_vocabulary_display_texts_name_no_drug_or_dose(kb: ir.KnowledgeBase) -> None:
    texts: list[tuple[str, str]] = []
    texts += [(f"category {c.id}", c.name) for c in kb.categories]
    texts += [(f"subcategory {s.id}", s.name) for s in kb.subcategories]
    texts += [(f"condition {c.id}", c.name) for c in kb.conditions]
    texts += [(f"advisory {a.key}", a.message) for a in kb.advisories]
    assert texts
    offences = [
        f"{where}: {sorted(set(found))}" for where, text in texts if (found := _problems(text))
    ]
    assert not offences, _report(offences)


def test_rule_titles_are_short_and_reasons_substantial(kb: ir.KnowledgeBase) -> None:
    long_titles = [
        f"{r.id}: {len(r.title)} chars" for r in kb.rules if len(r.title or "") > TITLE_MAX
    ]
    thin_reasons = [
        f"{r.id}: {len(r.because or '')} chars"
        for r in kb.rules
        if len((r.because or "").strip()) < BECAUSE_MIN
    ]
    assert not long_titles, f"titles over {TITLE_MAX} characters: {long_titles}"
    assert not thin_reasons, f"because texts under {BECAUSE_MIN} characters: {thin_reasons}"
