"""How the service is served: uvicorn's settings, and the limits of the HTTP layer that uvicorn
does not set by itself (a request head's size and the time to receive it).

``immunorules serve`` and the tests serve with :func:`uvicorn_options`; an application served
another way gets the application's own limits (body size and read time, answer deadline) but
must set these in its own server or proxy. This module configures the server; it never reads a
request's content.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

__all__ = [
    "FD_RESERVE",
    "HEADER_TIMEOUT",
    "KEEP_ALIVE",
    "MAX_CONNECTIONS",
    "MAX_HEADER_BYTES",
    "connection_limit",
    "uvicorn_options",
]

#: The largest request head (request line and headers) read; a larger one gets 431 and the
#: connection is closed. Tokens are a few kilobytes.
MAX_HEADER_BYTES = 64 * 1024
#: Seconds a client has to send a whole request head, from its first byte (or from connecting);
#: a slower one gets 408 and the connection is closed.
HEADER_TIMEOUT = 10.0
#: Seconds an idle keep-alive connection is kept open.
KEEP_ALIVE = 5
#: Connections (and requests in progress) beyond which a new request gets 503 at once.
MAX_CONNECTIONS = 200
#: File descriptors kept free for everything but client connections (the FHIR server and JWK
#: Set connections, the feedback log, worker threads' files, the listening sockets): the
#: connection limit is lowered below the process's open-file limit by this many.
FD_RESERVE = 96
_BUSY_MESSAGE = "the service is busy (too many connections); try again later"


def connection_limit(max_connections: int = MAX_CONNECTIONS) -> int:
    """``max_connections``, lowered when the process's open-file limit would run out first
    (a flood of slow clients must meet a JSON 503, never a refused ``accept``)."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        return max_connections
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return max_connections
    return max(1, min(max_connections, soft - FD_RESERVE))


async def _busy(scope: Any, receive: Any, send: Any) -> None:
    """The answer beyond the connection limit: a JSON 503, and the connection closed."""
    body = json.dumps({"error": "unavailable", "message": _BUSY_MESSAGE}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _refusal(status: int, reason: str, error: str, message: str) -> bytes:
    body = json.dumps({"error": error, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _guarded_protocol(
    max_header_bytes: int, header_timeout: float, limit: int
) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with a bound on the request head's size and time, and on
    the connections held open: one over ``limit`` is answered a JSON 503 and closed at once
    (before it can hold a file descriptor for its head's whole deadline), and a request beyond
    ``limit`` requests in progress gets the same answer."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    busy = _refusal(503, "Service Unavailable", "unavailable", _BUSY_MESSAGE)

    too_large = _refusal(
        431,
        "Request Header Fields Too Large",
        "too_large",
        f"the request line and headers are over {max_header_bytes} bytes",
    )
    too_slow = _refusal(
        408,
        "Request Timeout",
        "timeout",
        f"the request line and headers did not arrive within {header_timeout:g} s",
    )

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _head_bytes = 0
        _in_head = True
        _head_timer: asyncio.TimerHandle | None = None

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.limit_concurrency = None  # checked here, with a JSON answer

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limit:
                self._in_head = False
                self._refuse(busy)
                return
            self._start_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._in_head and not self.transport.is_closing():
                # Counted after parsing: a chunk that ends the head and starts the body is fine.
                self._head_bytes += len(data)
                if self._head_bytes > max_header_bytes:
                    self._refuse(too_large)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._start_head()

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._stop_timer()
            if len(self.tasks) < limit:
                super().on_headers_complete()
                return
            app = self.app
            self.app = _busy
            try:
                super().on_headers_complete()
            finally:
                self.app = app

        def _start_head(self) -> None:
            self._in_head = True
            self._head_bytes = 0
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(header_timeout, self._head_timed_out)

        def _stop_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self._in_head and not self.transport.is_closing():
                self._refuse(too_slow)

        def _refuse(self, answer: bytes) -> None:
            self._stop_timer()
            self.transport.write(answer)
            self.transport.close()

    return GuardedHttpToolsProtocol


def uvicorn_options(
    *,
    max_header_bytes: int = MAX_HEADER_BYTES,
    header_timeout: float = HEADER_TIMEOUT,
    keep_alive: int = KEEP_ALIVE,
    max_connections: int = MAX_CONNECTIONS,
) -> dict[str, Any]:
    """Keyword options for ``uvicorn.run`` or ``uvicorn.Config`` that bound what one client can
    hold: the size of a request head and the time to send it (with httptools, which the
    ``service`` extra installs; with h11 only the size), idle keep-alive connections, and the
    connections served at once (beyond: a JSON 503, and the connection closed at once). The
    connection limit is lowered below the open-file limit (see :func:`connection_limit`), so a
    flood of slow clients cannot use up the process's file descriptors."""
    limit = connection_limit(max_connections)
    options: dict[str, Any] = {
        "timeout_keep_alive": keep_alive,
        "limit_concurrency": limit,
        "h11_max_incomplete_event_size": max_header_bytes,
        "access_log": False,
        "server_header": False,
    }
    try:
        options["http"] = _guarded_protocol(max_header_bytes, header_timeout, limit)
    except ImportError:  # pragma: no cover - httptools is part of the service extra
        options["http"] = "h11"
    return options
