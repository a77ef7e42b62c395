"""The live event stream: a python-socketio client that keeps its rooms across reconnects.

python-socketio has no connection-state recovery, so this module does what the contract asks of a
client (sections 3 and 7): it sends the token both in the query and in ``auth``; after every
connect and reconnect it joins every room again and asks its owner to reconcile from REST; it drops
duplicates by ``seq`` and reports gaps; and it parses each payload into a contract model, counting
(never raising) the malformed ones.

Progress messages come in bursts, one per turn of the event loop, and handling each on its own
turn costs several times more than handling the same messages one after another (the code is
cold between two turns: measured in place, ~70 against ~25 µs per message for parsing, ``seq``
checks and a run's fold). So the stream keeps progress messages as they arrive (stamped with
their arrival time) and hands them over together, at most :data:`HOLD_INTERVAL` later, to
``on_events``, in one call with whatever else arrives; any other message hands over what is
held before itself, so the order is the server's. An owner that reads what it built from the
events calls :meth:`EventStream.deliver_held` first (a :class:`~batchkit.tracker.BatchRun`
does, given it by ``catch_up_with``), so it never answers without a message that has arrived.

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
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

import socketio
from pydantic import ValidationError

from batchkit.contract.events import (
    PROGRESS_EVENTS,
    ClientMessage,
    ServerEvent,
    batch_room,
    parse_event,
    story_room,
)
from batchkit.contract.redaction import redact_tokens_in_logs
from batchkit.errors import AuthError, BatchkitError, StreamError
from batchkit.event_order import RoomSequences
from batchkit.event_packets import EventPacket

__all__ = ["HOLD_INTERVAL", "EventStream", "EventsHandler", "ReceivedEvent", "StreamStats"]

logger = logging.getLogger("batchkit.events")

ReceivedEvent = tuple[ServerEvent, datetime]
"""A parsed event and when it arrived (aware, UTC)."""
EventsHandler = Callable[[list[ReceivedEvent]], None]
"""What the stream calls with each burst of new events, oldest first (one or more)."""
Hook = Callable[[], Awaitable[None]]

HOLD_INTERVAL: Final = 0.02
"""The longest a progress message is held before it is handed over (seconds): well inside a
page's 10 Hz paint."""

_HELD: Final = frozenset(str(model.model_fields["event"].default) for model in PROGRESS_EVENTS)
"""The names of the messages held: they come in bursts, and can wait a moment."""


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


class EventStream:
    """One socket.io connection to a Story API, following any number of batch and story rooms.

    ``on_events`` is called synchronously with every new parsed event and its arrival time, in
    arrival order; progress events come in bursts, held at most ``hold_interval`` seconds (see
    the module's docstring). ``on_connect`` runs (as a task) after every connect and reconnect,
    once the rooms were joined again: the owner reconciles from REST there. ``on_gap`` runs when
    ``seq`` shows a missed event.
    """

    def __init__(
        self,
        base_url: str,
        token: Callable[[], str],
        *,
        on_events: EventsHandler,
        on_connect: Hook | None = None,
        on_gap: Hook | None = None,
        verify_credentials: Hook | None = None,
        socketio_path: str = "socket.io",
        reconnect_delay: tuple[float, float] = (0.25, 5.0),
        hold_interval: float = HOLD_INTERVAL,
    ) -> None:
        redact_tokens_in_logs(_LOGGERS_THAT_SEE_TOKENS)
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._on_events = on_events
        self._hold_interval = hold_interval
        # (name, payload, arrival as time.time()): made a datetime and parsed only when handed
        # over, in one go. The hold runs cold, between two messages' trips through socket.io,
        # where a step costs ~3 times what it costs in the burst (measured live with py-spy).
        self._held: list[tuple[str, Any, float]] = []
        self._hold_timer: asyncio.TimerHandle | None = None
        self._on_connect = on_connect
        self._on_gap = on_gap
        self._verify = verify_credentials
        self._path = socketio_path.strip("/")
        self._delay_min, self._delay_max = reconnect_delay
        self._rooms: dict[str, tuple[ClientMessage, dict[str, str]]] = {}
        self._sequences = RoomSequences()
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
        """Hand over what is held, leave every room and disconnect; no reconnect follows."""
        self._closed = True
        self.deliver_held()
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
            serializer=EventPacket,  # JSON read by pydantic-core (see event_packets)
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
        if name in _HELD:
            if not self._held:
                loop = asyncio.get_running_loop()
                self._hold_timer = loop.call_later(self._hold_interval, self.deliver_held)
            self._held.append((name, data, time.time()))
            return
        burst = self._take_held()
        received = self._decode(name, data, datetime.now(UTC))
        if received is not None:
            burst.append(received)
        if burst:
            self._on_events(burst)

    def deliver_held(self) -> None:
        """Hand the progress messages held so far to ``on_events`` now (cheap when none are).

        The owner calls this before it reads what it built from the events; the stream calls it
        itself at most ``hold_interval`` after the first of them arrived, and when it closes.
        """
        burst = self._take_held()
        if burst:
            self._on_events(burst)

    def _take_held(self) -> list[ReceivedEvent]:
        """The held messages parsed, new ones only, oldest first; nothing is held afterwards."""
        if not self._held:
            return []
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        # Taken before parsing: an owner asking for them again meanwhile gets nothing twice.
        held, self._held = self._held, []
        burst: list[ReceivedEvent] = []
        for name, data, arrived in held:
            received = self._decode(name, data, datetime.fromtimestamp(arrived, UTC))
            if received is not None:
                burst.append(received)
        return burst

    def _decode(self, name: str, data: Any, arrived: datetime) -> ReceivedEvent | None:
        """``(event, arrived)``, or None (counted) for a malformed or repeated message."""
        try:
            event = parse_event(name, data)
        except ValidationError as exc:
            self.stats.malformed += 1
            logger.warning(
                "ignored a malformed %r event: %s", name, exc.errors(include_input=False)[:3]
            )
            return None
        is_new, gap = self._sequences.check(event)
        if gap:
            self.stats.gaps += 1
            if self._on_gap is not None:
                self._spawn(self._on_gap())
        if not is_new:
            self.stats.duplicates += 1
            return None
        return event, arrived

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
