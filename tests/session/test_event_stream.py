"""The event stream against real socket.io servers: the reference server, and a misbehaving one.

The misbehaving server is a real python-socketio server written here to send what neither real
server sends on demand: duplicated, skipped and malformed events. Everything else uses the
reference server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
import socketio
from client.one_file_run import one_file_run
from production.runner import ServerThread
from socketio import packet

from batchkit.client import StoryClient
from batchkit.contract.events import AutoModeProgress
from batchkit.errors import AuthError, StreamError
from batchkit.event_packets import EventPacket
from batchkit.events import EventStream, ReceivedEvent
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
    payload, an unknown event, seq 4 and finally ``auto-mode-complete`` (seq 5); on each
    ``join-batch-room``, three more progress events. It records how each client authenticated."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncServer(async_mode="asgi")
        self.handshakes: list[tuple[str | None, Any]] = []
        self.seq = 0
        self.sio.on("connect", self._connect)
        self.sio.on("join-story-room", self._join)
        self.sio.on("join-batch-room", self._three_more)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        self.handshakes.append((query.get("token", [None])[0], auth))

    async def _join(self, sid: str, data: dict[str, str]) -> None:
        for payload in (progress(1, 10), progress(1, 10), progress(3, 30)):
            await self.sio.emit("auto-mode-progress", payload, to=sid)
        await self.sio.emit("auto-mode-progress", {"storyId": STORY, "progress": "lots"}, to=sid)
        await self.sio.emit("no-such-event", {"x": 1}, to=sid)
        await self.sio.emit("auto-mode-progress", progress(4, 40), to=sid)
        done = {"storyId": STORY, "step": "images", "timestamp": "2026-11-24T10:00:01Z", "seq": 5}
        await self.sio.emit("auto-mode-complete", done, to=sid)

    async def _three_more(self, sid: str, data: dict[str, str]) -> None:
        for _ in range(3):
            self.seq += 1
            await self.sio.emit("auto-mode-progress", progress(self.seq, self.seq), to=sid)


@pytest.fixture
def misbehaving() -> Iterator[tuple[Misbehaving, str]]:
    server = Misbehaving()
    thread = ServerThread(socketio.ASGIApp(server.sio))
    thread.start()
    try:
        yield server, thread.url
    finally:
        thread.stop()


def seqs(bursts: list[list[ReceivedEvent]]) -> list[list[int | None]]:
    return [[event.seq for event, _arrived in burst] for burst in bursts]


async def received(stream: EventStream, count: int) -> None:
    """Until the stream has received ``count`` messages, held or not."""
    async with asyncio.timeout(10):
        while stream.stats.received < count:  # noqa: ASYNC110 - no event for a held message
            await asyncio.sleep(0.01)  # polling a condition under a deadline, not a fixed wait


async def test_duplicates_gaps_and_malformed_payloads(
    misbehaving: tuple[Misbehaving, str],
) -> None:
    server, url = misbehaving
    bursts: list[list[ReceivedEvent]] = []
    last = asyncio.Event()
    gaps = 0

    def on_events(burst: list[ReceivedEvent]) -> None:
        bursts.append(burst)
        if any(event.seq == 5 for event, _arrived in burst):
            last.set()

    async def on_gap() -> None:
        nonlocal gaps
        gaps += 1

    # Held until a message that is not progress arrives (the timer would take an hour).
    stream = EventStream(
        url, lambda: "secret-token", on_events=on_events, on_gap=on_gap, hold_interval=3600
    )
    async with stream:
        await stream.join_story(STORY)
        await asyncio.wait_for(last.wait(), 10)

    # Progress waits for the next other message, which hands it over first, in order.
    assert seqs(bursts) == [[1, 3], [4, 5]]
    assert [type(event) for burst in bursts for event, _ in burst][:3] == [AutoModeProgress] * 3
    assert stream.stats.duplicates == 1
    assert stream.stats.gaps == 1
    assert gaps == 1, "a gap asks the owner to reconcile from REST"
    assert stream.stats.malformed == 2  # a bad field, and an event no contract names
    # The token went both ways the contract asks for, raw (no "Bearer ").
    assert server.handshakes == [("secret-token", {"token": "secret-token"})]
    assert "secret-token" not in repr(stream)


async def test_held_progress_is_handed_over_by_its_timer(
    misbehaving: tuple[Misbehaving, str],
) -> None:
    _server, url = misbehaving
    bursts: list[tuple[datetime, list[ReceivedEvent]]] = []
    three = asyncio.Event()

    def on_events(burst: list[ReceivedEvent]) -> None:
        bursts.append((datetime.now(UTC), burst))
        if sum(len(b) for _, b in bursts) == 3:
            three.set()

    hold = 0.2
    async with EventStream(url, lambda: "t", on_events=on_events, hold_interval=hold) as stream:
        await stream.join_batch("b1")
        await asyncio.wait_for(three.wait(), 10)

    assert [event.seq for _, burst in bursts for event, _ in burst] == [1, 2, 3]
    for delivered, burst in bursts:
        first_arrival = burst[0][1]
        assert first_arrival.tzinfo is UTC
        # Nobody asked: the timer handed them over, no sooner than the hold.
        assert (delivered - first_arrival).total_seconds() >= hold * 0.9


async def test_a_run_reading_gets_what_the_stream_holds_and_close_hands_over_the_rest(
    misbehaving: tuple[Misbehaving, str],
) -> None:
    _server, url = misbehaving
    run = one_file_run(story_id=STORY)
    bursts: list[list[ReceivedEvent]] = []

    def on_events(burst: list[ReceivedEvent]) -> None:
        bursts.append(burst)
        run.apply_events(burst)

    stream = EventStream(url, lambda: "t", on_events=on_events, hold_interval=3600)
    run.catch_up_with(stream.deliver_held)
    async with stream:
        await stream.join_batch("b1")
        await received(stream, 3)
        assert bursts == []  # all three held
        assert run.files.at[0, "step_progress"] == 0.03  # the read had them handed over
        assert seqs(bursts) == [[1, 2, 3]]
        await stream.join_batch("b2")
        await received(stream, 6)
    assert seqs(bursts) == [[1, 2, 3], [4, 5, 6]]  # closing handed over what was held
    assert run.files.at[0, "step_progress"] == 0.06


async def test_a_bad_token_is_one_clear_auth_error(server: EmbeddedServer) -> None:
    stream = EventStream(server.url, lambda: "not-a-token", on_events=lambda burst: None)
    with pytest.raises(AuthError) as caught:
        await stream.connect()
    await stream.close()
    assert "refused" in str(caught.value)
    assert "not-a-token" not in str(caught.value)


async def test_an_unreachable_server_is_a_stream_error() -> None:
    stream = EventStream("http://127.0.0.1:9", lambda: "t", on_events=lambda burst: None)
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
        on_events=lambda burst: None,
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


class CountingJson:
    """python-socketio's default packet JSON, counting what it reads of progress events."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.progress_read = 0

    def loads(self, text: str, **options: Any) -> Any:
        self.progress_read += "auto-mode-progress" in text
        return self.inner.loads(text, **options)

    def dumps(self, value: Any, **options: Any) -> str:
        return str(self.inner.dumps(value, **options))


@pytest.fixture
def default_packet_json() -> Iterator[CountingJson]:
    """Counts every progress packet read through python-socketio's default packet class (the
    server in this process writes with it, and reads only what clients send)."""
    counting = CountingJson(packet.Packet.json)
    original = packet.Packet.json
    packet.Packet.json = counting
    try:
        yield counting
    finally:
        packet.Packet.json = original


async def test_the_stream_reads_its_packets_with_pydantic_core(
    misbehaving: tuple[Misbehaving, str],
    default_packet_json: CountingJson,
) -> None:
    _server, url = misbehaving
    got: list[ReceivedEvent] = []
    three = asyncio.Event()

    def on_events(burst: list[ReceivedEvent]) -> None:
        got.extend(burst)
        if len(got) >= 3:
            three.set()

    async with EventStream(url, lambda: "t", on_events=on_events, hold_interval=0) as stream:
        await stream.join_batch("b1")  # the server answers with three progress events
        await asyncio.wait_for(three.wait(), 10)

    assert [event.seq for event, _ in got] == [1, 2, 3]
    assert default_packet_json.progress_read == 0, "read by python-engineio's JSON module"
    assert isinstance(stream._sio.packet_class(), EventPacket)
    assert socketio.AsyncClient().packet_class is packet.Packet, "other clients are untouched"
