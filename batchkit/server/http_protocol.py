"""uvicorn's HTTP/1.1 protocol, bounded where uvicorn is not: the request head, and the rest of
a body that was answered before it was read.

* A client may send headers without end, or open a connection and send half a request line,
  and hold the connection for as long as it likes. The ASGI application cannot help (it is only
  called once the headers are complete), so the guard sits here: past ``max_head_bytes`` the
  answer is 431, past ``head_timeout`` seconds 408, and the connection is closed.
* A request answered before its body was read (a 413, a 401) is answered with "connection:
  close" (by :mod:`batchkit.server.request_limits`), and uvicorn then closes at once. But
  closing a socket with unread data sends a reset, which can destroy the answer on its way to
  the client; so the connection stops writing and drains (reads and drops) what the client
  still sends, for ``drain_seconds`` at most, and closes then or as soon as the body has ended.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any, ClassVar, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from batchkit.server.request_limits import describe_bytes, error_bytes

__all__ = ["guarded_http_protocol"]


class _GuardedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes: ClassVar[int]
    head_timeout: ClassVar[float]
    drain_seconds: ClassVar[float]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._in_head = True
        self._head_bytes = 0
        self._head_tail = b""
        self._refused = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        if self._drain_timer is not None:
            self._drain_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused or (self._in_head and self._head_too_large(data)):
            return
        super().data_received(data)

    def _head_too_large(self, data: bytes) -> bool:
        """Count the head's bytes before the parser sees them: httptools would buffer a header
        whole, however long, before handing it over."""
        seen = self._head_tail + data
        end = seen.find(b"\r\n\r\n")
        self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._head_tail))
        self._head_tail = seen[-3:]
        if self._head_bytes <= self.max_head_bytes:
            return False
        self._refuse(
            HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
            f"the request line and headers are larger than the limit of "
            f"{describe_bytes(self.max_head_bytes)} (max_header_bytes)",
        )
        return True

    # ------------------------------------------------------------ parser callbacks
    def on_message_begin(self) -> None:
        self._arm_head_timer()  # a kept-alive connection's next request gets its own deadline
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes, self._head_tail = False, 0, b""
        self._disarm_head_timer()
        super().on_headers_complete()
        if self.cycle is not None:
            # The cycle closes the connection after a "connection: close" answer: let it linger.
            self.cycle.transport = cast(asyncio.Transport, _LingeringTransport(self, self.cycle))

    def on_message_complete(self) -> None:
        self._in_head = True  # what comes next is the head of the next request
        draining = self._drain_timer is not None
        super().on_message_complete()
        if draining:
            self._close()  # the rest was drained: nothing unread is left to reset the answer

    def close_after_drain(self, cycle: Any) -> None:
        """Close now if ``cycle``'s body was read to its end; else stop writing, drain what the
        client still sends for ``drain_seconds`` at most, and close then (or at its end)."""
        if not cycle.more_body or self.transport.is_closing() or self._drain_timer is not None:
            self._close()
            return
        self._stop_writing_then_drain()

    def _stop_writing_then_drain(self) -> None:
        try:
            self.transport.write_eof()
        except OSError:  # the client has gone already: nothing to drain
            self._close()
            return
        self._drain_timer = self.loop.call_later(self.drain_seconds, self._close)

    def _close(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    # ------------------------------------------------------------ the guard
    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; its body has its own deadlines
        self._refuse(
            HTTPStatus.REQUEST_TIMEOUT,
            f"the request line and headers did not arrive within {self.head_timeout:g} s"
            " (header_timeout_seconds)",
        )

    def _refuse(self, status: HTTPStatus, message: str) -> None:
        """Answer, stop parsing, and close once what the client still sends has been drained."""
        self._refused = True
        self._disarm_head_timer()
        if self.transport.is_closing():
            return
        body = error_bytes(status, message)
        head = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)
        self._stop_writing_then_drain()


class _LingeringTransport:
    """What one request's cycle sees as its transport: the connection's, but ``close`` lingers."""

    def __init__(self, protocol: _GuardedHttpToolsProtocol, cycle: Any) -> None:
        self._protocol = protocol
        self._cycle = cycle

    def close(self) -> None:
        self._protocol.close_after_drain(self._cycle)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._protocol.transport, name)


def guarded_http_protocol(
    *, max_head_bytes: int, head_timeout: float, drain_seconds: float
) -> type[Any]:
    """The protocol class to give uvicorn (``Config(http=...)``) for these limits."""
    limits = {
        "max_head_bytes": max_head_bytes,
        "head_timeout": head_timeout,
        "drain_seconds": drain_seconds,
    }
    return type("GuardedHttpToolsProtocol", (_GuardedHttpToolsProtocol,), limits)
