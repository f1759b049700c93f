"""The evaluate layer.

Resolution, batches and frames, and the knowledge base that ties them together.
"""
