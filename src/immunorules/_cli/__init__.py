"""The command line (``immunorules`` and ``python -m immunorules``)."""

from .main import main

__all__ = ["main"]
