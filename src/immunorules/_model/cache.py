"""The one bounded cache of the package, with one documented policy.

Every cache that could grow with its input (plans and results per knowledge base, rebuilt
knowledge bases, unpickled schemas, the columnar path's parts) is a :class:`BoundedCache`. It
must never hold more than its bound, never hand out a value that was not put, and never raise
on a race between threads; it decides nothing about what is cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

_K = TypeVar("_K")
_V = TypeVar("_V")


class BoundedCache(Generic[_K, _V]):
    """A mapping of at most ``maxsize`` entries that forgets its oldest entry first.

    The policy, the same for every cache of the package:

    - **bounded**: a :meth:`put` into a full cache drops the entry put longest ago (first in,
      first out; a :meth:`get` never reorders, so a hit costs one dictionary lookup);
    - **thread-safe**: :meth:`put`, :meth:`clear` and :meth:`get_or_put` hold one lock;
      :meth:`get` takes none and, racing a ``put`` or ``clear`` from another thread, returns
      either the value or the default, never raises;
    - **no partial values**: a value is stored whole, once made; two threads missing the same
      key may both make it (:meth:`get_or_put` makes it outside the lock), and the later put
      wins, which is right for the values cached here (equal whichever thread makes them).
    """

    __slots__ = ("_data", "_lock", "get", "maxsize")

    #: ``get(key)``: the value put for ``key``, else None. The mapping's own lookup, bound
    #: once: a hit costs no Python call of this class.
    get: Callable[[_K], _V | None]

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, not {maxsize!r}")
        self.maxsize = maxsize
        self._data: OrderedDict[_K, _V] = OrderedDict()
        self._lock = threading.Lock()
        self.get = self._data.get

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def put(self, key: _K, value: _V) -> None:
        """Keep ``value`` for ``key``, dropping the oldest entries beyond the bound."""
        with self._lock:
            data = self._data
            data[key] = value
            while len(data) > self.maxsize:
                data.popitem(last=False)

    def get_or_put(self, key: _K, make: Callable[[], _V]) -> _V:
        """The value for ``key``, made by ``make()`` (outside the lock) and put if missing."""
        found = self._data.get(key, _MISSING)
        if found is _MISSING:
            found = make()
            self.put(key, found)
        return found  # type: ignore[return-value]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._data.clear()


_MISSING: object = object()
