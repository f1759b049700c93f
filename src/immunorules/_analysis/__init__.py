"""The analysis layer: the exact audit, why-not, golden cases and the decision table.

It works on a knowledge base its caller hands it (typed by a Protocol); it never imports the
front door (``_api``) or the render layer (models render through the renderer table).
"""
