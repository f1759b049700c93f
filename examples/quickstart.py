"""Evaluate example profiles with the bundled knowledge base, print the explanations, and ask
why a category is not a confident suggestion. Research prototype - NOT FOR CLINICAL USE."""

import json
from pathlib import Path

import immunorules as ir

PROFILES = Path(__file__).resolve().parent / "profiles"

# A plain dict is validated like a ConditionProfile (an invalid one raises ir.ProfileError).
result = ir.evaluate({"immune_activity": "overactive", "condition": "rheumatoid_arthritis"})
print(result.explain())

# A hard case: a transplant recipient with melanoma (opposing goals, a flag and a referral).
profile = json.loads((PROFILES / "transplant_recipient_melanoma.json").read_text())
kb = ir.load_rules()
print("\n" + "=" * 100 + "\n")
print(kb.evaluate(profile).explain())
print("\n" + "=" * 100 + "\n")
print(kb.why_not(profile, "immunostimulants").explain())
