"""Pydantic's API on immunorules' models, without its deprecated v1 half.

Pydantic 2 still carries the v1 methods (``dict``, ``json``, ``copy``, ``parse_obj``, ...) on
every model, deprecated and due to go in pydantic 3. Every public model of immunorules puts
:class:`WithoutV1` before ``BaseModel`` among its bases: reading one of them raises
``AttributeError`` as for any missing attribute, and ``dir()`` leaves them out. So no one comes
to depend on a spelling that will disappear, and each operation has one spelling:
``model_dump``, ``model_dump_json``, ``model_copy``, ``model_validate``,
``model_validate_json``, ``model_construct``, ``model_json_schema``, ``model_rebuild``. This
module imports nothing of immunorules; it must never add behaviour to the models beyond that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["HIDDEN_V1_API", "WithoutV1"]

#: Pydantic's deprecated v1 API.
HIDDEN_V1_API: frozenset[str] = frozenset(
    {
        "dict",
        "json",
        "copy",
        "parse_obj",
        "parse_raw",
        "parse_file",
        "from_orm",
        "construct",
        "schema",
        "schema_json",
        "validate",
        "update_forward_refs",
        "_iter",
        "_copy_and_set_values",
        "_get_value",
        "_calculate_keys",
    }
)


class _Hidden:
    """A class attribute that reads as absent, on the class and on its objects."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        raise AttributeError(self._name)


class WithoutV1:
    """Hides pydantic's deprecated v1 methods: put it before ``BaseModel`` among the bases."""

    def __dir__(self) -> list[str]:
        return [name for name in super().__dir__() if name not in HIDDEN_V1_API]


if not TYPE_CHECKING:  # type checkers keep seeing pydantic's own (deprecated) signatures
    for _name in HIDDEN_V1_API:
        setattr(WithoutV1, _name, _Hidden(_name))
    del _name
