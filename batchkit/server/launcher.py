"""The reference server in the background of a notebook or a test: one call, a URL and a login.

``start_embedded_server()`` binds a free loopback port, runs uvicorn on a daemon thread with its
own event loop, and returns once the server listens. Everything it offers is synchronous and
thread-safe, so a notebook cell or a test can stop, restart or disturb the server at will.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from batchkit.errors import ConfigError
from batchkit.server.accounts import DEMO_USER, demo_password
from batchkit.server.app import ServerApplication, build_application
from batchkit.server.emitter import emit_progress_burst
from batchkit.server.serving import ServingServer, bind_socket
from batchkit.server.settings import ServerSettings, check_fail_rates

__all__ = ["Credentials", "EmbeddedServer", "start_embedded_server"]

T = TypeVar("T")

_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 30.0
_CALL_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and its password (never shown in a repr)."""

    username: str
    password: str = field(repr=False)


@dataclass(slots=True)
class _Running:
    application: ServerApplication
    server: ServingServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread


class EmbeddedServer:
    """A reference server on a daemon thread; a context manager that stops it on exit."""

    def __init__(
        self, settings: ServerSettings, credentials: Credentials, *, owns_data_dir: bool = False
    ) -> None:
        self._settings = settings
        self.credentials = credentials
        self._owns_data_dir = owns_data_dir
        self._running: _Running | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"EmbeddedServer({self.url!r}, {state}, user={self.credentials.username!r})"

    @property
    def settings(self) -> ServerSettings:
        return self._settings

    @property
    def port(self) -> int:
        return self._settings.port

    @property
    def url(self) -> str:
        host = self._settings.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self._settings.data_dir

    # ---------------------------------------------------------------- life cycle
    def start(self) -> Self:
        """Start serving; returns once the server accepts connections (port 0: a free port)."""
        if self._running is not None:
            return self
        self._settings.data_dir.mkdir(parents=True, exist_ok=True)
        sock = bind_socket(self._settings.host, self._settings.port)
        self._settings = replace(self._settings, port=sock.getsockname()[1])
        try:
            application = build_application(self._settings)
        except BaseException:
            sock.close()
            raise
        self._ready.clear()
        self._failure = None
        server = ServingServer(application, on_ready=self._ready.set)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=self._serve, args=(server, loop, sock), name="batchkit-server", daemon=True
        )
        self._running = _Running(application, server, loop, thread)
        thread.start()
        if not self._ready.wait(_START_TIMEOUT) or self._failure is not None:
            failure = self._failure
            self._halt()
            raise RuntimeError(f"the embedded server did not start: {failure!r}") from failure
        return self

    def _serve(
        self, server: ServingServer, loop: asyncio.AbstractEventLoop, sock: socket.socket
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the thread waiting in start()
            self._failure = exc
        finally:
            if not server.started:
                self._failure = self._failure or RuntimeError("startup failed")
            sock.close()
            _cancel_leftover_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            self._ready.set()  # wakes start() when startup failed

    def _halt(self) -> None:
        running, self._running = self._running, None
        if running is None:
            return
        running.server.should_exit = True  # uvicorn polls this flag; a plain store is enough
        running.thread.join(_STOP_TIMEOUT)

    def stop(self) -> None:
        """Stop gracefully: clients are dropped, running pipelines interrupted (they resume on
        the next start with the same data directory). A temporary data directory is deleted."""
        self._halt()
        if self._owns_data_dir:
            shutil.rmtree(self._settings.data_dir, ignore_errors=True)

    def restart(self) -> None:
        """Stop, then start again on the same port and the same data directory."""
        self._halt()
        self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- at run time
    def _call(self, work: Coroutine[Any, Any, T], timeout: float = _CALL_TIMEOUT) -> T:
        running = self._running
        if running is None:
            work.close()
            raise RuntimeError("the embedded server is not running")
        return asyncio.run_coroutine_threadsafe(work, running.loop).result(timeout)

    def drop_connections(self) -> int:
        """Disconnect every socket.io client now, from the server side; returns how many."""
        running = self._running
        if running is None:
            return 0
        return self._call(running.application.sockets.drop_all())

    def emit_burst(self, story_id: str, count: int, rate: float | None = None) -> None:
        """Benchmark and test hook: emit ``count`` ``auto-mode-progress`` events into room
        ``story-<story_id>``, each with the room's next ``seq``, through the server's normal emit
        path; as fast as possible, or paced to ``rate`` events a second. Returns when all are sent.

        Anyone in the room receives them (joining still needs ownership); progress rises to 100.
        """
        running = self._running
        if running is None:
            raise RuntimeError("the embedded server is not running")
        emitter = running.application.context.emitter
        # Generous: the burst's own length (paced, or at >= 1,000 events/s) plus the usual margin.
        seconds = count / (rate or 1000.0) + _CALL_TIMEOUT
        self._call(emit_progress_burst(emitter, story_id, count, rate), timeout=seconds)

    def set_fail_rates(self, rates: Mapping[str, float]) -> None:
        """Fault injection: from now on step ``name`` fails with probability ``rates[name]``."""
        checked = check_fail_rates(rates)
        running = self._running
        if running is None:
            raise RuntimeError("the embedded server is not running")

        async def apply() -> None:
            running.application.context.faults.set_rates(checked)

        self._call(apply())
        self._settings = replace(self._settings, fail_rates=checked)

    def hold_batches(self) -> None:
        """New batches wait before their first event until :meth:`release_batches`.

        Lets a client join a batch's room before anything happens in it.
        """
        self._call(self._control(hold=True))

    def release_batches(self) -> None:
        self._call(self._control(hold=False))

    async def _control(self, *, hold: bool) -> None:
        if self._running is None:  # pragma: no cover - checked by _call
            return
        runner = self._running.application.context.runner
        runner.hold() if hold else runner.release()


def _cancel_leftover_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the server left behind (engine.io ping tasks of dropped sockets) and let it
    finish, so closing the loop destroys no pending task."""
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


def start_embedded_server(
    *,
    data_dir: Path | None = None,
    pace: float = 0.0,
    workers: int = 2,
    users: Mapping[str, str] | None = None,
    fail_rates: Mapping[str, float] | None = None,
    seed: int | None = None,
    **options: Any,
) -> EmbeddedServer:
    """Start a reference server on a free loopback port and return it, listening.

    Without ``users`` a ``demo`` user is made, its password kept in the data directory (see
    :func:`~batchkit.server.accounts.demo_password`); ``credentials`` is the first user either
    way. Without ``data_dir`` a temporary directory is used and deleted on
    :meth:`EmbeddedServer.stop`. Any other keyword is a :class:`ServerSettings` field (a limit,
    say: ``max_json_body_bytes=4096``).
    """
    if users and not all(name and password for name, password in users.items()):
        raise ConfigError("every user needs a name and a password", field="users")
    owns = data_dir is None
    directory = Path(tempfile.mkdtemp(prefix="batchkit-server-")) if data_dir is None else data_dir
    accounts = dict(users) if users else {DEMO_USER: demo_password(directory)[0]}
    settings = ServerSettings(
        host="127.0.0.1",
        port=0,
        data_dir=directory,
        pace=pace,
        workers=workers,
        fail_rates=fail_rates or {},
        seed=seed,
        users=accounts,
        **options,
    )
    username, password = next(iter(accounts.items()))
    server = EmbeddedServer(settings, Credentials(username, password), owns_data_dir=owns)
    try:
        return server.start()
    except BaseException:
        server.stop()
        raise
