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

__all__ = ["HEADER_TIMEOUT", "KEEP_ALIVE", "MAX_CONNECTIONS", "MAX_HEADER_BYTES", "uvicorn_options"]

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


def _refusal(status: int, reason: str, error: str, message: str) -> bytes:
    body = json.dumps({"error": error, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _guarded_protocol(max_header_bytes: int, header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with a bound on the request head's size and time."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
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
            super().on_headers_complete()

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
    connections served at once (beyond: 503)."""
    options: dict[str, Any] = {
        "timeout_keep_alive": keep_alive,
        "limit_concurrency": max_connections,
        "h11_max_incomplete_event_size": max_header_bytes,
        "access_log": False,
        "server_header": False,
    }
    try:
        options["http"] = _guarded_protocol(max_header_bytes, header_timeout)
    except ImportError:  # pragma: no cover - httptools is part of the service extra
        options["http"] = "h11"
    return options
