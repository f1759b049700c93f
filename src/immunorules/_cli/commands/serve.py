"""``immunorules serve``: the CDS Hooks service (:mod:`immunorules.service`) under uvicorn.

Without ``--allow-unauthenticated`` at least one ``--issuer`` is required; with it, the service
binds only to a loopback address and says on stderr and in its log that no token is checked.
It never starts serving with options that would expose an unchecked service. With ``--reload``
the rules are re-read when their files change or on SIGHUP (:mod:`..reloading`); rules that do
not load leave the old ones serving.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import knowledge
from ..context import CliError, Context
from ..options import FORMATTER, PROG, add_rules

if TYPE_CHECKING:
    from ..knowledge import KnowledgeBase
    from ..reloading import RuleReloader

__all__ = ["register", "run"]

_LOOPBACK_NAMES = ("localhost",)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve``."""
    serve = sub.add_parser(
        "serve",
        help="serve CDS Hooks (patient-view, order-select) over HTTP (needs the service extra)",
        description="A CDS Hooks 2.0 service: GET /cds-services (discovery), POST "
        "/cds-services/{id} (cards), POST /cds-services/{id}/feedback. Every request must carry "
        "a JWT signed by a trusted issuer (--issuer) whose aud is --audience plus the path.",
        epilog=f"""examples:
  {PROG} serve --issuer https://ehr.example.org=https://ehr.example.org/jwks.json \\
      --audience https://cds.example.org
  {PROG} serve --issuer https://sandbox.cds-hooks.org=sandbox-jwks.json
  {PROG} serve --allow-unauthenticated        (local development only: checks no token)
  {PROG} serve --rules my_rules/ --reload --issuer ...   (re-read my_rules/ when it changes)""",
        formatter_class=FORMATTER,
    )
    add_rules(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    serve.add_argument(
        "--issuer",
        action="append",
        default=[],
        metavar="ISS=JWKS",
        help="a trusted CDS client: its iss, '=', and its JWK Set URL or file (repeatable)",
    )
    serve.add_argument(
        "--audience",
        metavar="URL",
        default=None,
        help="this service's public base URL, which tokens name in aud with the path called "
        "(default: http://HOST:PORT)",
    )
    serve.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="check no token: for local development only (binds to loopback only)",
    )
    serve.add_argument(
        "--feedback-log",
        metavar="PATH",
        default="cds-feedback.jsonl",
        help="where feedback is appended as JSON Lines (default: cds-feedback.jsonl)",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="a web origin whose pages may call the service (CORS; repeatable; default: any)",
    )
    serve.add_argument(
        "--fhir-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long to wait for the client's FHIR server (default: 5)",
    )
    serve.add_argument(
        "--max-request-bytes",
        type=int,
        default=1024 * 1024,
        metavar="N",
        help="larger requests get 413 (default: 1048576)",
    )
    serve.add_argument(
        "--reload",
        action="store_true",
        help="re-read the rules when their files change or on SIGHUP; rules that do not load "
        "leave the old ones serving, and their problems are logged",
    )
    serve.add_argument(
        "--reload-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how often --reload looks at the rule files (default: 1)",
    )
    serve.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="default: info (debug logs tracebacks, which may quote patient data)",
    )


def _loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _issuers(given: list[str]) -> dict[str, str]:
    issuers: dict[str, str] = {}
    for item in given:
        iss, sep, source = item.partition("=")
        if not sep or not iss or not source:
            raise CliError(
                f"--issuer takes ISS=JWKS (an issuer, '=', a JWK Set URL or file), not {item!r}."
            )
        issuers[iss] = source
    return issuers


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Serve until stopped; 0."""
    kb = knowledge.load(args)
    try:
        import uvicorn

        from ...service import create_app, uvicorn_options
    except ImportError:
        raise CliError(
            "serve needs the service extra: pip install 'immunorules[service]' (starlette, "
            "uvicorn, httpx, PyJWT, fhir.resources)."
        ) from None
    if not 0 < args.port < 65536:
        raise CliError(f"--port must be between 1 and 65535, not {args.port}.")
    if not 0 < args.reload_interval <= 3600:
        raise CliError(
            "--reload-interval must be above 0 and at most 3600 seconds, not "
            f"{args.reload_interval}."
        )
    issuers = _issuers(args.issuer)
    unauthenticated = args.allow_unauthenticated
    if unauthenticated and not _loopback(args.host):
        raise CliError(
            f"--allow-unauthenticated serves only on a loopback address (127.0.0.1, ::1, "
            f"localhost), not {args.host}: without token checks anyone who reaches the port "
            "could use the service."
        )
    if not unauthenticated and not issuers:
        raise CliError(
            "give at least one trusted issuer (--issuer ISS=JWKS_URL_or_file), or "
            "--allow-unauthenticated for local development."
        )
    host = f"[{args.host}]" if ":" in args.host else args.host
    audience = args.audience or f"http://{host}:{args.port}"
    handler = logging.StreamHandler(ctx.err.stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("immunorules.service")
    logger.addHandler(handler)
    logger.setLevel(args.log_level.upper())
    logger.propagate = False
    if unauthenticated:
        ctx.err.write(
            "\n" + "!" * 78 + "\n!! UNAUTHENTICATED DEVELOPMENT MODE: no token is checked. Serving "
            "on loopback only.\n!! Never use this with real patient data or expose it to a "
            "network.\n" + "!" * 78 + "\n\n"
        )
    try:
        app = create_app(
            kb,
            issuers=issuers or None,
            audience=audience,
            allow_origins=tuple(args.allow_origin or ("*",)),
            allow_unauthenticated=unauthenticated,
            feedback_log=args.feedback_log,
            fhir_timeout=args.fhir_timeout,
            max_request_bytes=args.max_request_bytes,
        )
    except ValueError as exc:
        raise CliError(f"{exc}.") from None
    ctx.out.write(
        f"immunorules CDS Hooks service: discovery at http://{host}:{args.port}/cds-services "
        f"(audience {audience}); knowledge base {kb.name} {kb.version}, fingerprint "
        f"{kb.fingerprint[:12]}; research prototype, NOT FOR CLINICAL USE.\n"
    )
    reloader = _reloader(args, kb, app, logger) if args.reload else None
    if reloader is not None:
        shown = ", ".join(str(path) for path in reloader.paths)
        ctx.out.write(f"Reloading the rules from {shown} when they change or on SIGHUP.\n")
    ctx.out.flush()
    try:
        # uvicorn_options: the bounds on request heads, slow clients and connections.
        uvicorn.run(
            app, host=args.host, port=args.port, log_level=args.log_level, **uvicorn_options()
        )
    finally:
        if reloader is not None:
            reloader.stop()
    return 0


def _reloader(
    args: argparse.Namespace, kb: KnowledgeBase, app: Any, logger: logging.Logger
) -> RuleReloader:
    """Start re-reading the rules of ``args`` into ``app`` when they change or on SIGHUP."""
    from ..._load.loader import BUNDLED_RULES
    from ..reloading import RuleReloader

    paths = [Path(item) for item in args.rules] if args.rules else [BUNDLED_RULES]
    reloader = RuleReloader(
        paths,
        kb=kb,
        load=lambda: knowledge.reload(args),
        use=app.state.use_knowledge_base,
        log=logger,
        interval=args.reload_interval,
    )
    if hasattr(signal, "SIGHUP"):  # not on Windows
        signal.signal(signal.SIGHUP, lambda signum, frame: reloader.request())
    reloader.start()
    return reloader
