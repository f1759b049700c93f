"""The model layer.

Vocabulary and schema, the profile, rules and results. Imports nothing above it.
"""
