"""Models made from values that are of their declared types already, without validating them.

Results, their lines and reasons, and dependencies are built from values the evaluation made
itself (never from input), so validating them again would only cost time. This module makes
them as ``model_construct`` would, faster, and checks once per class that it does; it must
never make a model that differs from ``model_construct``'s (equality, values in field order,
fields set, serialisation), and never be used for input.
"""

from __future__ import annotations

from typing import Any, Final, Generic, TypeVar

from pydantic import BaseModel

__all__ = ["Maker", "made"]

_Model = TypeVar("_Model", bound=BaseModel)

_STATE: Final = frozenset(
    {"__dict__", "__pydantic_extra__", "__pydantic_fields_set__", "__pydantic_private__"}
)


class Maker(Generic[_Model]):
    """Makes models of one class from values of their declared types, unvalidated.

    The first is made with ``model_construct``; every later one through pydantic's own pickle
    protocol (``__setstate__`` with the state ``__getstate__`` gives of the first, its values
    and fields set replaced), at about a third of the cost of ``model_copy`` and a tenth of
    ``model_construct``'s. That way is checked once against ``model_construct`` (equality,
    values in field order, fields set, serialisation); where it does not hold (another
    pydantic), every model is a ``model_copy`` of the first. Every model made here for one
    class is given the same fields, so each has exactly those fields set.
    """

    __slots__ = ("cls", "defaults", "fast", "given", "order", "prototype")

    def __init__(self, cls: type[_Model], values: dict[str, Any]) -> None:
        prototype = cls.model_construct(**values)
        self.cls = cls
        self.prototype = prototype
        self.order = tuple(prototype.__dict__)  # the fields, in field order
        self.defaults = {k: v for k, v in prototype.__dict__.items() if k not in values}
        self.given = frozenset(values)
        state = prototype.__getstate__()
        self.fast = (
            set(state) == _STATE
            and state["__pydantic_extra__"] is None
            and not state["__pydantic_private__"]
            and prototype.model_fields_set == self.given
        )
        if self.fast:
            made = self.exact(self.full(values))
            self.fast = (
                made == prototype
                and list(made.__dict__.items()) == list(prototype.__dict__.items())
                and made.model_fields_set == prototype.model_fields_set
                and made.model_dump() == prototype.model_dump()
                and made.__getstate__() == state
            )

    def full(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` and the defaults of the other fields, in field order."""
        defaults = self.defaults
        return {name: values[name] if name in values else defaults[name] for name in self.order}

    def exact(self, values: dict[str, Any]) -> _Model:
        """A model holding ``values``: every field, in field order (as :meth:`full` gives),
        those of :attr:`given` set. The dict becomes the model's own."""
        if not self.fast:
            return self.prototype.model_copy(update={k: values[k] for k in self.given})
        made = self.cls.__new__(self.cls)
        made.__setstate__(
            {
                "__dict__": values,
                "__pydantic_extra__": None,
                "__pydantic_fields_set__": set(self.given),
                "__pydantic_private__": None,
            }
        )
        return made


_MAKERS: dict[type[BaseModel], Maker[Any]] = {}


def _maker(cls: type[_Model], values: dict[str, Any]) -> Maker[_Model]:
    maker = _MAKERS.get(cls)
    if maker is None:
        maker = _MAKERS[cls] = Maker(cls, values)
    return maker


def made(cls: type[_Model], values: dict[str, Any]) -> _Model:
    """``cls`` holding ``values`` (of the declared types by construction), unvalidated; see
    :class:`_Maker`. Every model made here for one class is given the same fields."""
    maker = _maker(cls, values)
    made: _Model = maker.exact(maker.full(values))
    return made
