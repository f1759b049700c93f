"""The matching engines behind one protocol.

Native (the oracle) and durable (the only importer of durable_rules).
"""
