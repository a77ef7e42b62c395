"""How fast the tracker folds events, against a plain dict update of the same events.

    python benchmarks/tracker_ingest.py [--events 100000] [--files 10] [--repeat 3]

The events are ``auto-mode-progress`` messages for ``--files`` stories (progress rising, a ``seq``
each, as the reference server sends them), built once before any timing. Measured, best of
``--repeat``:

* baseline: a dict per story, updated with the event's step, progress and time;
* tracker, one burst: ``run.apply_many(all events)``, the table written once at the end;
* tracker, bursts of ``--burst``: ``with run.batch()`` around each group, as a session would
  take what arrived in one turn of the event loop;
* tracker, per event: ``run.apply`` each, the table's changed cells written after every event.

Every tracker run is checked: each file ends at its last progress.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from batchkit.contract import AutoModeProgress, BatchState, BatchStatusResponse
from batchkit.tracker import BatchRun, EventFact, PlannedFile

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


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
    run = BatchRun(
        [PlannedFile(name=f"f{i}.txt", size=1000) for i in range(files)],
        steps=["story", "images", "audio"],
        created_at=T0,
    )
    run.mark_batch_created("b", range(files), received_at=T0)
    status = BatchStatusResponse(
        batch_id="b",
        status=BatchState.PROCESSING,
        total_stories=files,
        completed_stories=0,
        failed_stories=0,
        progress=0.0,
        story_ids=[f"s{i}" for i in range(files)],
    )
    run.apply_status(status, received_at=T0)
    return run


def baseline(facts: Sequence[EventFact], files: int) -> None:
    state: dict[str, dict[str, object]] = {f"s{i}": {} for i in range(files)}
    for fact in facts:
        event = fact.event
        assert isinstance(event, AutoModeProgress)
        row = state[event.story_id]
        row["step"] = event.step
        row["progress"] = event.progress / 100
        row["at"] = fact.received_at


def one_burst(run: BatchRun, facts: Sequence[EventFact]) -> None:
    run.apply_many(facts)


def bursts(size: int) -> Callable[[BatchRun, Sequence[EventFact]], None]:
    def feed(run: BatchRun, facts: Sequence[EventFact]) -> None:
        for start in range(0, len(facts), size):
            with run.batch():
                for fact in facts[start : start + size]:
                    run.apply(fact)

    return feed


def per_event(run: BatchRun, facts: Sequence[EventFact]) -> None:
    for fact in facts:
        run.apply(fact)


def best_rate(job: Callable[[], object], count: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        job()
        best = min(best, time.perf_counter() - started)
    return count / best


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--burst", type=int, default=100)
    args = parser.parse_args(argv)
    facts = make_events(args.events, args.files)
    base = best_rate(lambda: baseline(facts, args.files), len(facts), args.repeat)
    print(
        f"{len(facts):,} auto-mode-progress events over {args.files} files, best of {args.repeat}"
    )
    print(f"{'baseline: dict update':<34}{base:>12,.0f} events/s")
    for label, feed in (
        ("tracker, one burst", one_burst),
        (f"tracker, bursts of {args.burst}", bursts(args.burst)),
        ("tracker, table written per event", per_event),
    ):
        rate = tracker_rate(feed, facts, args.files, args.repeat)
        print(f"{label:<34}{rate:>12,.0f} events/s   {rate / base:6.1%} of baseline")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
