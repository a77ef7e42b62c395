"""Running the application on uvicorn: a bound socket, readiness, and a graceful stop."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Generator
from types import FrameType

import uvicorn

from batchkit.server.app import ServerApplication
from batchkit.server.http_protocol import guarded_http_protocol

__all__ = ["ServingServer", "bind_socket"]


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one (read it with ``getsockname``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the
    # protocol says TCP; without it Nagle and delayed ACKs add ~40 ms to each keep-alive request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # SO_REUSEADDR: a restart binds the same port again while old connections linger.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def _config(application: ServerApplication) -> uvicorn.Config:
    settings = application.context.settings
    return uvicorn.Config(
        application.asgi,
        lifespan="on",
        log_level="warning",
        # Socket.io puts the token in the query string: access logs would leak it.
        access_log=False,
        ws="websockets-sansio",
        timeout_graceful_shutdown=3,
        # Limits of the connection itself (the body's are in batchkit.server.request_limits).
        http=guarded_http_protocol(
            max_head_bytes=settings.max_header_bytes,
            head_timeout=settings.header_timeout_seconds,
            drain_seconds=settings.refused_body_drain_seconds,
        ),
        ws_max_size=settings.max_socket_message_bytes,
        limit_concurrency=settings.max_connections,
    )


class ServingServer(uvicorn.Server):
    """uvicorn, plus: a callback once listening, socket clients dropped first on shutdown,
    and (from the main thread) SIGINT/SIGTERM ending it gracefully with no signal re-raised."""

    def __init__(
        self,
        application: ServerApplication,
        *,
        on_ready: Callable[[], None] = lambda: None,
        handle_signals: bool = False,
    ) -> None:
        super().__init__(_config(application))
        self._application = application
        self._on_ready = on_ready
        self._handle_signals = handle_signals

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._on_ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Dropping socket.io clients first means no long-poll keeps a connection open.
        drop: Awaitable[int] = self._application.sockets.drop_all()
        await drop
        await super().shutdown(sockets=sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if not self._handle_signals or threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._stop_on_signal) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop_on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl+C: stop waiting for connections
        self.should_exit = True
