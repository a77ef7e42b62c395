"""A burst of events from the reference server into the tracker, against a bare socket.io client.

    python -m benchmarks.socket_path [--quick] [--json]

The reference server runs in a child process (:class:`~benchmarks.reference.ChildServer`, pace 0).
A real batch is made first (auto mode off: only its story record, so that no pipeline sends
events of its own), and its story's room is what both clients join. Then, one client at a time,
the server's ``emit_burst`` hook sends ``auto-mode-progress`` events into that room as fast as it
can, each numbered (``seq``) through the server's normal emit path:

* baseline: a bare python-socketio ``AsyncClient`` whose handler only counts the events;
* batchkit: :class:`~batchkit.events.EventStream` (parsing, ``seq`` checks) handing the events
  in bursts to a :class:`~batchkit.tracker.BatchRun`, as a session's follower does.

The headline is the client's CPU time per event, bare against batchkit: the server sends at a
capped rate (one SQLite write per event), which both clients keep up with, so their rates say more
about the server than about them, while the CPU each spends per event is what limits a client. The
rate (events over the time from asking for the burst to the last event handled) is shown too.
The clients alternate, round after round. The headline is the round whose bare/batchkit ratio
is the median (the lower of the middle two): the machine's speed drifts between rounds, so the
two clients are compared within a round; each client's best round is in the note. The rate row
takes each client's fastest round.
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
from batchkit.events import HOLD_INTERVAL, EventStream, ReceivedEvent
from batchkit.files import Document
from batchkit.tracker import BatchRun, PlannedFile
from benchmarks.reference import PASSWORD, USER, ChildServer, write_texts
from benchmarks.report import Row, at_least, main

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
    """python-socketio alone: the floor any client on this stack stands on."""

    def __init__(self, story: Story) -> None:
        self._story = story
        self._sio = socketio.AsyncClient(handle_sigint=False)
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
        self._counter = _Counter(count, latencies)
        return await _measure(server, self._story, self._counter, count, rate)


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
        self._counter = _Counter(count, latencies, settle=lambda: self.run.files)
        burst = await _measure(server, self._story, self._counter, count, rate)
        self.check()
        return burst

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


async def measure(count: int, rounds: int, folder: Path) -> tuple[list[Burst], list[Burst]]:
    """The bare bursts and the batchkit bursts, alternating, ``rounds`` each."""
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
    return bare, tracked


def _paired_ratio(pair: tuple[Burst, Burst]) -> float:
    """Bare CPU per event over batchkit's, in one round: 1.0 is batchkit costing nothing."""
    bare, tracked = pair
    return bare.cpu_us_per_event / tracked.cpu_us_per_event


def run(quick: bool) -> list[Row]:
    count, rounds = (3_000, 5) if quick else (10_000, 8)
    with tempfile.TemporaryDirectory(prefix="batchkit-bench-") as folder:
        bare_rounds, tracked_rounds = asyncio.run(measure(count, rounds, Path(folder)))
    # The headline compares the two clients within a round: the machine's speed drifts from
    # one round to the next (one client's CPU per event moved 1.4x between rounds of one run
    # on this 2-core VM),
    # and each client's best round alone may come from a different moment. The round whose
    # ratio is the median (the lower of the middle two) counts; each client's best is noted.
    pairs = sorted(zip(bare_rounds, tracked_rounds, strict=True), key=_paired_ratio)
    bare, tracked = pairs[(len(pairs) - 1) // 2]
    per_cpu_second = 1e6 / tracked.cpu_us_per_event
    bare_per_cpu_second = 1e6 / bare.cpu_us_per_event
    both = (bare_rounds, tracked_rounds)
    bare_best, tracked_best = (min(r, key=lambda b: b.cpu_us_per_event) for r in both)
    best_ratio = bare_best.cpu_us_per_event / tracked_best.cpu_us_per_event
    bare_fast, tracked_fast = (max(r, key=lambda b: b.rate) for r in both)
    return [
        Row(
            "2 socket path: events per client CPU-second",
            per_cpu_second,
            "events/CPU-s",
            baseline=bare_per_cpu_second,
            baseline_label="bare python-socketio client",
            goal="ratio ≥ 0.9",
            met=at_least(per_cpu_second / bare_per_cpu_second, 0.9),
            note=f"{count:,} events, {rounds} rounds each, alternating; the round of the median "
            f"paired ratio: the whole client process's CPU time during the burst "
            f"({tracked.cpu_us_per_event:.1f} µs per event for EventStream holding, parsing and "
            f"seq checks and BatchRun folding, against {bare.cpu_us_per_event:.1f} µs). Each "
            f"client's best round: {tracked_best.cpu_us_per_event:.1f} against "
            f"{bare_best.cpu_us_per_event:.1f} µs (ratio {best_ratio:.3f}); paired ratios "
            f"{min(map(_paired_ratio, pairs)):.3f}-{max(map(_paired_ratio, pairs)):.3f}. The "
            "server sends no faster than both clients can "
            "take (one SQLite write per event), so the CPU each spends per event is where the "
            "client is the limit: it is the rate a client reaches with a core of its own",
            remedy="batchkit's share, timed in place on a 2-core VM (each part wrapped in "
            "perf_counter, so a little high): holding each message as it arrives ~3 µs; in the "
            "burst, parsing ~9 µs and seq checks ~3 µs; the run's fold ~13 µs (the file's state "
            "machine, its history and the fact kept), the next place to cut",
        ),
        Row(
            f"2 socket path: {count:,} events, server → EventStream → BatchRun",
            tracked_fast.rate,
            "events/s",
            baseline=bare_fast.rate,
            baseline_label="bare python-socketio client",
            note=f"the rate both clients got, capped by the server: it sent at "
            f"{tracked_fast.server_rate:,.0f} and {bare_fast.server_rate:,.0f} events/s in "
            "those rounds",
        ),
    ]


if __name__ == "__main__":
    raise SystemExit(main(run, __doc__))
