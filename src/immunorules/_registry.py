"""The renderer table: how models reach the render layer without importing it.

The models (results, why-not answers, audit reports, knowledge bases) render by looking up
``(kind, format)`` here; the front door (``immunorules._api``) fills the table when it loads,
and the package root installs the loader that brings the front door in when a model is rendered
before any public name was used. This module imports nothing, so the bottom layer can use it;
it must never import any other part of immunorules.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # imported by the package root: nothing at run time (see _cli._start)
    from collections.abc import Callable

__all__ = ["RendererMissingError", "register_renderer", "renderer", "set_loader"]


class RendererMissingError(LookupError):
    """No renderer is registered for a kind of object and a format."""


#: Renderers by (kind of object, format).
_RENDERERS: dict[tuple[str, str], Callable[..., str]] = {}
#: Called once when a renderer is missing: loads the layer that registers them.
_LOADER: list[Callable[[], object]] = []


def register_renderer(kind: str, format: str, render: Callable[..., str]) -> None:
    """Make ``render`` the ``format`` (text, markdown, html, json) renderer of ``kind``."""
    _RENDERERS[(kind, format)] = render


def set_loader(load: Callable[[], object]) -> None:
    """Have ``load()`` called when a renderer is looked up before any was registered."""
    _LOADER[:] = [load]


def renderer(kind: str, format: str) -> Callable[..., str]:
    """The ``format`` renderer of ``kind``, registering the renderers first if none is yet."""
    render = _RENDERERS.get((kind, format))
    if render is None and _LOADER:
        _LOADER[0]()
        render = _RENDERERS.get((kind, format))
    if render is None:
        raise RendererMissingError(
            f"no {format} renderer for {kind!r} objects: the renderers are registered when "
            "immunorules' public API loads (import immunorules and use any public name, or "
            "import immunorules._api)"
        )
    return render
