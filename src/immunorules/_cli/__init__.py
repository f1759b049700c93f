"""The command line (``immunorules`` and ``python -m immunorules``).

:mod:`.main` builds the parser from the command modules in :mod:`.commands` (each has
``register(sub)`` and ``run(args, ctx)``) and maps failures to exit codes; :mod:`.context` holds
what commands share (:class:`~.context.Context`, :class:`~.context.Output`,
:class:`~.context.CliError`); :mod:`.inputs` reads profiles, :mod:`.tables` reads and writes
cohort tables, :mod:`.knowledge` loads the knowledge base. Nothing in the library imports this
package, and it imports only the standard library until a command runs.
"""

from .main import main

__all__ = ["main"]
