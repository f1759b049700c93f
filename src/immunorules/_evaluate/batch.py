"""Batch evaluation: a bounded result cache, deduplication of inputs, and worker processes.

:meth:`KnowledgeBase.evaluate_many` lands here. Each distinct input is validated once and each
distinct profile evaluated once; results are kept in the knowledge base's own
:class:`ResultCache`, so a cached result can never come from another knowledge base (another
fingerprint or engine). With ``workers > 1`` the distinct profiles that are not cached yet are
matched in spawn-started processes, each rebuilding the knowledge base from its rule data (a
durable_rules host is never pickled); the parent resolves the matches, so the results are the
very ones ``workers=1`` gives. When spawned processes could not re-import the main module (a
script read from standard input), matching stays in this process, with a ``RuntimeWarning``.
An invalid input's cached :class:`ProfileError` is copied for each row that returns it.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import sys
import warnings
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, Final, Literal

from .._errors import EngineError, ProfileError, ProfileProblem
from .._model.cache import BoundedCache
from .._model.profile import ConditionProfile
from .._model.result import Result
from .assume import Assume, assumptions, fill

if TYPE_CHECKING:
    from .protocol import KnowledgeBaseLike as KnowledgeBase

__all__ = ["ResultCache", "evaluate_many"]

Outcome = Result | ProfileError
#: A plain dict as a cache key: its keys, its values and the exact types of its values (so
#: ``1`` and ``True``, equal in Python, stay apart).
RawKey = tuple[tuple[Any, ...], tuple[Any, ...], tuple[type, ...]]
_SIMPLE: Final = frozenset({str, int, bool, type(None)})
_PENDING: Final = object()


class ResultCache:
    """The outcomes of inputs a knowledge base has evaluated, bounded in size.

    Two :class:`~immunorules._model.cache.BoundedCache` maps of ``maxsize`` entries each (the
    oldest go first; safe to share between threads): plain dicts (by :data:`RawKey`) to
    outcomes, and profiles to results. A dict is cached by its raw key only when every key is
    a string and every value a str, int, bool or None, so equal keys mean equal inputs.
    """

    def __init__(self, maxsize: int = 8192) -> None:
        self.raw: BoundedCache[RawKey, Outcome] = BoundedCache(maxsize)
        self.profiles: BoundedCache[ConditionProfile, Result] = BoundedCache(maxsize)
        # The caches of other evaluation options (``depends_on=False``, an ``assume=``
        # policy), by option: the last few option sets used.
        self._options: BoundedCache[Any, ResultCache] = BoundedCache(8)

    def options(self, key: Any) -> ResultCache:
        """The cache of results evaluated with other options than the defaults (``key``)."""
        found = self._options.get(key)
        if found is None:
            found = ResultCache(self.maxsize)
            self._options.put(key, found)
        return found

    @property
    def maxsize(self) -> int:
        """The bound of each map (setting it applies from the next put on)."""
        return self.raw.maxsize

    @maxsize.setter
    def maxsize(self, value: int) -> None:
        self.raw.maxsize = self.profiles.maxsize = value

    def __len__(self) -> int:
        return len(self.raw) + len(self.profiles)

    def clear(self) -> None:
        self.raw.clear()
        self.profiles.clear()
        self._options.clear()

    def put_raw(self, key: RawKey, outcome: Outcome) -> None:
        if not (_SIMPLE.issuperset(key[2]) and all(type(name) is str for name in key[0])):
            return
        self.raw.put(key, outcome)

    def put_profile(self, profile: ConditionProfile, result: Result) -> None:
        self.profiles.put(profile, result)


def evaluate_many(
    kb: KnowledgeBase,
    profiles: Iterable[ConditionProfile | Mapping[str, Any]],
    *,
    workers: int = 1,
    errors: Literal["raise", "collect"] = "raise",
    depends_on: bool = True,
    assume: Assume = None,
) -> list[Any]:
    """See :meth:`KnowledgeBase.evaluate_many`."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, not {workers!r}")
    if errors not in ("raise", "collect"):
        raise ValueError(f"errors must be 'raise' or 'collect', not {errors!r}")
    if isinstance(profiles, Mapping | ConditionProfile):
        raise TypeError("evaluate_many takes an iterable of profiles; use evaluate for one")
    checked_assume = assumptions(kb.schema, assume)
    cache = kb._results
    if not depends_on or checked_assume:
        key_of_options = (depends_on, tuple(sorted(checked_assume.items())))
        cache = cache.options(key_of_options)
    raw_cache = cache.raw
    profile_cache = cache.profiles

    def evaluate(profile: ConditionProfile) -> Result:
        if checked_assume:
            filled, assumed = fill(kb.schema, profile, checked_assume)
            return kb._evaluate_checked(filled, depends_on=depends_on, assumed=assumed)
        return kb._evaluate_checked(profile, depends_on=depends_on)

    out: list[Any] = []
    append = out.append
    raw_get = raw_cache.get
    collect = errors == "collect"
    # With workers: distinct profiles still to match, their positions and raw keys.
    pending: dict[ConditionProfile, list[int]] = {}
    pending_raw: dict[RawKey, ConditionProfile] = {}
    pending_keys: dict[ConditionProfile, list[RawKey]] = {}
    index = -1
    for item in profiles:
        index += 1
        key: RawKey | None = None
        if type(item) is dict:  # the fast path: a plain dict seen before
            values = tuple(item.values())
            key = (tuple(item), values, tuple(map(type, values)))
            try:
                hit = raw_get(key)
            except TypeError:  # an unhashable value: the input is invalid, validate it below
                key = hit = None
            if hit is not None:
                if type(hit) is not ProfileError:
                    append(hit)
                    continue
                if collect:
                    append(_own(hit))
                    continue
                raise _at(index, hit)
            if key is not None and pending_raw:
                waiting = pending_raw.get(key)
                if waiting is not None:
                    pending[waiting].append(index)
                    out.append(_PENDING)
                    continue
        try:
            checked = kb.schema.parse(item)
        except ProfileError as exc:
            exc.__traceback__ = None  # kept in the cache: hold no frames
            if key is not None:
                cache.put_raw(key, exc)
            if not collect:
                raise _at(index, exc) from None
            out.append(_own(exc))  # the cached one stays untouched by what callers do to theirs
            continue
        result = profile_cache.get(checked)
        if result is None:
            if workers > 1:
                pending.setdefault(checked, []).append(index)
                if key is not None:
                    pending_raw[key] = checked
                    pending_keys.setdefault(checked, []).append(key)
                out.append(_PENDING)
                continue
            result = evaluate(checked)
            cache.put_profile(checked, result)
        if key is not None:
            cache.put_raw(key, result)
        out.append(result)
    if pending:
        distinct = list(pending)
        filled = [fill(kb.schema, profile, checked_assume) for profile in distinct]
        matched = _match_in_workers(kb, [made for made, _ in filled], workers)
        for profile, (made, assumed), fired in zip(distinct, filled, matched, strict=True):
            result = kb._resolver.resolve(made, fired, depends_on=depends_on, assumed=assumed)
            cache.put_profile(profile, result)
            for key in pending_keys.get(profile, ()):
                cache.put_raw(key, result)
            for index in pending[profile]:
                out[index] = result
    return out


def _own(exc: ProfileError) -> ProfileError:
    """A copy of a cached error for one row: rows never share one (mutable) exception."""
    fresh = ProfileError(exc.problems)
    for name, value in vars(exc).items():  # problems, path, and any added (``__notes__``)
        setattr(fresh, name, copy.copy(value))
    return fresh


def _at(index: int, exc: ProfileError) -> ProfileError:
    """``exc`` with its paths prefixed by the input's index: ``[3].severity``."""
    return ProfileError(
        ProfileProblem(f"[{index}]" + ("" if p.path == "$" else f".{p.path}"), p.message)
        for p in exc.problems
    )


# -- worker processes -------------------------------------------------------------------------

_WORKER: KnowledgeBase | None = None


def _init_worker(kb: KnowledgeBase) -> None:
    global _WORKER
    _WORKER = kb  # unpickled: rebuilt from its rules (KnowledgeBase.__reduce__)


def _match_chunk(facts: list[dict[str, Any]]) -> tuple[str, list[frozenset[str]]]:
    """The fingerprint of this worker's knowledge base and the rules that hold for each fact."""
    assert _WORKER is not None, "worker not initialised"
    match = _WORKER._matcher.match
    return _WORKER.fingerprint, [match(fact) for fact in facts]


def _match_in_workers(
    kb: KnowledgeBase, profiles: list[ConditionProfile], workers: int
) -> list[frozenset[str]]:
    facts = [kb.space.fact(profile) for profile in profiles]
    missing = _unimportable_main()
    if missing is not None:
        warnings.warn(
            f"evaluate_many(workers={workers}) matches in this process: spawned worker "
            f"processes re-import the main module, and {missing!r} cannot be imported (a "
            "script read from standard input?); run a script file, or use workers=1",
            RuntimeWarning,
            stacklevel=4,
        )
        match = kb._matcher.match
        return [match(fact) for fact in facts]
    size = max(64, min(2048, -(-len(facts) // (workers * 4))))
    chunks = [facts[start : start + size] for start in range(0, len(facts), size)]
    context = multiprocessing.get_context("spawn")
    matches: list[frozenset[str]] = []
    with ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(kb,),
    ) as pool:
        for fingerprint, found in pool.map(_match_chunk, chunks):
            if fingerprint != kb.fingerprint:  # pragma: no cover - a rebuild that differs
                raise EngineError("a worker rebuilt a different knowledge base")
            matches.extend(found)
    return matches


def _unimportable_main() -> str | None:
    """The path a spawned process would run as ``__main__``, when it is not a file; else None.

    The same rule as :func:`multiprocessing.spawn.get_preparation_data`: a main module with a
    ``__spec__`` is imported by name, one without ``__file__`` (the REPL, ``-c``, notebooks) is
    not imported at all, and any other is run from its path. For ``python - < script.py`` that
    path is ``<stdin>``: every worker dies at start, and the pool used to wait for them forever.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(getattr(main, "__spec__", None), "name", None) is not None:
        return None
    path = getattr(main, "__file__", None)
    if not isinstance(path, str):
        return None
    original = getattr(multiprocessing.process, "ORIGINAL_DIR", None)
    if not os.path.isabs(path) and isinstance(original, str):
        path = os.path.join(original, path)
    return None if os.path.isfile(path) else path
