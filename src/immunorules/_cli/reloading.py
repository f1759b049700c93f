"""``immunorules serve --reload``: the rule paths re-read when their files change or on SIGHUP.

A background thread looks at the rule files' sizes and modification times every ``interval``
seconds (no dependency, and it works on every file system); when they change and then hold
still, or when SIGHUP asks, it loads the rules again whole and only then hands the new knowledge
base to the service. Rules that do not load leave the old knowledge base serving, and their
problems are logged. It never changes a rule file, and never stops the service.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import ImmunorulesError, RuleFileError, listed_problems

if TYPE_CHECKING:
    from .._api.knowledge_base import KnowledgeBase

__all__ = ["RuleReloader", "identity"]

_SUFFIXES = (".yaml", ".yml")
_Stamp = tuple[tuple[str, int, int], ...]


def identity(kb: KnowledgeBase) -> str:
    """``name version (fingerprint abcdef123456, N active rules)``, as the log shows it."""
    return (
        f"{kb.name} {kb.version} (fingerprint {kb.fingerprint[:12]}, "
        f"{len(kb.active_rules):,} active rules)"
    )


class RuleReloader:
    """Re-reads ``paths`` (with ``load``) when their files change or :meth:`request` is called,
    and passes each knowledge base that loads, and differs, to ``use``."""

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        kb: KnowledgeBase,
        load: Callable[[], KnowledgeBase],
        use: Callable[[KnowledgeBase], None],
        log: logging.Logger,
        interval: float = 1.0,
    ) -> None:
        self.paths = tuple(paths)
        self.kb = kb
        self._load = load
        self._use = use
        self._log = log
        self.interval = interval
        self._asked = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="immunorules-reload", daemon=True)

    def start(self) -> None:
        """Start watching (in a daemon thread)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (at most ``interval`` seconds later)."""
        self._stopped.set()
        self._asked.set()

    def request(self) -> None:
        """Reload at once (what SIGHUP calls: it only sets a flag, as a signal handler must)."""
        self._asked.set()

    def stamp(self) -> _Stamp:
        """The path, modification time and size of every rule file under the paths."""
        found: list[tuple[str, int, int]] = []
        for path in self.paths:
            try:
                files = (
                    [p for p in path.rglob("*") if p.suffix in _SUFFIXES]
                    if path.is_dir()
                    else [path]
                )
                for file in files:
                    status = file.stat()
                    found.append((str(file), status.st_mtime_ns, status.st_size))
            except OSError:  # a file removed while looking: the next look sees the change
                found.append((str(path), -1, -1))
        return tuple(sorted(found))

    def reload(self, reason: str) -> bool:
        """Load the rules again; hand them to the service if they load and differ. Whether the
        service now answers with rules that were just loaded."""
        try:
            kb = self._load()
        except RuleFileError as exc:
            problems = "\n".join(listed_problems(exc.problems))
            self._log.error(
                "rules not reloaded (%s): %d problem(s); still serving %s:\n%s",
                reason,
                len(exc.problems),
                identity(self.kb),
                problems,
            )
            return False
        except (ImmunorulesError, OSError) as exc:
            self._log.error(
                "rules not reloaded (%s): %s; still serving %s", reason, exc, identity(self.kb)
            )
            return False
        except Exception:  # never let a reload end the service
            self._log.exception(
                "rules not reloaded (%s): unexpected error; still serving %s",
                reason,
                identity(self.kb),
            )
            return False
        if kb.info == self.kb.info:
            self._log.info("rules re-read (%s): unchanged, %s", reason, identity(kb))
            return False
        self._use(kb)
        before, self.kb = self.kb, kb
        self._log.info(
            "rules reloaded (%s): now serving %s, was %s", reason, identity(kb), identity(before)
        )
        return True

    def _watch(self) -> None:
        last = self.stamp()
        while not self._stopped.is_set():
            asked = self._asked.wait(self.interval)
            self._asked.clear()
            if self._stopped.is_set():
                return
            now = self.stamp()
            if not asked and now == last:
                continue
            if not asked:  # let an editor or a copy finish: wait until the files hold still
                for _ in range(20):
                    time.sleep(min(0.25, self.interval))
                    settled = self.stamp()
                    if settled == now:
                        break
                    now = settled
            last = now
            self.reload("SIGHUP" if asked else "rule files changed")
