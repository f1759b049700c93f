"""Evaluate one example profile with the bundled knowledge base and print the explanation."""

import immunorules as ir

result = ir.evaluate({"immune_activity": "overactive", "condition": "rheumatoid_arthritis"})
print(result.explain())
