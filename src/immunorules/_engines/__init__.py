"""The matching engines behind one protocol.

Three: native (the oracle, one profile at a time), durable (the only importer of durable_rules)
and the columnar matcher (whole columns of profiles at once, for frames and cohorts); each must
match exactly what the native engine matches.
"""
