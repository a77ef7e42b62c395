"""The live event stream: a python-socketio client that keeps its rooms across reconnects.

python-socketio has no connection-state recovery, so this module does what the contract asks of a
client (sections 3 and 7): it sends the token both in the query and in ``auth``; after every
connect and reconnect it joins every room again and asks its owner to reconcile from REST; it drops
duplicates by ``seq`` and reports gaps; and it parses each payload into a contract model, counting
(never raising) the malformed ones.

Two ways a connection ends without python-socketio reconnecting by itself are handled here:

* the server disconnects the socket on purpose (``io server disconnect``): the reference server's
  fault injection does this, and production does it right after accepting a socket whose token is
  missing. The stream asks ``verify_credentials`` (a REST call) before it reconnects, so a refused
  token becomes one clear :class:`~batchkit.errors.AuthError` instead of a reconnect loop;
* the handshake is refused (``connect_error``, the reference server's answer to a bad token):
  an :class:`~batchkit.errors.AuthError` with the server's message.

The stream never stops a run by failing: its owner reads :attr:`EventStream.failure` and goes on
by polling REST, which is how a batch is followed against production anyway.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import socketio
from pydantic import ValidationError

from batchkit.contract.events import (
    ClientMessage,
    EventModel,
    ServerEvent,
    batch_room,
    parse_event,
    story_room,
)
from batchkit.contract.redaction import redact_tokens_in_logs
from batchkit.errors import AuthError, BatchkitError, StreamError

__all__ = ["EventStream", "StreamStats"]

logger = logging.getLogger("batchkit.events")

EventHandler = Callable[[ServerEvent], None]
Hook = Callable[[], Awaitable[None]]


_LOGGERS_THAT_SEE_TOKENS = ("engineio.client", "socketio.client")
"""At INFO they write the connection URL and the handshake packet, both holding the token."""

# A server that closes the socket this soon after accepting it, this many times in a row, is
# refusing us (production's missing-token behaviour), whatever the REST check said.
_QUICK_DROP_SECONDS = 2.0
_QUICK_DROPS_TO_GIVE_UP = 5
_SOCKET = "socket.io"
"""The "method" an error of the event socket names, next to the server's URL."""


@dataclass(slots=True)
class StreamStats:
    """Counters a user can read to judge the stream's health."""

    received: int = 0
    malformed: int = 0
    duplicates: int = 0
    gaps: int = 0
    connects: int = 0
    disconnects: int = 0
    server_disconnects: int = 0


_SEQ_WINDOW = 4096


@dataclass(slots=True)
class _SeqWindow:
    """The ``seq`` numbers seen in one room: exact over the last ``_SEQ_WINDOW`` numbers.

    socket.io keeps order within one connection, so a duplicate is a re-delivery of something
    recent; anything older than the window counts as seen.
    """

    highest: int | None = None
    recent: set[int] = field(default_factory=set)

    def add(self, seq: int) -> tuple[bool, bool]:
        """Record ``seq``; return (is_new, skipped_some_numbers_before_it)."""
        if self.highest is None:
            self.highest, self.recent = seq, {seq}
            return True, False
        if seq in self.recent or seq <= self.highest - _SEQ_WINDOW:
            return False, False
        gap = seq > self.highest + 1
        self.recent.add(seq)
        if seq > self.highest:
            self.highest = seq
            if len(self.recent) > 2 * _SEQ_WINDOW:
                self.recent = {s for s in self.recent if s > seq - _SEQ_WINDOW}
        return True, gap


def _room_of(event: EventModel) -> str | None:
    """The room a room event was sent to, or None for replies sent to this socket alone."""
    name = str(event.event)
    if name.startswith("batch-stories-"):
        return batch_room(str(getattr(event, "batch_id", "")))
    if name.startswith(("story:processing:", "story-processing-", "auto-mode-")):
        return story_room(str(getattr(event, "story_id", "")))
    return None


class EventStream:
    """One socket.io connection to a Story API, following any number of batch and story rooms.

    ``on_event`` is called synchronously, in arrival order, with every new parsed event.
    ``on_connect`` runs (as a task) after every connect and reconnect, once the rooms were joined
    again: the owner reconciles from REST there. ``on_gap`` runs when ``seq`` shows a missed event.
    """

    def __init__(
        self,
        base_url: str,
        token: Callable[[], str],
        *,
        on_event: EventHandler,
        on_connect: Hook | None = None,
        on_gap: Hook | None = None,
        verify_credentials: Hook | None = None,
        socketio_path: str = "socket.io",
        reconnect_delay: tuple[float, float] = (0.25, 5.0),
    ) -> None:
        redact_tokens_in_logs(_LOGGERS_THAT_SEE_TOKENS)
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._on_event = on_event
        self._on_connect = on_connect
        self._on_gap = on_gap
        self._verify = verify_credentials
        self._path = socketio_path.strip("/")
        self._delay_min, self._delay_max = reconnect_delay
        self._rooms: dict[str, tuple[ClientMessage, dict[str, str]]] = {}
        self._seqs: dict[str, _SeqWindow] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._connected_at: float | None = None
        self._quick_drops = 0
        self._refused: str | None = None
        self.stats = StreamStats()
        self.failure: BatchkitError | None = None
        self._sio = self._make_client()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "closed" if self._closed else "disconnected"
        return f"<EventStream {self._base_url} {state} rooms={len(self._rooms)}>"

    @property
    def connected(self) -> bool:
        return bool(self._sio.connected)

    @property
    def rooms(self) -> frozenset[str]:
        return frozenset(self._rooms)

    # ------------------------------------------------------------ lifecycle
    async def connect(self) -> None:
        """Connect once. Raises AuthError when the token is refused, ConnectError-like StreamError
        when the server cannot be reached; the caller decides whether to go on polling."""
        self._closed = False
        self._refused = None
        try:
            await self._sio.connect(
                self._url,
                auth=self._auth,
                socketio_path=self._path,
                wait_timeout=10,
            )
        except socketio.exceptions.ConnectionError as exc:
            raise self._translate_connect_failure(exc) from None

    async def close(self) -> None:
        """Leave every room and disconnect; no reconnect follows."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        # Disconnects, or stops python-socketio's own reconnect loop after a transport drop.
        await self._sio.shutdown()
        # A connect cut short (cancelled, refused) leaves engine.io's HTTP session open, and
        # shutdown() only acts on a connected client: resetting engine.io closes it either way.
        await self._sio.eio.disconnect(abort=True)

    async def __aenter__(self) -> EventStream:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ------------------------------------------------------------ rooms
    async def join_batch(self, batch_id: str) -> None:
        await self._join(batch_room(batch_id), ClientMessage.JOIN_BATCH, {"batchId": batch_id})

    async def join_story(self, story_id: str) -> None:
        await self._join(story_room(story_id), ClientMessage.JOIN_STORY, {"storyId": story_id})

    async def leave_story(self, story_id: str) -> None:
        if self._rooms.pop(story_room(story_id), None) and self.connected:
            await self._sio.emit(ClientMessage.LEAVE_STORY, {"storyId": story_id})

    async def leave_batch(self, batch_id: str) -> None:
        if self._rooms.pop(batch_room(batch_id), None) and self.connected:
            await self._sio.emit(ClientMessage.LEAVE_BATCH, {"batchId": batch_id})

    async def _join(self, room: str, message: ClientMessage, payload: dict[str, str]) -> None:
        if room in self._rooms:
            return
        self._rooms[room] = (message, payload)
        if self.connected:
            # No ack: production sends none, so waiting on one would hang (section 3).
            await self._sio.emit(message, payload)

    async def _rejoin_all(self) -> None:
        for message, payload in list(self._rooms.values()):
            await self._sio.emit(message, payload)

    # ------------------------------------------------------------ socket.io plumbing
    @property
    def _url(self) -> Callable[[], str]:
        # A callable: python-socketio asks again on every reconnect, so a renewed token is used.
        return lambda: f"{self._base_url}?{urlencode({'token': self._token()})}"

    @property
    def _auth(self) -> Callable[[], dict[str, str]]:
        return lambda: {"token": self._token()}

    def _make_client(self) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(
            reconnection=True,
            reconnection_delay=self._delay_min,
            reconnection_delay_max=self._delay_max,
            handle_sigint=False,
            logger=False,
            engineio_logger=False,
        )
        sio.on("connect", self._handle_connect)
        sio.on("connect_error", self._handle_connect_error)
        sio.on("disconnect", self._handle_disconnect)
        sio.on("*", self._handle_message)
        return sio

    async def _handle_connect(self) -> None:
        self.stats.connects += 1
        self._connected_at = asyncio.get_running_loop().time()
        self._refused = None
        await self._rejoin_all()
        if self._on_connect is not None:
            self._spawn(self._on_connect())

    def _handle_connect_error(self, data: Any) -> None:
        message = data.get("message") if isinstance(data, dict) else data
        self._refused = str(message or "the server refused the connection")

    async def _handle_disconnect(self, reason: str = "") -> None:
        self.stats.disconnects += 1
        if self._closed or reason != socketio.AsyncClient.reason.SERVER_DISCONNECT:
            return  # a transport drop: python-socketio reconnects by itself
        self.stats.server_disconnects += 1
        loop_time = asyncio.get_running_loop().time()
        quick = self._connected_at is not None and (
            loop_time - self._connected_at < _QUICK_DROP_SECONDS
        )
        self._quick_drops = self._quick_drops + 1 if quick else 0
        self._spawn(self._recover_from_server_disconnect())

    async def _recover_from_server_disconnect(self) -> None:
        """Reconnect after the server closed the socket, unless the server is refusing us."""
        try:
            if self._verify is not None:
                await self._verify()
        except AuthError as exc:
            self._fail(exc)
            return
        except BatchkitError as exc:
            # The server could not be asked (it is restarting, or out of reach): that says
            # nothing about our token, so reconnect as after any other drop.
            logger.info("could not check the token before reconnecting: %s", exc)
        if self._quick_drops >= _QUICK_DROPS_TO_GIVE_UP:
            self._fail(self._dropping_error())
            return
        delay = self._delay_min
        while not self._closed:
            await asyncio.sleep(delay * (0.5 + random.random()))  # backoff with jitter
            try:
                await self.connect()
                return
            except AuthError as exc:
                self._fail(exc)
                return
            except StreamError:
                delay = min(delay * 2, self._delay_max)

    def _handle_message(self, name: str, data: Any = None, *extra: Any) -> None:
        # Synchronous on purpose: python-socketio calls a plain handler directly, where a
        # coroutine handler costs a coroutine and an await on every event of a live run.
        self.stats.received += 1
        if extra:  # every message of the contract carries one payload
            self.stats.malformed += 1
            logger.warning(
                "ignored a %r event with %d arguments; expected one", name, 1 + len(extra)
            )
            return
        try:
            event = parse_event(name, data)
        except ValidationError as exc:
            self.stats.malformed += 1
            logger.warning(
                "ignored a malformed %r event: %s", name, exc.errors(include_input=False)[:3]
            )
            return
        if not self._is_new(event):
            self.stats.duplicates += 1
            return
        self._on_event(event)

    def _is_new(self, event: EventModel) -> bool:
        room = _room_of(event)
        if room is None or event.seq is None:
            return True
        window = self._seqs.get(room)
        if window is None:  # not setdefault: that would build a window for every event
            window = self._seqs[room] = _SeqWindow()
        is_new, gap = window.add(event.seq)
        if gap:
            self.stats.gaps += 1
            if self._on_gap is not None:
                self._spawn(self._on_gap())
        return is_new

    # ------------------------------------------------------------ failures and tasks
    def _dropping_error(self) -> BatchkitError:
        """Why a server keeps closing the socket right after accepting it."""
        if not self._token():
            # Production accepts a socket without a token and closes it at once (§7.5).
            return AuthError(
                "the server closes the event socket right after accepting it: the socket has "
                "no token to send",
                status=401,
                method=_SOCKET,
                url=self._base_url,
            )
        # The token was just proven good over REST: the drops are the server's own doing.
        return StreamError(
            f"the server at {self._base_url} keeps closing the event socket "
            f"({self._quick_drops} times in a row, each within {_QUICK_DROP_SECONDS:.0f} s of "
            "connecting) although it accepts our token; following by polling its REST API"
        )

    def _translate_connect_failure(self, exc: Exception) -> BatchkitError:
        # connect_error also fires when the server is unreachable; only a refused namespace
        # handshake is the server saying no to our token.
        if self._refused is not None and "namespaces failed" in str(exc):
            return AuthError(
                f"event socket refused: {self._refused}",
                status=401,
                method=_SOCKET,
                url=self._base_url,
            )
        return StreamError(f"could not open the event socket at {self._base_url}: {exc}")

    def _fail(self, exc: BatchkitError) -> None:
        logger.warning("event stream stopped: %s", exc)
        self.failure = exc
        self._closed = True

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.warning("event stream hook failed: %r", exc)
