"""A CDS Hooks 2.0 service: an EHR calls it when a patient's record is opened (``patient-view``)
or orders are selected (``order-select``), and gets cards with the therapy categories and drug
classes the rules suggest, flag or avoid, each with its rules and evidence.

Research prototype - NOT FOR CLINICAL USE. Needs the ``service`` extra
(``pip install "immunorules[service]"``): Starlette for the ASGI application, uvicorn to serve
it, httpx to read the client's FHIR server and JWK Sets, PyJWT to check the client's signed
tokens, and the ``fhir`` extra to read records. This package imports the core; the core never
imports it. ``immunorules serve`` runs it.
"""

from __future__ import annotations

try:
    from ._app import create_app
    from ._cards import (
        MAX_SOURCE_LABEL,
        MAX_SUMMARY,
        OVERRIDE_REASONS,
        OVERRIDE_SYSTEM,
        cards_from_result,
        order_cards,
    )
    from ._hooks import PREFETCH, SERVICES
    from ._server import uvicorn_options
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(
        f"immunorules.service needs the service extra: pip install 'immunorules[service]' ({exc})"
    ) from exc

__all__ = [
    "MAX_SOURCE_LABEL",
    "MAX_SUMMARY",
    "OVERRIDE_REASONS",
    "OVERRIDE_SYSTEM",
    "PREFETCH",
    "SERVICES",
    "cards_from_result",
    "create_app",
    "order_cards",
    "uvicorn_options",
]
