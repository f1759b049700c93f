"""The command line (``immunorules`` and ``python -m immunorules``).

:mod:`.main` builds the parser from the command modules in :mod:`.commands` (each has
``register(sub)`` and ``run(args, ctx)``) and maps failures to exit codes; :mod:`.context` holds
what commands share (:class:`~.context.Context`, :class:`~.context.Output`,
:class:`~.context.CliError`); :mod:`.inputs` reads profiles, :mod:`.tables` reads and writes
cohort tables, :mod:`.knowledge` loads the knowledge base. Nothing in the library imports this
package, and it imports only the standard library until a command runs; importing it loads
nothing (the console script starts in :mod:`._start`, which must be in place before the rest
loads).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (see :func:`immunorules._cli.main.main`)."""
    from .main import main as run

    return run(argv)
