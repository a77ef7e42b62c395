"""A burst of events from the reference server into the tracker, against a bare socket.io client.

    python -m benchmarks.socket_path [--quick] [--json]

The reference server runs in a child process (:class:`~benchmarks.reference.ChildServer`, pace 0).
A real batch is made first (auto mode off: only its story record, so that no pipeline sends
events of its own), and its story's room is what both clients join. The server's ``emit_burst``
hook sends ``auto-mode-progress`` events into that room as fast as it can, each numbered
(``seq``) through the server's normal emit path, to:

* baseline: a bare python-socketio ``AsyncClient`` whose handler only counts the events;
* the same bare client reading packets with the event stream's packet class
  (:class:`~batchkit.event_packets.EventPacket`, whose JSON parser costs less than
  python-engineio's): against it, what is left is batchkit's own work (its own row);
* batchkit: :class:`~batchkit.events.EventStream` (parsing, ``seq`` checks) handing the events
  in bursts to a :class:`~batchkit.tracker.BatchRun`, as a session's follower does.

The headline is the client's CPU time per event, bare against batchkit: the server sends at a
capped rate (one SQLite write per event), which both clients keep up with, so their rates say more
about the server than about them, while the CPU each spends per event is what limits a client.
It is measured with both clients taking the same bursts at once, each in a process of its own
(:mod:`benchmarks.side_by_side`): the machine's speed drifts from round to round, and side by
side both meet the same machine. The round whose bare/batchkit ratio is the median (the lower
of the middle two) counts. The clients are also measured taking turns, round after round, each
with a core of its own (the same median, in its own row), and the rate (events over the time
from asking for the burst to the last event handled) of each client's fastest round is shown.
"""

from __future__ import annotations

import asyncio
import tempfile
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
from benchmarks.report import Row, at_least, main
from benchmarks.side_by_side import measure_side_by_side, median_pair, ratio_range

__all__ = ["BareClient", "Burst", "Story", "TrackedClient", "prepare_story", "run"]

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


async def _measure(
    server: ChildServer, story: Story, counter: _Counter, count: int, rate: float | None
) -> Burst:
    async def emit() -> None:
        await server.emit_burst(story.story_id, count, rate)
        counter.burst.emitted = time.perf_counter()

    await asyncio.gather(
        emit(), asyncio.wait_for(counter.done.wait(), WAIT + count / (rate or 1000.0))
    )
    return counter.burst


class BareClient:
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
        await self._sio.emit("join-story-room", {"storyId": story.story_id})
        await asyncio.wait_for(self._joined.wait(), WAIT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._sio.disconnect()

    async def burst(
        self,
        server: ChildServer,
        count: int,
        rate: float | None = None,
        latencies: list[float] | None = None,
    ) -> Burst:
        counter = self.arm(count, latencies)
        return await _measure(server, self._story, counter, count, rate)

    def arm(self, count: int, latencies: list[float] | None = None) -> _Counter:
        """Count the next ``count`` events (someone else asks the server for them)."""
        self._counter = _Counter(count, latencies)
        return self._counter


class TrackedClient:
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
        await self.stream.join_story(self._story.story_id)
        await asyncio.wait_for(self._joined.wait(), WAIT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stream.close()

    async def burst(
        self,
        server: ChildServer,
        count: int,
        rate: float | None = None,
        latencies: list[float] | None = None,
    ) -> Burst:
        counter = self.arm(count, latencies)
        burst = await _measure(server, self._story, counter, count, rate)
        self.check()
        return burst

    def arm(self, count: int, latencies: list[float] | None = None) -> _Counter:
        """Count the next ``count`` events (someone else asks the server for them)."""
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


async def _one_burst(
    server: ChildServer, story: Story, make: Callable[[], BareClient | TrackedClient], *, count: int
) -> Burst:
    async with make() as client:
        return await client.burst(server, count)


@dataclass(frozen=True, slots=True)
class Rounds:
    """Every burst measured: taking turns (``bare``, ``tracked``), and side by side (pairs),
    against a default bare client and against one reading packets as the stream does."""

    bare: list[Burst]
    tracked: list[Burst]
    side_by_side: list[tuple[Burst, Burst]]
    same_packets: list[tuple[Burst, Burst]]


async def measure(count: int, rounds: int, folder: Path) -> Rounds:
    """``rounds`` bursts of each client taking turns, then ``rounds`` taken side by side."""
    bare: list[Burst] = []
    tracked: list[Burst] = []
    with ChildServer() as server:
        story = await prepare_story(server, folder)
        await _one_burst(server, story, lambda: BareClient(story), count=min(count, 500))  # warm up
        for _ in range(rounds):
            bare.append(await _one_burst(server, story, lambda: BareClient(story), count=count))
            tracked.append(
                await _one_burst(server, story, lambda: TrackedClient(story), count=count)
            )
        counts = [min(count, 500), *[count] * rounds]  # the first warms both processes up
        side_by_side = await measure_side_by_side(server, story, counts, WAIT)
        same_packets = await measure_side_by_side(
            server, story, counts, WAIT, bare="bare with batchkit's packets"
        )
    return Rounds(bare, tracked, side_by_side[1:], same_packets[1:])


def run(quick: bool) -> list[Row]:
    count, rounds = (3_000, 5) if quick else (10_000, 8)
    with tempfile.TemporaryDirectory(prefix="batchkit-bench-") as folder:
        measured = asyncio.run(measure(count, rounds, Path(folder)))
    side_bare, side_tracked = median_pair(measured.side_by_side)
    turns = list(zip(measured.bare, measured.tracked, strict=True))
    turn_bare, turn_tracked = median_pair(turns)
    per_cpu_second = 1e6 / side_tracked.cpu_us_per_event
    bare_per_cpu_second = 1e6 / side_bare.cpu_us_per_event
    bare_fast = max(measured.bare, key=lambda burst: burst.rate)
    tracked_fast = max(measured.tracked, key=lambda burst: burst.rate)
    return [
        Row(
            "2 socket path: events per client CPU-second (side by side)",
            per_cpu_second,
            "events/CPU-s",
            baseline=bare_per_cpu_second,
            baseline_label="bare python-socketio client",
            goal="ratio ≥ 0.9",
            met=at_least(per_cpu_second / bare_per_cpu_second, 0.9),
            note=f"{count:,} events, {rounds} rounds, both clients taking each burst at once, "
            "each in a process of its own (benchmarks/side_by_side.py); the round of the "
            f"median ratio ({side_tracked.cpu_us_per_event:.1f} µs of the whole client "
            "process's CPU per event for EventStream holding, parsing and seq checks and "
            f"BatchRun folding, against {side_bare.cpu_us_per_event:.1f} µs); ratios "
            f"{ratio_range(measured.side_by_side)}. The server sends no faster than both take, "
            "so the CPU each spends per event is where a client is the limit",
            remedy="batchkit's own share is the next row's: against a bare client reading "
            "packets as the stream does, what is left is parsing (pydantic), seq checks and "
            "the run's fold, each costing 2-3 times what it costs in a tight loop",
        ),
        _same_packets_row(measured.same_packets),
        Row(
            "2 socket path: events per client CPU-second (taking turns)",
            1e6 / turn_tracked.cpu_us_per_event,
            "events/CPU-s",
            baseline=1e6 / turn_bare.cpu_us_per_event,
            baseline_label="bare python-socketio client",
            note=f"{rounds} rounds each, alternating, each client with a core of its own; the "
            f"round of the median paired ratio ({turn_tracked.cpu_us_per_event:.1f} against "
            f"{turn_bare.cpu_us_per_event:.1f} µs); paired ratios {ratio_range(turns)}: the "
            "machine's speed drifts between rounds, which side by side cancels",
        ),
        Row(
            f"2 socket path: {count:,} events, server → EventStream → BatchRun",
            tracked_fast.rate,
            "events/s",
            baseline=bare_fast.rate,
            baseline_label="bare python-socketio client",
            note=f"taking turns, each client's fastest round: the rate both got, capped by the "
            f"server: it sent at {tracked_fast.server_rate:,.0f} and "
            f"{bare_fast.server_rate:,.0f} events/s in those rounds",
        ),
    ]


def _same_packets_row(pairs: list[tuple[Burst, Burst]]) -> Row:
    """Side by side again, against a bare client reading packets with the stream's class."""
    bare, tracked = median_pair(pairs)
    return Row(
        "2 socket path: events per client CPU-second (side by side, same packets)",
        1e6 / tracked.cpu_us_per_event,
        "events/CPU-s",
        baseline=1e6 / bare.cpu_us_per_event,
        baseline_label="bare client with batchkit's packet class",
        note="as the first row, against a bare client reading JSON as the event stream does "
        "(batchkit.event_packets, pydantic-core's parser where python-engineio's builds a "
        "decoder per packet): what is left is batchkit's own work, holding, parsing, seq "
        f"checks and folding ({tracked.cpu_us_per_event:.1f} against "
        f"{bare.cpu_us_per_event:.1f} µs per event); ratios {ratio_range(pairs)}",
    )


if __name__ == "__main__":
    raise SystemExit(main(run, __doc__))
