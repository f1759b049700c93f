"""Where the ``immunorules`` console script (and ``python -m immunorules``) starts: an interrupt
(Ctrl-C) is handled from the first moment, before the command line and the library load.

It imports only the standard library and the package's two near-empty ``__init__`` modules run
before it, so its handler is in place a few milliseconds after Python starts. An interrupt that
lands while code is being imported ends the process at once with the command line's one line
(``immunorules: interrupted.``) and exit code 130: raised inside an import, the interrupt would
surface as a traceback (or as another error, when an extension module is being loaded). At any
other moment it is an ordinary ``KeyboardInterrupt``, which :func:`immunorules._cli.main.main`
turns into the same line and code after the command's own clean-up ran. It must never be
imported by the library or by the command modules: installing a signal handler belongs to the
program, not to whoever imports it.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # not imported when it runs: nothing loads before the handler is in place
    import signal
    from collections.abc import Sequence
    from types import FrameType
else:  # the C module that ``signal`` wraps, loaded with Python (``signal`` would import enum)
    signal = sys.modules.get("_signal") or __import__("signal")

__all__ = ["main"]

_LINE = b"immunorules: interrupted.\n"
_INTERRUPTED = 130


def _importing(frame: FrameType | None) -> bool:
    """Whether Python is importing a module in ``frame`` or one of its callers."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib._bootstrap"):
            return True
        frame = frame.f_back
    return False


def _leave() -> None:
    try:  # noqa: SIM105 - contextlib is not loaded yet, and must not be for this
        os.write(2, _LINE)
    except OSError:  # stderr is gone: the exit code still says it
        pass
    os._exit(_INTERRUPTED)


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    if _importing(frame):
        _leave()
    raise KeyboardInterrupt


def _on_late_interrupt(signum: int, frame: FrameType | None) -> None:
    _leave()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (see :func:`immunorules._cli.main.main`) with the interrupt handled
    from the start; returns its exit code."""
    installed = False
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not ignored
            signal.signal(signal.SIGINT, _on_interrupt)
            installed = True
    except ValueError:  # not the main thread: signals are not ours to handle
        pass
    try:
        from .main import main as run

        return run(argv)
    finally:
        if installed:  # from here to the exit, an interrupt can no longer raise anywhere useful
            signal.signal(signal.SIGINT, _on_late_interrupt)


if __name__ == "__main__":  # pragma: no cover - the console script and -m call main()
    sys.exit(main())
