"""Socket.io: authenticated connections and the room messages of the contract (section 3).

A connection needs an access token, in ``auth.token`` or the ``token`` query parameter; a bad
or missing one is refused with a ``connect_error`` saying why. Every room a client asks for is
checked for ownership: an unknown id and someone else's id get the same ``error`` event.
A message must carry exactly one argument, ``{batchId}`` or ``{storyId}``: anything else (no
payload, a second argument, another shape) is answered with an ``error`` event, logged at most
as one debug line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import socketio
from socketio.exceptions import ConnectionRefusedError as ConnectionRefused

from batchkit.contract import (
    ClientMessage,
    EventModel,
    JoinedBatchRoom,
    JoinedStoryRoom,
    LeftBatchRoom,
    LeftStoryRoom,
    SocketError,
    batch_room,
    story_room,
)
from batchkit.errors import AuthError
from batchkit.server.context import ServerContext
from batchkit.server.views import room_story

__all__ = ["SocketGateway", "create_socket_server"]

logger = logging.getLogger(__name__)

RoomHandler = Callable[[str, str], Awaitable[None]]
"""Handles one valid room message: the socket's id and the room's id."""


@dataclass(frozen=True, slots=True)
class _RoomMessage:
    handler: RoomHandler
    key: str
    code: str


def create_socket_server(max_message_bytes: int = 1_000_000) -> socketio.AsyncServer:
    return socketio.AsyncServer(
        async_mode="asgi",
        # Bounds a long-polling body and a websocket message alike (clients send tiny ones).
        max_http_buffer_size=max_message_bytes,
        # Bearer tokens, no cookies: any origin may connect, the token decides who it is.
        cors_allowed_origins="*",
        # One client's messages are handled in the order sent (a join before its leave).
        async_handlers=False,
        logger=False,
        engineio_logger=False,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _token(auth: object, environ: dict[str, Any]) -> str | None:
    token: object = auth.get("token") if isinstance(auth, dict) else None
    if not token:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        token = (query.get("token") or [None])[0]
    if not isinstance(token, str) or not token.strip():
        return None
    token = token.strip()
    return token.removeprefix("Bearer ").strip() if token.startswith("Bearer ") else token


def _room_id(data: object, key: str) -> str | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 200 else None


class SocketGateway:
    """Registers the handlers on a socket.io server and keeps track of who is connected."""

    def __init__(self, sio: socketio.AsyncServer, context: ServerContext) -> None:
        self._sio = sio
        self._context = context
        self._connected: set[str] = set()
        messages = {
            ClientMessage.JOIN_BATCH: _RoomMessage(self._join_batch, "batchId", "INVALID_BATCH_ID"),
            ClientMessage.LEAVE_BATCH: _RoomMessage(
                self._leave_batch, "batchId", "INVALID_BATCH_ID"
            ),
            ClientMessage.JOIN_STORY: _RoomMessage(self._join_story, "storyId", "INVALID_STORY_ID"),
            ClientMessage.LEAVE_STORY: _RoomMessage(
                self._leave_story, "storyId", "INVALID_STORY_ID"
            ),
        }
        sio.on("connect", self._connect)
        sio.on("disconnect", self._disconnect)
        for name, message in messages.items():
            sio.on(str(name), self._checked(str(name), message))

    def _checked(self, name: str, message: _RoomMessage) -> Callable[..., Awaitable[None]]:
        """The handler python-socketio calls: whatever arguments came, it never raises on them."""

        async def handle(sid: str, *args: object) -> None:
            room_id = _room_id(args[0], message.key) if len(args) == 1 else None
            if room_id is None:
                logger.debug("socket %s: malformed %s (%d arguments)", sid, name, len(args))
                await self._refuse(
                    sid, message.code, f"{name} needs one argument: {{{message.key}: string}}"
                )
                return
            await message.handler(sid, room_id)

        return handle

    async def drop_all(self) -> int:
        """Disconnect every client now (server side); returns how many there were."""
        sids = list(self._connected)
        for sid in sids:
            await self._sio.disconnect(sid)
        return len(sids)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        token = _token(auth, environ)
        if token is None:
            raise ConnectionRefused(
                "authentication required: pass the access token as auth.token "
                "or as the query parameter token"
            )
        try:
            user = await self._context.user_of_token(token)
        except AuthError as exc:
            raise ConnectionRefused(f"authentication failed: {exc.server_message}") from None
        await self._sio.save_session(sid, {"user_id": user.id})
        self._connected.add(sid)

    async def _disconnect(self, sid: str, *reason: object) -> None:
        self._connected.discard(sid)

    async def _reply(self, sid: str, event: EventModel) -> None:
        await self._sio.emit(event.event, event.payload(), to=sid)

    async def _refuse(self, sid: str, code: str, message: str, details: object = None) -> None:
        await self._reply(sid, SocketError(code=code, message=message, details=details))

    async def _user_id(self, sid: str) -> str:
        session = await self._sio.get_session(sid)
        user_id: str = session["user_id"]
        return user_id

    async def _enter(self, sid: str, room: str) -> bool:
        """Put ``sid`` in ``room``; False when it disconnected while its request was checked.

        The ownership check awaits the database, and the socket may be dropped meanwhile (by the
        server, or by its own client). python-socketio then fails on the forgotten sid (a
        ``ValueError`` when nobody is connected, a ``KeyError`` when others are) after creating
        the room, so ask first: nothing awaits between the question and entering.
        """
        if not self._sio.manager.is_connected(sid, "/"):
            return False
        await self._sio.enter_room(sid, room)
        return True

    async def _join_batch(self, sid: str, batch_id: str) -> None:
        batch = await self._context.batches.get(batch_id, user_id=await self._user_id(sid))
        if batch is None:
            await self._refuse(
                sid, "BATCH_NOT_FOUND", f"batch {batch_id} not found", {"batchId": batch_id}
            )
            return
        if not await self._enter(sid, batch_room(batch_id)):
            return
        status = await self._context.batch_status(batch)
        await self._reply(sid, JoinedBatchRoom(batch_id=batch_id, status=status, timestamp=_now()))

    async def _leave_batch(self, sid: str, batch_id: str) -> None:
        await self._sio.leave_room(sid, batch_room(batch_id))
        await self._reply(sid, LeftBatchRoom(batch_id=batch_id, timestamp=_now()))

    async def _join_story(self, sid: str, story_id: str) -> None:
        story = await self._context.stories.get(
            story_id, user_id=await self._user_id(sid), with_content=False
        )
        if story is None:
            await self._refuse(
                sid, "STORY_NOT_FOUND", f"story {story_id} not found", {"storyId": story_id}
            )
            return
        if not await self._enter(sid, story_room(story_id)):
            return
        await self._reply(
            sid, JoinedStoryRoom(story_id=story_id, story=room_story(story), timestamp=_now())
        )

    async def _leave_story(self, sid: str, story_id: str) -> None:
        await self._sio.leave_room(sid, story_room(story_id))
        await self._reply(sid, LeftStoryRoom(story_id=story_id, timestamp=_now()))
