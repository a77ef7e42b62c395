"""The socket.io clients the socket benchmarks compare, and the story room they share.

* :class:`BareClient`: python-socketio alone, whose handler only counts the events (with
  ``stream_packets``, reading packets with the event stream's packet class);
* :class:`TrackedClient`: :class:`~batchkit.events.EventStream` handing the events in bursts to
  a :class:`~batchkit.tracker.BatchRun`, as a session's follower does.

Each counts the events of a burst the reference server's ``emit_burst`` hook sends into a real
story's room (:func:`prepare_story`), and records when and at what CPU time the last one came
(:class:`Burst`). Used by :mod:`benchmarks.socket_path`, :mod:`benchmarks.side_by_side` and
:mod:`benchmarks.emit_latency`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import socketio

from batchkit.client import StoryClient
from batchkit.config import BatchConfig
from batchkit.contract import (
    AutoModeProgress,
    BatchState,
    BatchStatusResponse,
    JoinedStoryRoom,
)
from batchkit.event_packets import EventPacket
from batchkit.events import HOLD_INTERVAL, EventStream, ReceivedEvent
from batchkit.files import Document
from batchkit.tracker import BatchRun, PlannedFile
from benchmarks.reference import PASSWORD, USER, ChildServer, write_texts

__all__ = ["WAIT", "BareClient", "Burst", "Story", "TrackedClient", "prepare_story"]

WAIT = 60.0
"""Deadline of any wait for events (never reached when things work)."""
_NO_TIME = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Story:
    """A story of the benchmark user's, and what a client needs to follow it."""

    url: str
    token: str
    batch_id: str
    status: BatchStatusResponse
    story_id: str


async def prepare_story(server: ChildServer, folder: Path) -> Story:
    """Upload one document and make a batch of it (auto mode off); wait for its story id."""
    [path] = write_texts(folder, 1, 200)
    async with StoryClient(server.url, username=USER, password=PASSWORD, env={}) as client:
        token = await client.ensure_token()
        config = BatchConfig(auto_mode=False)
        uploaded = await client.upload([Document.from_path(path)])
        created = await client.create_batch(
            config.story_inputs(uploaded.files), config.to_auto_mode()
        )
        async with asyncio.timeout(WAIT):
            while True:  # polling a condition, with a deadline
                status = await client.batch_status(created.batch_id)
                if status.story_ids:
                    break
                await asyncio.sleep(0.05)
    return Story(server.url, token, created.batch_id, status, status.story_ids[0])


@dataclass(slots=True)
class Burst:
    """What one client saw of one burst."""

    events: int = 0
    started: float = 0.0
    emitted: float = 0.0
    finished: float = 0.0
    cpu_started: float = 0.0
    cpu_finished: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / (self.finished - self.started)

    @property
    def server_rate(self) -> float:
        """How fast the server sent them (the burst hook returns once all are sent)."""
        return self.events / (self.emitted - self.started)

    @property
    def cpu_us_per_event(self) -> float:
        return (self.cpu_finished - self.cpu_started) / self.events * 1e6


class _Counter:
    """Counts events up to ``expected``; records when and at what CPU time the last came.

    ``settle`` is called before the last event's times are taken: whatever the client still has
    to do before it shows every event (a run folds the events it holds) is measured too.
    """

    def __init__(
        self,
        expected: int,
        latencies: list[float] | None,
        settle: Callable[[], object] | None = None,
    ) -> None:
        self.burst = Burst(started=time.perf_counter(), cpu_started=time.process_time())
        self.expected = expected
        self.latencies = latencies
        self.settle = settle
        self.done = asyncio.Event()

    def count(self, emitted_at: datetime) -> None:
        burst = self.burst
        burst.events += 1
        if self.latencies is not None:
            self.latencies.append((datetime.now(UTC) - emitted_at).total_seconds() * 1000)
        if burst.events == self.expected:
            if self.settle is not None:
                self.settle()
            burst.finished, burst.cpu_finished = time.perf_counter(), time.process_time()
            self.done.set()


class _RoomClient:
    """What both clients share: bursts asked of the server and counted in the story's room."""

    _story: Story

    def arm(self, count: int, latencies: list[float] | None = None) -> _Counter:
        """Count the next ``count`` events (someone else asks the server for them)."""
        raise NotImplementedError

    def check(self) -> None:
        """Whatever the client can verify after a burst (a bare client: nothing)."""

    async def burst(
        self,
        server: ChildServer,
        count: int,
        rate: float | None = None,
        latencies: list[float] | None = None,
    ) -> Burst:
        """Ask the server for ``count`` events (paced at ``rate`` per second) and count them."""
        counter = self.arm(count, latencies)

        async def emit() -> None:
            await server.emit_burst(self._story.story_id, count, rate)
            counter.burst.emitted = time.perf_counter()

        await asyncio.gather(
            emit(), asyncio.wait_for(counter.done.wait(), WAIT + count / (rate or 1000.0))
        )
        self.check()
        return counter.burst


class BareClient(_RoomClient):
    """python-socketio alone: the floor any client on this stack stands on.

    With ``stream_packets``, it reads packets as the event stream does (its packet class), so
    that what is left between the two is batchkit's own parsing, ``seq`` checks and fold.
    """

    def __init__(self, story: Story, *, stream_packets: bool = False) -> None:
        self._story = story
        packets = EventPacket if stream_packets else "default"
        self._sio = socketio.AsyncClient(handle_sigint=False, serializer=packets)
        self._counter: _Counter | None = None
        self._joined = asyncio.Event()
        self._sio.on("joined-story-room", lambda _data: self._joined.set())
        self._sio.on("auto-mode-progress", self._on_progress)

    def _on_progress(self, data: dict[str, Any]) -> None:
        if self._counter is not None:
            stamp = data["timestamp"] if self._counter.latencies is not None else None
            self._counter.count(datetime.fromisoformat(stamp) if stamp else _NO_TIME)

    async def __aenter__(self) -> BareClient:
        story = self._story
        await self._sio.connect(
            f"{story.url}?token={story.token}", auth={"token": story.token}, wait_timeout=10
        )
        await self.join()
        return self

    async def join(self, *, again: bool = False) -> None:
        """Join the story's room (``again``: leave it first, so the server sends to us last)."""
        self._joined.clear()
        room = {"storyId": self._story.story_id}
        if again:
            await self._sio.emit("leave-story-room", room)
        await self._sio.emit("join-story-room", room)
        await asyncio.wait_for(self._joined.wait(), WAIT)

    async def __aexit__(self, *exc: object) -> None:
        await self._sio.disconnect()

    def arm(self, count: int, latencies: list[float] | None = None) -> _Counter:
        self._counter = _Counter(count, latencies)
        return self._counter


class TrackedClient(_RoomClient):
    """batchkit's path: the event stream feeding a run as a session's follower does (the stream
    hands progress messages over in bursts; :meth:`~batchkit.tracker.BatchRun.apply_events`)."""

    def __init__(self, story: Story, *, read_frame: bool = False) -> None:
        self._story = story
        self._read_frame = read_frame
        self.run = _run_for(story)
        self._column = list(self.run.files.columns).index("step_progress")
        self._counter: _Counter | None = None
        self._joined = asyncio.Event()
        # A reader asking the moment an event arrives has it handed over at once (the run asks
        # the stream first): with read_frame, nothing is held, to measure what that reader sees.
        hold = 0.0 if read_frame else HOLD_INTERVAL
        self.stream = EventStream(
            story.url, lambda: story.token, on_events=self._on_events, hold_interval=hold
        )
        self.run.catch_up_with(self.stream.deliver_held)

    def _on_events(self, burst: list[ReceivedEvent]) -> None:
        self.run.apply_events(burst)
        counter = self._counter
        for event, _arrived in burst:
            if isinstance(event, JoinedStoryRoom):
                self._joined.set()
            elif isinstance(event, AutoModeProgress) and counter is not None:
                if self._read_frame:  # what a reader of run.files sees, right after the fold
                    self.run.files.iat[0, self._column]
                counter.count(event.timestamp)

    async def __aenter__(self) -> TrackedClient:
        await self.stream.connect()
        await self.join()
        return self

    async def join(self, *, again: bool = False) -> None:
        """Join the story's room (``again``: leave it first, so the server sends to us last)."""
        self._joined.clear()
        if again:
            await self.stream.leave_story(self._story.story_id)
        await self.stream.join_story(self._story.story_id)
        await asyncio.wait_for(self._joined.wait(), WAIT)

    async def __aexit__(self, *exc: object) -> None:
        await self.stream.close()

    def arm(self, count: int, latencies: list[float] | None = None) -> _Counter:
        self._counter = _Counter(count, latencies, settle=lambda: self.run.files)
        return self._counter

    def check(self) -> None:
        """The run ends where the burst did, and the stream lost nothing."""
        files = self.run.files
        row = [files.at[0, "status"], files.at[0, "step"], files.at[0, "step_progress"]]
        stats = self.stream.stats
        if row != ["processing", "images", 1.0] or stats.gaps or stats.duplicates:
            raise AssertionError(f"the run missed events: {row}, {stats}")


def _run_for(story: Story) -> BatchRun:
    """A run whose one file is the story, still processing (the batch itself made no events)."""
    run = BatchRun([PlannedFile(name="document.txt", size=1)], steps=["story", "images"])
    run.mark_batch_created(story.batch_id, [0])
    processing = {"status": BatchState.PROCESSING, "results": None}
    run.apply_status(story.status.model_copy(update=processing))
    return run
