"""The front door: the knowledge base, the bundled rules and the module-level functions.

Everything ``immunorules`` exports that does work lives here or is re-exported from here by the
package root. Loading this layer registers the renderers with the models (explicitly, once), so
that results, why-not answers, audits and knowledge bases can render. It imports the layers
below it; nothing below it may import it (they get a knowledge base from their caller).
"""

from __future__ import annotations

from .._render import register_all as _register_renderers

__all__: list[str] = []

_register_renderers()
