"""The analysis layer: the exact audit, why-not, golden cases and the decision table."""
