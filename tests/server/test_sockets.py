"""Sections 3 and 4: room messages, their replies and errors, batch events and their ``seq``."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest

from batchkit.contract import (
    BatchStoriesComplete,
    BatchStoriesProgress,
    BatchStoriesStart,
    JoinedBatchRoom,
    JoinedStoryRoom,
    LeftBatchRoom,
    LeftStoryRoom,
    SocketError,
)
from batchkit.server import EmbeddedServer
from batchkit.server.sockets import SocketGateway
from batchkit.server.story_store import StoryStore

from .conftest import USERS, Api, EventStream, login, run_watched_batch

UNKNOWN_ID = "0123456789abcdef01234567"


async def test_a_batch_room_gets_every_batch_event_in_order_with_consecutive_seq(
    server: EmbeddedServer, alice: Api, alice_events: EventStream
) -> None:
    urls = await alice.upload_texts(3)
    batch_id, done = await run_watched_batch(server, alice, alice_events, urls)
    room_events = [
        e
        for e in alice_events.events
        if isinstance(e, BatchStoriesStart | BatchStoriesProgress | BatchStoriesComplete)
    ]
    assert [type(e).__name__ for e in room_events] == [
        "BatchStoriesStart",
        "BatchStoriesProgress",
        "BatchStoriesProgress",
        "BatchStoriesProgress",
        "BatchStoriesComplete",
    ]
    assert all(e.batch_id == batch_id for e in room_events)
    # A new room starts at 1 and grows by one per event, with no gap.
    assert [e.seq for e in room_events] == [1, 2, 3, 4, 5]
    assert done.total_stories == 3
    assert (done.completed_stories, done.failed_stories) == (3, 0)
    assert done.errors == []
    status = await alice.status(batch_id)
    assert done.story_ids == status["storyIds"]


async def test_joined_batch_room_carries_the_status(alice: Api, alice_events: EventStream) -> None:
    urls = await alice.upload_texts(1)
    batch_id = (await alice.create_batch(urls, {"enabled": False}))["data"]["batchId"]
    final = await alice.wait_for_status(batch_id)
    joined = await alice_events.join_batch(batch_id)
    assert joined.status.batch_id == batch_id
    assert joined.status.status == final["status"]
    assert joined.status.story_ids == final["storyIds"]
    assert joined.seq is None  # a reply to one client, not an event of the room
    await alice_events.send("leave-batch-room", {"batchId": batch_id})
    left = await alice_events.wait_for(LeftBatchRoom)
    assert left.batch_id == batch_id


async def test_joined_story_room_carries_the_story(alice: Api, alice_events: EventStream) -> None:
    urls = await alice.upload_texts(1)
    batch_id = (await alice.create_batch(urls))["data"]["batchId"]
    status = await alice.wait_for_status(batch_id)
    [story_id] = status["storyIds"]
    joined = await alice_events.join_story(story_id)
    assert joined.story.id == story_id
    assert joined.story.title == "Story 1"
    assert joined.story.status.story_generated
    assert joined.story.status.images_generated
    assert joined.story.status.audio_generated
    await alice_events.send("leave-story-room", {"storyId": story_id})
    left = await alice_events.wait_for(LeftStoryRoom)
    assert left.story_id == story_id


@pytest.mark.parametrize(
    ("message", "payload", "code"),
    [
        ("join-batch-room", {"batchId": UNKNOWN_ID}, "BATCH_NOT_FOUND"),
        ("join-batch-room", {"batch": UNKNOWN_ID}, "INVALID_BATCH_ID"),
        ("join-batch-room", "not-an-object", "INVALID_BATCH_ID"),
        ("join-story-room", {"storyId": UNKNOWN_ID}, "STORY_NOT_FOUND"),
        ("join-story-room", {"storyId": 42}, "INVALID_STORY_ID"),
        ("leave-story-room", {}, "INVALID_STORY_ID"),
    ],
)
async def test_bad_room_messages_get_an_error_event(
    alice_events: EventStream, message: str, payload: object, code: str
) -> None:
    await alice_events.send(message, payload)
    error = await alice_events.wait_for(SocketError)
    assert error.code == code
    assert error.message


async def test_someone_elses_rooms_are_refused_like_unknown_ones(
    server: EmbeddedServer,
    alice: Api,
    bob: Api,
    stream_factory: Callable[[str, str], EventStream],
) -> None:
    urls = await alice.upload_texts(1)
    batch_id = (await alice.create_batch(urls, {"enabled": False}))["data"]["batchId"]
    [story_id] = (await alice.wait_for_status(batch_id))["storyIds"]
    bobs = stream_factory(server.url, bob.token)
    await bobs.connect()
    await bobs.send("join-batch-room", {"batchId": batch_id})
    await bobs.send("join-story-room", {"storyId": story_id})
    await bobs.wait_until(lambda: len(bobs.of(SocketError)) == 2)
    assert [e.code for e in bobs.of(SocketError)] == ["BATCH_NOT_FOUND", "STORY_NOT_FOUND"]
    assert bobs.of(JoinedBatchRoom) == []
    assert bobs.of(JoinedStoryRoom) == []
    # bob's HTTP requests for the same ids are 404s too.
    for path in (f"/api/stories/batch/{batch_id}/status", f"/api/stories/{story_id}"):
        response = await bob.http.get(path, headers=bob.auth)
        assert response.status_code == 404


async def test_drop_connections_disconnects_every_client_from_the_server(
    server: EmbeddedServer, alice: Api, stream_factory: Callable[[str, str], EventStream]
) -> None:
    streams = [stream_factory(server.url, alice.token) for _ in range(2)]
    for stream in streams:
        await stream.connect()
    assert server.drop_connections() >= 2
    for stream in streams:
        await stream.wait_until(lambda s=stream: s.disconnects == 1)  # type: ignore[misc]
        assert not stream.client.connected
    # A client can come back with the same token.
    again = stream_factory(server.url, alice.token)
    await again.connect()
    assert again.client.connected


async def test_a_join_whose_socket_is_dropped_while_it_is_checked_ends_quietly(
    server_factory: Callable[..., EmbeddedServer],
    stream_factory: Callable[[str, str], EventStream],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race the chaos test met: a socket dropped while the server awaited the database for
    its join, and another client connected meanwhile (python-socketio raised ``KeyError``).

    The store's lookup is held open (a patch: the race needs a lookup that lasts) and entering
    the room is watched; everything else is the real server and real clients.
    """
    embedded = server_factory()
    api = await login(embedded.url, "alice", USERS["alice"])
    urls = await api.upload_texts(1)
    batch_id = (await api.create_batch(urls, {"enabled": False}))["data"]["batchId"]
    [story_id] = (await api.wait_for_status(batch_id))["storyIds"]
    await api.http.aclose()
    looking, go_on = threading.Event(), threading.Event()
    entered: queue.Queue[bool | BaseException] = queue.Queue()
    real_get, real_enter = StoryStore.get, SocketGateway._enter

    async def held_get(self: StoryStore, *args: Any, **keys: Any) -> Any:
        looking.set()
        await asyncio.to_thread(go_on.wait, 10)
        return await real_get(self, *args, **keys)

    async def watched_enter(self: SocketGateway, sid: str, room: str) -> bool:
        try:
            result = await real_enter(self, sid, room)
        except BaseException as exc:
            entered.put(exc)
            raise
        entered.put(result)
        return result

    monkeypatch.setattr(StoryStore, "get", held_get)
    monkeypatch.setattr(SocketGateway, "_enter", watched_enter)
    dropped = stream_factory(embedded.url, api.token)
    await dropped.connect()
    await dropped.send("join-story-room", {"storyId": story_id})
    assert await asyncio.to_thread(looking.wait, 10)
    assert embedded.drop_connections() == 1
    await dropped.wait_until(lambda: dropped.disconnects == 1)
    newcomer = stream_factory(embedded.url, api.token)
    await newcomer.connect()

    go_on.set()
    assert await asyncio.to_thread(entered.get, True, 10) is False
    # The server carries on: the newcomer joins the same room and hears from it.
    joined = await newcomer.join_story(story_id)
    assert joined.story.id == story_id
    assert entered.get_nowait() is True
    assert dropped.of(JoinedStoryRoom) == []
