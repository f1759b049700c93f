"""The evaluate layer.

Resolution, batches, streams and frames. It works on a knowledge base its caller hands it (typed
by the Protocol of :mod:`.protocol`); it never imports the front door (``_api``), which holds
the knowledge base and the bundled rules.
"""
