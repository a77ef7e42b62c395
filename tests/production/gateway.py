"""The double's socket.io gateway, as production's: token check after connect, story rooms only.

Production has no ``join-batch-room`` (or ``leave-batch-room``) handler, so this gateway has none
either: such a message is read and nothing at all happens.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

import socketio

from batchkit.contract import (
    JoinedStoryRoom,
    LeftStoryRoom,
    RoomStory,
    SocketError,
    SocketException,
    story_room,
)

from .state import ProductionState, StoryRecord, utc_now


class StoryGateway:
    """Handlers for the default namespace. Register them with :meth:`register`."""

    def __init__(self, sio: socketio.AsyncServer, state: ProductionState) -> None:
        self._sio = sio
        self._state = state

    def register(self) -> None:
        # Registered by call, not by decorator: python-socketio is untyped.
        self._sio.on("connect", self.connect)
        self._sio.on("disconnect", self.disconnect)
        self._sio.on("join-story-room", self.join_story_room)
        self._sio.on("leave-story-room", self.leave_story_room)

    async def connect(self, sid: str, environ: dict[str, Any], auth: object) -> bool:
        """Accept a valid token from the query or from ``auth``; refuse anything else.

        The server runs with ``always_connect``, so a refusal reaches the client as CONNECT
        followed at once by DISCONNECT ("io server disconnect"), never as ``connect_error``.
        """
        token = parse_qs(environ.get("QUERY_STRING", "")).get("token", [None])[0]
        if not token and isinstance(auth, dict):
            token = auth.get("token")
        user = self._state.user_for_token(token)
        if user is None:
            return False
        await self._sio.save_session(sid, {"user_id": user.id})
        self._state.sockets.add(sid)
        if self._state.drop_after_connect is not None:
            self._state.spawn(self._drop_later(sid, self._state.drop_after_connect))
        return True

    async def _drop_later(self, sid: str, seconds: float) -> None:
        await asyncio.sleep(seconds)  # the simulated server's own behaviour, not a test's wait
        if sid in self._state.sockets:
            await self._sio.disconnect(sid)

    async def disconnect(self, sid: str, reason: str) -> None:
        self._state.sockets.discard(sid)

    async def join_story_room(self, sid: str, data: object) -> None:
        story = await self._story_of(sid, data)
        story_id = data.get("storyId") if isinstance(data, dict) else None
        if story is None and story_id in self._state.lost_stories:
            lost = SocketError(code="STORY_NOT_FOUND", message=f"Story {story_id} not found")
            await self._sio.emit(lost.event, lost.payload(), to=sid)
            return
        if story is None:
            await self._refuse(sid, "join-story-room", data)
            return
        await self._sio.enter_room(sid, story_room(story.id))
        room_story = RoomStory(
            id=story.id,
            title=story.title,
            status=story.flags,
            created_at=story.created_at,
            updated_at=story.updated_at,
        )
        reply = JoinedStoryRoom(story_id=story.id, story=room_story, timestamp=utc_now())
        await self._sio.emit(reply.event, reply.payload(), to=sid)

    async def leave_story_room(self, sid: str, data: object) -> None:
        story_id = data.get("storyId") if isinstance(data, dict) else None
        if not isinstance(story_id, str):
            await self._refuse(sid, "leave-story-room", data)
            return
        await self._sio.leave_room(sid, story_room(story_id))
        reply = LeftStoryRoom(story_id=story_id, timestamp=utc_now())
        await self._sio.emit(reply.event, reply.payload(), to=sid)

    async def _story_of(self, sid: str, data: object) -> StoryRecord | None:
        story_id = data.get("storyId") if isinstance(data, dict) else None
        session = await self._sio.get_session(sid)
        user = self._state.user_by_id(session.get("user_id"))
        return self._state.owned_story(story_id, user) if user is not None else None

    async def _refuse(self, sid: str, pattern: str, data: object) -> None:
        """Production's WsException filter: ``exception {status: "error", message, cause}``."""
        cause = {"pattern": pattern, "data": data}
        refusal = SocketException(message="Story not found or access denied", cause=cause)
        await self._sio.emit(refusal.event, refusal.payload(), to=sid)
