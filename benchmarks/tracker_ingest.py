"""How fast the tracker folds events into its live DataFrame, against a plain dict update.

    python -m benchmarks.tracker_ingest [--quick] [--json]

The events are ``auto-mode-progress`` messages (progress rising, a ``seq`` each, as the reference
server sends them), built before any timing. Measured, best of a few repeats:

* baseline: a dict per story, updated with the event's step, progress and time;
* the live path: ``run.apply`` for each event, one event per turn of a running event loop, as
  the socket delivers them (python-socketio hands each message to its own task); the baseline
  runs in the same harness, so the loop's own cost is in both;
* the same over 1,000 files instead of 10: a DataFrame rebuilt per event would cost ~100 times
  more per event; written in place, a cell at a time, it costs the same;
* one burst (``run.apply_many``) and per event without an event loop (a replay, a test: the
  table is written after every event), for context.

Every tracker run is checked: each file ends at its last progress.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from batchkit.contract import AutoModeProgress
from batchkit.tracker import BatchRun, EventFact
from benchmarks.report import Row, at_least, main
from benchmarks.started_run import T0, started_run


def make_events(count: int, files: int) -> list[EventFact]:
    per_file = count // files
    facts = []
    for k in range(per_file * files):
        row, n = k % files, k // files
        event = AutoModeProgress(
            story_id=f"s{row}",
            step="images",
            progress=100 * (n + 1) / per_file,
            timestamp=T0,
            seq=n + 1,
        )
        facts.append(EventFact(received_at=T0 + timedelta(microseconds=k), event=event))
    return facts


def make_run(files: int) -> BatchRun:
    return started_run(files, ["story", "images", "audio"])


def one_burst(run: BatchRun, facts: Sequence[EventFact]) -> None:
    run.apply_many(facts)


def per_event(run: BatchRun, facts: Sequence[EventFact]) -> None:
    for fact in facts:
        run.apply(fact)


def one_per_loop_turn(run: BatchRun, facts: Sequence[EventFact]) -> None:
    asyncio.run(_turns(run.apply, facts))


async def _turns(apply: Callable[[EventFact], object], facts: Sequence[EventFact]) -> None:
    """``apply`` each fact in a turn of the running loop of its own, as a socket's task would.

    A callback scheduled with ``call_soon`` from a callback runs in the loop's next turn, so the
    chain below gives each fact its own turn at the least cost the loop allows."""
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    pending = iter(facts)

    def step() -> None:
        fact = next(pending, None)
        if fact is None:
            finished.set_result(None)
            return
        apply(fact)
        loop.call_soon(step)

    loop.call_soon(step)
    await finished


def best_seconds(job: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        job()
        best = min(best, time.perf_counter() - started)
    return best


def tracker_rate(
    feed: Callable[[BatchRun, Sequence[EventFact]], None],
    facts: Sequence[EventFact],
    files: int,
    repeat: int,
) -> float:
    best = float("inf")
    for _ in range(repeat):
        run = make_run(files)
        started = time.perf_counter()
        feed(run, facts)
        best = min(best, time.perf_counter() - started)
        progress = run.files["step_progress"].tolist()
        assert progress == [1.0] * files, f"the run did not end where the events did: {progress}"
    return len(facts) / best


def dict_rate(facts: Sequence[EventFact], files: int, repeat: int, *, in_loop: bool) -> float:
    state: dict[str, dict[str, object]] = {f"s{i}": {} for i in range(files)}

    def update(fact: EventFact) -> None:
        event = fact.event
        assert isinstance(event, AutoModeProgress)
        row = state[event.story_id]
        row["step"] = event.step
        row["progress"] = event.progress / 100
        row["at"] = fact.received_at

    def job() -> None:
        if in_loop:
            asyncio.run(_turns(update, facts))
        else:
            for fact in facts:
                update(fact)

    return len(facts) / best_seconds(job, repeat)


def run(quick: bool) -> list[Row]:
    count, repeat = (20_000, 2) if quick else (100_000, 3)
    facts, wide = make_events(count, 10), make_events(count, 1000)
    floor = dict_rate(facts, 10, repeat, in_loop=True)
    live = tracker_rate(one_per_loop_turn, facts, 10, repeat)
    synchronous = tracker_rate(per_event, facts, 10, repeat)
    synchronous_wide = tracker_rate(per_event, wide, 1000, repeat)
    live_wide = tracker_rate(one_per_loop_turn, wide, 1000, repeat)
    burst = tracker_rate(one_burst, facts, 10, repeat)
    bare_dict = dict_rate(facts, 10, repeat, in_loop=False)
    label = f"1 ingestion: {len(facts):,} events"
    return [
        Row(
            f"{label}, one per loop turn (live path), 10 files",
            live,
            "events/s",
            baseline=floor,
            baseline_label="dict update, same loop",
            goal="≥ 100,000 events/s",
            met=at_least(live, 100_000),
            remedy=_remedy(live / floor, floor),
        ),
        Row(
            f"{label}, written per event, 1,000 files vs 10",
            synchronous_wide,
            "events/s",
            baseline=synchronous,
            baseline_label="10 files",
            goal="ratio ≥ 0.7 (no rebuild per event)",
            met=at_least(synchronous_wide / synchronous, 0.7),
            remedy="a cost that grows with the number of rows: look for a whole-frame operation "
            "per event (profile BatchRun.apply).",
            note="no event loop: the frame is written after every event, one row's cells",
        ),
        Row(
            f"{label}, one per loop turn, 1,000 files round-robin",
            live_wide,
            "events/s",
            baseline=floor,
            baseline_label="dict update, same loop",
            note="each event a different row: nothing for the deferred write to gather",
        ),
        Row(f"{label}, one burst (apply_many)", burst, "events/s", bare_dict, "dict update"),
        Row(
            f"{label}, per event, no event loop (written each time)",
            synchronous,
            "events/s",
            baseline=bare_dict,
            baseline_label="dict update",
        ),
    ]


def _remedy(ratio: float, floor: float) -> str:
    return (
        f"the tracker ran at {ratio:.2f} of the dict update in the same loop ({floor:,.0f}/s). "
        "Profile BatchRun.apply (python -m cProfile): the fold's steps per event, the history "
        "(batchkit/tracker/history.py keeps a progress event's values one after another in a "
        "list, about 0.5 µs; a JSON line costs about 3 µs) and publishing to subscribers are "
        "the parts. Keeping the history as models instead would be faster but lets the "
        "garbage collector's full collections pause the loop (emit → DataFrame p99 40–72 ms), "
        "and a tuple per event ran its young collections every ~370 events."
    )


if __name__ == "__main__":
    raise SystemExit(main(run, __doc__))
