"""What the progress view sends while a run receives 10,000 events, and what one redraw costs.

    python -m benchmarks.drawing [--quick] [--json]      (or python benchmarks/drawing.py)

No kernel and no browser: every widget's comm is a real ``comm.base_comm.BaseComm`` that
serialises each message to JSON (as a kernel does before sending it) and counts it. The events
are real contract models (10 stories through every step, one failing), folded by a real
:class:`~batchkit.tracker.BatchRun` as fast as an asyncio loop allows, yielding to the loop
between events as a socket reader does. Measured, in the same run:

* throttled: ``progress_view(run)`` (one flusher, at most 10 redraws a second): comm messages a
  second and redraws a second over the view's life, and whether the final drawing equals the
  run's final snapshot exactly;
* baseline: the same view redrawn by a subscriber on every event (no throttle), the way a
  widget updated per event behaves: the messages a second it sends;
* the cost of one redraw (snapshot, HTML, the messages serialised) with 10 and 1,000 rows.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from statistics import median
from typing import Any

import comm
from comm.base_comm import BaseComm

from batchkit.contract import (
    AutoModeComplete,
    AutoModeError,
    AutoModeProgress,
    AutoModeStart,
    ServerEvent,
    StoryProcessingComplete,
    StoryProcessingStart,
)
from batchkit.tracker import BatchRun
from batchkit.widgets import BatchView, progress_view
from benchmarks.report import Row, at_most, main
from benchmarks.started_run import T0, started_run

STEPS = ("story", "images", "audio", "merge")


class CountingComm(BaseComm):
    """A comm that serialises what it is given, as a kernel would, and counts it."""

    sent = 0

    def publish_msg(self, msg_type: str, data: Any = None, *args: Any, **keys: Any) -> None:
        json.dumps(data)
        if msg_type == "comm_msg":
            CountingComm.sent += 1


def make_run(files: int) -> BatchRun:
    return started_run(files, STEPS, name="document {}.txt", uploaded=True)


def story(story_id: str, per_step: int, *, failing: bool) -> Iterator[ServerEvent]:
    seq = itertools.count(1)
    meta = {"story_id": story_id, "timestamp": T0}
    yield StoryProcessingStart(seq=next(seq), **meta)
    yield StoryProcessingComplete(seq=next(seq), **meta)
    done = ["story"]
    for step in STEPS[1:]:
        yield AutoModeStart(step=step, seq=next(seq), **meta)
        if failing and step == "audio":
            yield AutoModeError(step=step, error="the voice engine crashed", seq=next(seq), **meta)
            return
        for k in range(per_step):
            progress = 100 * (k + 1) / per_step
            yield AutoModeProgress(step=step, progress=progress, seq=next(seq), **meta)
        done.append(step)
        yield AutoModeComplete(step=step, completed_steps=list(done), seq=next(seq), **meta)


def events(files: int, total: int) -> list[ServerEvent]:
    """At least ``total`` events for ``files`` stories, round-robin, story 3 failing."""
    per_step = total // (files * 3)
    while True:
        streams = [list(story(f"s{i}", per_step, failing=i == 3)) for i in range(files)]
        if sum(map(len, streams)) >= total:
            return [e for group in itertools.zip_longest(*streams) for e in group if e]
        per_step += 1


async def feed(run: BatchRun, stream: list[ServerEvent]) -> None:
    for i, event in enumerate(stream):
        run.apply_event(event, received_at=T0 + timedelta(milliseconds=i))
        await asyncio.sleep(0)  # yield the loop, as a socket reader does between messages


async def throttled(files: int, stream: list[ServerEvent]) -> tuple[float, int, int, bool]:
    run = make_run(files)
    CountingComm.sent = 0
    view = progress_view(run)
    started, opened = time.perf_counter(), CountingComm.sent
    await feed(run, stream)
    await view.settled()
    elapsed = time.perf_counter() - started
    final = run.snapshot()
    exact = view.drawn == final and view.html == view.html_of(final)
    view.close()
    return elapsed, CountingComm.sent - opened, view.redraws, exact


async def per_event(files: int, stream: list[ServerEvent]) -> tuple[float, int]:
    run = make_run(files)
    view = progress_view(run)
    view.stop()  # its flusher is off; this subscriber redraws on every event instead
    run.subscribe(lambda r: view.show(r.snapshot()))
    CountingComm.sent = 0
    started = time.perf_counter()
    await feed(run, stream)
    return time.perf_counter() - started, CountingComm.sent


def redraw_cost(rows: int, repeat: int) -> float:
    """Median milliseconds of one redraw after one event changed one file."""
    run = make_run(rows)
    view: BatchView = progress_view(run, max_rate=1e-6)  # never draws by itself
    stream = iter(events(rows, repeat * 2))
    costs = []
    for i in range(repeat):
        run.apply_event(next(stream), received_at=T0 + timedelta(milliseconds=i))
        started = time.perf_counter()
        view.flush()
        costs.append(time.perf_counter() - started)
    view.close()
    return median(costs) * 1000


def run(quick: bool) -> list[Row]:
    comm.create_comm = CountingComm  # every widget made from here on counts its messages
    count = 2_000 if quick else 10_000
    stream = events(10, count)
    elapsed, sent, redraws, exact = asyncio.run(throttled(10, stream))
    base_elapsed, base_sent = asyncio.run(per_event(10, stream))
    rate, base_rate = sent / elapsed, base_sent / base_elapsed
    throttled_rate = (redraws - 1) / elapsed  # the last redraw is the final state's
    return [
        Row(
            f"4 drawing: comm messages/s while {len(stream):,} events arrive",
            rate,
            "msg/s",
            baseline=base_rate,
            baseline_label="redrawn on every event",
            goal="≤ 5 messages per redraw",
            met=at_most(sent, 5 * redraws),
            note=f"{sent} messages in {redraws} redraws over {elapsed:.2f} s; baseline "
            f"{base_sent:,} messages in {base_elapsed:.2f} s",
        ),
        Row(
            "4 drawing: redraws/s while the events arrive (final one aside)",
            throttled_rate,
            "/s",
            baseline=len(stream) / base_elapsed,
            baseline_label="redrawn on every event",
            goal="≤ 10/s",
            met=at_most(redraws - 1, 10 * elapsed),
            note=f"{redraws} redraws in {elapsed:.2f} s, the last one the final state",
            remedy="the flusher drew more often than its interval: check Flusher.mark_dirty.",
        ),
        Row("4 drawing: final state drawn exactly", float(exact), "", goal="1 (yes)", met=exact),
        Row("4 drawing: one redraw, 10 rows", redraw_cost(10, 50 if quick else 200), "ms"),
        Row("4 drawing: one redraw, 1,000 rows", redraw_cost(1000, 10 if quick else 40), "ms"),
    ]


if __name__ == "__main__":
    raise SystemExit(main(run, __doc__))
