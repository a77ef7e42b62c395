"""Serve an ASGI app with uvicorn on 127.0.0.1, port 0, in a thread with its own event loop.

The test's event loop stays free: the server never shares a loop with the code under test, as a
real remote server would not. Readiness is signalled by a :class:`threading.Event` set once
uvicorn is listening; nothing here sleeps to wait.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn

_T = TypeVar("_T")


class _SignallingServer(uvicorn.Server):
    """A uvicorn server that says when it is listening."""

    def __init__(self, config: uvicorn.Config, listening: threading.Event) -> None:
        super().__init__(config)
        self._listening = listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._listening.set()


class ServerThread:
    """One uvicorn server in one background thread; :meth:`call` runs code on its loop."""

    def __init__(self, app: Any, *, start_timeout: float = 10.0) -> None:
        # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (no 40 ms stalls).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        host, port = self._socket.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(
            app,
            lifespan="off",
            loop="asyncio",
            ws="websockets-sansio",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._listening = threading.Event()
        self._server = _SignallingServer(config, self._listening)
        self._loop = asyncio.new_event_loop()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"uvicorn-{port}", daemon=True)
        self._start_timeout = start_timeout

    def start(self) -> None:
        """Start serving; return once the socket accepts connections."""
        self._thread.start()
        if not self._listening.wait(self._start_timeout) or self._failure is not None:
            self.stop()
            raise RuntimeError(f"server did not start: {self._failure!r}")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._server.serve(sockets=[self._socket]))
        except BaseException as exc:  # reported by start(), not lost in the thread
            self._failure = exc
        finally:
            self._listening.set()
            self._cancel_leftovers()
            self._loop.close()

    def _cancel_leftovers(self) -> None:
        # engine.io keeps a ping task per session; left pending, it would warn at loop close.
        leftovers = asyncio.all_tasks(self._loop)
        for task in leftovers:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))

    def call(self, work: Coroutine[Any, Any, _T], timeout: float = 10.0) -> _T:
        """Run ``work`` on the server's loop and return its result (blocking this thread)."""
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    async def call_async(self, work: Coroutine[Any, Any, _T], within: float = 10.0) -> _T:
        """Run ``work`` on the server's loop and await its result from another loop."""
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), within)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread; safe to call twice."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()
