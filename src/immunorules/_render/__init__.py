"""The render layer.

Text, Markdown, JSON and HTML for results, why-not answers, audits and knowledge bases.
"""
