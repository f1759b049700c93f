"""The ASGI application: discovery, the two hook services and their feedback endpoints, behind
token checks, a request size limit, CORS, JSON errors and a request log without patient data.

Every answer to a bad request is a 4xx JSON body ``{"error": ..., "message": ...}``; anything
unexpected is a 500 with a generic JSON body, and the log gets only the exception's type (its
message and traceback, which may quote patient data, only at DEBUG level).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._model import jsonstrict
from ..fhir import FhirError, FhirProfile, profile_from_fhir
from ._auth import AuthError, TokenVerifier, issuer_keys
from ._cards import Card, cards_from_result, order_cards
from ._feedback import FeedbackLog, feedback_lines
from ._hooks import SERVICES, HookCall, RequestProblem, discovery, hook_call
from ._issued import IssuedCards
from ._orders import read_draft_orders
from ._records import INLINE_BYTES, FhirUnavailable, Record, offload, patient_record

if TYPE_CHECKING:
    from .._api.knowledge_base import KnowledgeBase
    from .._model.result import Result

__all__ = ["create_app"]

log = logging.getLogger("immunorules.service")

IssuerSource = str | os.PathLike[str] | Mapping[str, Any]
#: Records of at most this many resources, from at most ``INLINE_BYTES`` of JSON, are read on
#: the event loop (a few milliseconds); larger ones in a worker thread, so a big record never
#: stalls other requests. Handing work to a thread costs about 3.5 ms per request on the
#: benchmark machine, nearly as much as reading a 60-resource record (about 2.5 ms):
#: benchmarks/service_bench.py. The same bound decides where a request body or a FHIR server's
#: answer is parsed.
INLINE_RESOURCES = 200


def _problem(
    status: int, error: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse({"error": error, "message": message}, status, headers=headers)


class _Observe:
    """Pure ASGI middleware: a request id (``X-Request-Id``), one log line per request (id,
    method, route, hook, status, duration, cards: never a body, a query or a patient id), and
    a generic JSON 500 for anything unexpected, never a traceback to the client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except ClientDisconnect:  # nobody is left to answer: not the service's failure
            status = status or 499
            log.debug("request %s: the client disconnected before the answer", request_id)
        except Exception as exc:
            log.error("request %s: internal error (%s)", request_id, type(exc).__name__)
            log.debug("request %s: traceback", request_id, exc_info=True)
            if status:  # the response had started: nothing more can be said
                return
            response = _problem(500, "internal_error", "the service failed to answer")
            await response(scope, receive, sending)
        finally:
            took = (time.perf_counter() - started) * 1000
            extra = "".join(
                f" {key}={state[key]}" for key in ("hook", "cards", "issuer") if key in state
            )
            log.info(
                "request %s %s %s -> %d in %.1f ms%s",
                request_id,
                scope.get("method", "-"),
                state.get("route", "-"),
                status,
                took,
                extra,
            )


class _Cors(CORSMiddleware):
    """Starlette's CORS, with preflight answers that are not text: an accepted preflight is an
    empty 200 with the CORS headers, a refused one a JSON 400."""

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        headers = {
            key: value
            for key, value in answer.headers.items()
            if key not in ("content-type", "content-length")
        }
        if answer.status_code == 200:
            return Response(status_code=200, headers=headers)
        return _problem(
            answer.status_code,
            "cors_refused",
            "this origin, method or header is not allowed (CORS)",
            headers,
        )


class _Authorize:
    """Pure ASGI middleware: every request to ``/cds-services`` or a path under it needs a valid
    token before anything else is looked at (which service ids exist, which methods a path
    takes); others go on to the routes."""

    def __init__(self, app: ASGIApp, *, service: _Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == "/cds-services" or path.startswith("/cds-services/"):
            request = Request(scope, receive)
            try:
                await self.service.authorize(request)
            except RequestProblem as exc:
                state = scope.setdefault("state", {})
                state.setdefault("route", _route_of(path))
                headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
                await _problem(exc.status, exc.error, exc.message, headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _route_of(path: str) -> str:
    """How the request log names the route of a refused request (never an unknown id)."""
    parts = path.removeprefix("/cds-services").strip("/").split("/")
    if parts == [""]:
        return "discovery"
    if len(parts) <= 2 and parts[0] in SERVICES and parts[1:] in ([], ["feedback"]):
        return f"{'feedback' if parts[1:] else 'service'} {parts[0]}"
    return "(unknown path)"


class _Service:
    """What the endpoints share: the knowledge base, the token checks, the HTTP client."""

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        verifier: TokenVerifier | None,
        feedback: FeedbackLog | None,
        fhir_timeout: float,
        max_request_bytes: int,
        read_timeout: float,
        answer_timeout: float,
        issued_cards: int,
    ) -> None:
        self.kb = kb
        self.verifier = verifier
        self.feedback = feedback
        self.fhir_timeout = fhir_timeout
        self.max_request_bytes = max_request_bytes
        self.read_timeout = read_timeout
        self.answer_timeout = answer_timeout
        self._client: httpx.AsyncClient | None = None
        self.issued = IssuedCards(issued_cards)
        # Resolution caches are shared: one evaluation at a time (each takes microseconds).
        self._evaluating = threading.Lock()

    @property
    def kb_info(self) -> dict[str, str]:
        """The name, version and fingerprint of the knowledge base answering now."""
        info = self.kb.info
        return {"name": info.name, "version": info.version, "fingerprint": info.fingerprint}

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.fhir_timeout),
                follow_redirects=False,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- the pieces of every request ---------------------------------------------------------

    async def authorize(self, request: Request) -> None:
        if self.verifier is None:
            return
        try:
            claims = await self.verifier.verify(
                request.headers.get("authorization"), request.url.path, self.client
            )
        except AuthError as exc:
            log.warning("request %s: token refused: %s", request.state.request_id, exc.reason)
            if exc.status == 503:
                raise RequestProblem(503, "unavailable", "try again later") from None
            raise _Unauthorized() from None
        request.state.issuer = claims["iss"]

    async def body(self, request: Request) -> Any:
        limit = self.max_request_bytes
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise RequestProblem(400, "bad_request", "Content-Length is not a number")
            if int(length) > limit:
                raise RequestProblem(413, "too_large", f"the request is over {limit} bytes")
        data = bytearray()
        try:
            async with asyncio.timeout(self.read_timeout):  # the whole body, not each read
                async for chunk in request.stream():
                    data += chunk
                    if len(data) > limit:
                        raise RequestProblem(413, "too_large", f"the request is over {limit} bytes")
        except TimeoutError:
            raise _TooSlow(self.read_timeout) from None
        request.state.body_bytes = len(data)
        strict = partial(jsonstrict.loads, bytes(data), lone_surrogates=False)
        try:
            return strict() if len(data) <= INLINE_BYTES else await offload(strict)
        except jsonstrict.StrictJSONError as exc:
            raise RequestProblem(
                400, "bad_json", f"the request body is not valid JSON: {exc}"
            ) from None
        except ValueError:
            raise RequestProblem(400, "bad_json", "the request body is not valid JSON") from None

    # -- answering a hook --------------------------------------------------------------------

    async def cards(self, request: Request, call: HookCall) -> list[Card]:
        """The cards for a call: what prefetch lacks is fetched (and parsed) within
        ``fhir_timeout`` seconds, and the record is read and evaluated within
        ``answer_timeout`` seconds, or there are none (and the log says why)."""
        try:
            async with asyncio.timeout(self.fhir_timeout):
                record = await patient_record(self.client, call)
        except TimeoutError:
            return self._none(request, f"the FHIR server took over {self.fhir_timeout:g} s")
        except FhirUnavailable as exc:
            return self._none(request, str(exc))
        size = getattr(request.state, "body_bytes", 0) + record.fetched_bytes
        try:
            if len(record.resources) <= INLINE_RESOURCES and size <= INLINE_BYTES:
                return self._answer(call, record)
            async with asyncio.timeout(self.answer_timeout):
                return await offload(partial(self._answer, call, record))
        except TimeoutError:
            return self._none(request, f"reading the record took over {self.answer_timeout:g} s")
        except FhirUnavailable as exc:
            return self._none(request, str(exc))

    def _none(self, request: Request, reason: str) -> list[Card]:
        log.error("request %s: no cards: %s", request.state.request_id, reason)
        return []

    def _evaluate(self, found: FhirProfile, kb: KnowledgeBase) -> Result:
        assert found.profile is not None
        with self._evaluating:
            return kb.evaluate(found.profile)

    def _answer(self, call: HookCall, record: Record) -> list[Card]:
        """The cards for a record (in a worker thread for a large record). The knowledge base
        is read once: a reload during the request never mixes two rule sets in one answer."""
        kb = self.kb
        try:
            found = profile_from_fhir(record.resources, kb=kb, validate="used")
        except FhirError as exc:
            if record.fetched:
                raise FhirUnavailable(
                    f"the FHIR server's record is not valid FHIR R4 ({len(exc.problems)} problems)"
                ) from None
            raise RequestProblem(400, "invalid_fhir", str(exc)) from None
        if found.profile is None:  # no problem the rules treat
            return []
        result = self._evaluate(found, kb)
        if call.service.hook != "order-select":
            return cards_from_result(result, fhir=found, kb=kb)
        ordered = self._ordered_classes(call, kb)
        if not ordered:
            return []
        return order_cards(result, ordered, fhir=found, kb=kb)

    def _ordered_classes(self, call: HookCall, kb: KnowledgeBase) -> dict[str, list[str]]:
        """The drug class of each selected medication order: only the elements the service reads
        are taken from the orders (``medication[x]``, ``status``, ``subject``), and read by the
        same FHIR mapping as the record (as if active, since the mapping leaves drafts out).
        An order about another patient is left out (the log counts them, naming nobody)."""
        orders = read_draft_orders(call.context, call.patient_id)
        if not orders.selected:
            return {}
        try:
            found = profile_from_fhir(orders.bundle, kb=kb, validate="used")
        except FhirError as exc:
            raise RequestProblem(400, "invalid_draft_orders", str(exc)) from None
        for warning in found.warnings:
            if "left out" in warning:
                log.warning("draft orders: %s", warning)
        return {
            sub: list(dict.fromkeys(e.resource or "" for e in evidence))
            for sub, evidence in found.therapy_classes.items()
        }

    def use(self, kb: KnowledgeBase) -> None:
        """Answer with ``kb`` from now on (a reload of the rules: one assignment)."""
        self.kb = kb

    def warm_up(self) -> None:
        """Load the FHIR models and the code index before the first request needs them."""
        patient = {"resourceType": "Patient", "id": "warm-up"}
        condition = {
            "resourceType": "Condition",
            "id": "warm-up",
            "subject": {"reference": "Patient/warm-up"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "69896004"}]},
        }
        try:
            found = profile_from_fhir([patient, condition], kb=self.kb)
            if found.profile is not None:
                self._evaluate(found, self.kb)
        except Exception:  # a warm-up is only an optimisation
            log.debug("warm-up failed", exc_info=True)


class _TooSlow(RequestProblem):
    def __init__(self, seconds: float) -> None:
        super().__init__(408, "timeout", f"the request body did not arrive within {seconds:g} s")


class _Unauthorized(RequestProblem):
    def __init__(self) -> None:
        super().__init__(
            401, "unauthorized", "a valid bearer token signed by a trusted CDS client is required"
        )


def create_app(
    kb: KnowledgeBase | None = None,
    *,
    issuers: Mapping[str, IssuerSource] | None = None,
    audience: str | None = None,
    allow_unauthenticated: bool = False,
    feedback_log: str | os.PathLike[str] | None = None,
    allow_origins: Sequence[str] = ("*",),
    fhir_timeout: float = 5.0,
    max_request_bytes: int = 1024 * 1024,
    read_timeout: float = 10.0,
    answer_timeout: float = 10.0,
    jwks_ttl: float = 3600.0,
    jwks_timeout: float = 5.0,
    max_token_lifetime: float = 3600.0,
    replay_cache_size: int = 100_000,
    issued_cards: int = 100_000,
) -> Starlette:
    """A CDS Hooks 2.0 service for ``kb`` (default: the bundled knowledge base), as an ASGI
    application (serve it with uvicorn).

    - ``GET /cds-services``: discovery, a ``patient-view`` and an ``order-select`` service.
    - ``POST /cds-services/{id}``: cards for the patient; the record comes from prefetch, and
      what prefetch lacks from the request's ``fhirServer`` (with its ``fhirAuthorization``
      token), within ``fhir_timeout`` seconds: a FHIR server that fails or is slower answers
      ``{"cards": []}`` and logs why; so does a record that takes over ``answer_timeout``
      seconds to read and evaluate (a large one is read in a worker thread).
    - ``POST /cds-services/{id}/feedback``: appends each feedback item to ``feedback_log`` (JSON
      Lines; not stored when None), with the knowledge base behind the card. Feedback that
      breaks the spec's rules gets 400: ``acceptedSuggestions`` without the outcome
      ``accepted`` (or that outcome without them), ``overrideReason`` without ``overridden``,
      and, for the last ``issued_cards`` cards this process answered with, a suggestion or an
      override reason the card did not offer.

    ``issuers`` maps each trusted CDS client's ``iss`` to its JWK Set: an ``https://`` URL
    (fetched when needed, within ``jwks_timeout`` seconds, kept ``jwks_ttl`` seconds), a file,
    or the JWK Set itself. Every
    request must carry a JWT signed by one of them whose ``aud`` is ``audience`` (this
    service's public base URL) followed by the path called; ``allow_unauthenticated=True``
    checks no token, for local development only. Requests over ``max_request_bytes`` get 413,
    and a body not received within ``read_timeout`` seconds 408;
    browsers from ``allow_origins`` may call the service (CORS).
    """
    if kb is None:
        from .._api.functions import bundled

        kb = bundled()
    verifier: TokenVerifier | None = None
    if not allow_unauthenticated:
        if not issuers:
            raise ValueError(
                "give the trusted issuers (issuers={iss: JWK Set URL or file}), or "
                "allow_unauthenticated=True for local development"
            )
        if not audience or not audience.startswith(("https://", "http://")):
            raise ValueError(
                "audience must be the service's base URL, e.g. https://cds.example.org"
            )
        from ._auth import ReplayCache

        verifier = TokenVerifier(
            {
                iss: issuer_keys(source, ttl=jwks_ttl, deadline=jwks_timeout)
                for iss, source in issuers.items()
            },
            audience,
            max_lifetime=max_token_lifetime,
            replay=ReplayCache(replay_cache_size),
        )
    else:
        log.warning(
            "UNAUTHENTICATED DEVELOPMENT MODE: requests are served without checking any token; "
            "never expose this service to a network"
        )
    # httpx logs every request's URL at INFO: the FHIR server's URLs name the patient.
    quiet = logging.getLogger("httpx")
    if quiet.level < logging.WARNING:
        quiet.setLevel(logging.WARNING)
    service = _Service(
        kb,
        verifier=verifier,
        feedback=FeedbackLog(feedback_log) if feedback_log is not None else None,
        fhir_timeout=fhir_timeout,
        max_request_bytes=max_request_bytes,
        read_timeout=read_timeout,
        answer_timeout=answer_timeout,
        issued_cards=issued_cards,
    )
    listing = discovery(unauthenticated=allow_unauthenticated)

    async def discover(request: Request) -> Response:
        request.state.route = "discovery"
        return JSONResponse(listing)

    def known(request: Request, route: str) -> str:
        service_id = request.path_params["service_id"]
        if service_id not in SERVICES:
            request.state.route = f"{route} (unknown service)"
            raise RequestProblem(404, "unknown_service", "no CDS service has this id")
        request.state.route = f"{route} {service_id}"
        return str(service_id)

    async def call(request: Request) -> Response:
        service_id = known(request, "service")
        body = await service.body(request)
        hook = hook_call(SERVICES[service_id], body)
        request.state.hook = hook.service.hook
        cards = await service.cards(request, hook)
        service.issued.add(service_id, cards, service.kb_info)
        request.state.cards = len(cards)
        return JSONResponse({"cards": cards})

    async def feedback(request: Request) -> Response:
        service_id = known(request, "feedback")
        body = await service.body(request)
        lines = feedback_lines(
            service_id,
            body,
            getattr(request.state, "issuer", None),
            issued=service.issued,
            knowledge_base=service.kb_info,
        )
        if service.feedback is not None:
            try:
                await run_in_threadpool(service.feedback.append, lines)
            except OSError as exc:  # e.g. a full disk: the log holds no partial line
                log.error(
                    "request %s: feedback not stored: %s",
                    request.state.request_id,
                    errno.errorcode.get(exc.errno or 0, type(exc).__name__),
                )
                raise RequestProblem(
                    503, "unavailable", "the feedback could not be stored; try again later"
                ) from None
        return JSONResponse({"recorded": len(lines)})

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestProblem)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 408:  # the rest of the body may never come: end the connection
            headers = {"Connection": "close"}
        return _problem(exc.status, exc.error, exc.message, headers)

    async def http_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        return _problem(exc.status_code, error, str(exc.detail), exc.headers)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(service.warm_up)
        try:
            yield
        finally:
            await service.close()

    app = Starlette(
        routes=[
            Route("/cds-services", discover, methods=["GET"]),
            Route("/cds-services/{service_id}", call, methods=["POST"]),
            Route("/cds-services/{service_id}/feedback", feedback, methods=["POST"]),
        ],
        middleware=[
            Middleware(
                _Cors,
                allow_origins=list(allow_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "Accept"],
                expose_headers=["X-Request-Id"],
                max_age=600,
            ),
            Middleware(_Observe),
            Middleware(_Authorize, service=service),
        ],
        exception_handlers={RequestProblem: problem, HTTPException: http_problem},
        lifespan=lifespan,
    )
    # ``immunorules serve --reload`` swaps in a knowledge base it has loaded whole
    app.state.use_knowledge_base = service.use
    return app
