"""The event stream against real socket.io servers: the reference server, and a misbehaving one.

The misbehaving server is a real python-socketio server written here to send what neither real
server sends on demand: duplicated, skipped and malformed events. Everything else uses the
reference server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
import socketio
from production.runner import ServerThread

from batchkit.client import StoryClient
from batchkit.contract.events import AutoModeProgress, ServerEvent
from batchkit.errors import AuthError, StreamError
from batchkit.events import EventStream
from batchkit.server.launcher import EmbeddedServer

STORY = "0123456789abcdef01234567"


def progress(seq: int | None, value: float) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "storyId": STORY,
        "step": "images",
        "progress": value,
        "message": "",
        "timestamp": "2026-11-24T10:00:00Z",
    }
    if seq is not None:
        payload["seq"] = seq
    return payload


class Misbehaving:
    """Sends, on ``join-story-room``: seq 1, seq 1 again, seq 3 (2 is lost), a malformed
    payload, an unknown event and finally seq 4. It records how each client authenticated."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncServer(async_mode="asgi")
        self.handshakes: list[tuple[str | None, Any]] = []
        self.sio.on("connect", self._connect)
        self.sio.on("join-story-room", self._join)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        self.handshakes.append((query.get("token", [None])[0], auth))

    async def _join(self, sid: str, data: dict[str, str]) -> None:
        for payload in (progress(1, 10), progress(1, 10), progress(3, 30)):
            await self.sio.emit("auto-mode-progress", payload, to=sid)
        await self.sio.emit("auto-mode-progress", {"storyId": STORY, "progress": "lots"}, to=sid)
        await self.sio.emit("no-such-event", {"x": 1}, to=sid)
        await self.sio.emit("auto-mode-progress", progress(4, 40), to=sid)


@pytest.fixture
def misbehaving() -> Iterator[tuple[Misbehaving, str]]:
    server = Misbehaving()
    thread = ServerThread(socketio.ASGIApp(server.sio))
    thread.start()
    try:
        yield server, thread.url
    finally:
        thread.stop()


async def test_duplicates_gaps_and_malformed_payloads(
    misbehaving: tuple[Misbehaving, str],
) -> None:
    server, url = misbehaving
    received: list[ServerEvent] = []
    last = asyncio.Event()
    gaps = 0

    def on_event(event: ServerEvent) -> None:
        received.append(event)
        if event.seq == 4:
            last.set()

    async def on_gap() -> None:
        nonlocal gaps
        gaps += 1

    stream = EventStream(url, lambda: "secret-token", on_event=on_event, on_gap=on_gap)
    async with stream:
        await stream.join_story(STORY)
        await asyncio.wait_for(last.wait(), 10)

    assert [e.seq for e in received] == [1, 3, 4]
    assert all(isinstance(e, AutoModeProgress) for e in received)
    assert stream.stats.duplicates == 1
    assert stream.stats.gaps == 1
    assert gaps == 1, "a gap asks the owner to reconcile from REST"
    assert stream.stats.malformed == 2  # a bad field, and an event no contract names
    # The token went both ways the contract asks for, raw (no "Bearer ").
    assert server.handshakes == [("secret-token", {"token": "secret-token"})]
    assert "secret-token" not in repr(stream)


async def test_a_bad_token_is_one_clear_auth_error(server: EmbeddedServer) -> None:
    stream = EventStream(server.url, lambda: "not-a-token", on_event=lambda event: None)
    with pytest.raises(AuthError) as caught:
        await stream.connect()
    await stream.close()
    assert "refused" in str(caught.value)
    assert "not-a-token" not in str(caught.value)


async def test_an_unreachable_server_is_a_stream_error() -> None:
    stream = EventStream("http://127.0.0.1:9", lambda: "t", on_event=lambda event: None)
    with pytest.raises(StreamError):
        await stream.connect()
    await stream.close()


async def test_rooms_are_joined_again_after_the_server_drops_the_socket(
    server: EmbeddedServer, client: StoryClient
) -> None:
    await client.login()
    connected = asyncio.Event()

    async def on_connect() -> None:
        connected.set()

    stream = EventStream(
        server.url,
        lambda: client.token or "",
        on_event=lambda event: None,
        on_connect=on_connect,
        verify_credentials=client.verify_credentials,
        reconnect_delay=(0.01, 0.1),
    )
    async with stream:
        await asyncio.wait_for(connected.wait(), 5)
        await stream.join_batch("000000000000000000000000")
        connected.clear()
        assert await asyncio.to_thread(server.drop_connections) == 1
        await asyncio.wait_for(connected.wait(), 10)
        assert stream.connected
        assert stream.rooms == {"batch-000000000000000000000000"}
    assert stream.stats.connects == 2
    assert stream.stats.server_disconnects == 1
    assert stream.failure is None
