"""A followed run holds its progress events for a moment, and nobody can see it holding them.

``BatchRun.take_event`` (the follower's path) keeps progress events and folds each burst in one
go, at most ``HOLD_INTERVAL`` later, because folding one event per turn of the loop costs several
times more. These tests hold the promises that make that invisible: every read and every other
fact folds the held events first, in the order they came, with the times they arrived; a burst
is folded once; and the timer folds them when nobody asks.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from batchkit.contract import (
    AutoModeComplete,
    AutoModeProgress,
    BatchState,
    BatchStatusResponse,
    StoryProcessingProgress,
)
from batchkit.tracker import BatchRun, EventFact, PlannedFile
from batchkit.tracker.inbox import HOLD_INTERVAL

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _run() -> BatchRun:
    run = BatchRun([PlannedFile(name="a.txt", size=10)], steps=["images"], created_at=T0)
    run.mark_batch_created("b1", [0], received_at=T0)
    status = BatchStatusResponse(
        batch_id="b1",
        status=BatchState.PROCESSING,
        total_stories=1,
        completed_stories=0,
        failed_stories=0,
        progress=0.0,
        story_ids=["s1"],
    )
    run.apply_status(status, received_at=T0)
    return run


def _at(seq: int) -> datetime:
    return T0 + timedelta(seconds=seq)


def _progress(seq: int, percent: float) -> AutoModeProgress:
    return AutoModeProgress(
        story_id="s1", step="images", progress=percent, timestamp=_at(seq), seq=seq
    )


async def test_every_read_sees_an_event_taken_just_before() -> None:
    run = _run()
    reads = {
        "files": lambda: run.files.at[0, "step_progress"],
        "snapshot": lambda: run.snapshot().files[0].step_progress,
        "facts": lambda: len(run.facts),
        "fact_count": lambda: run.fact_count,
        "events": lambda: len(run.events),
        "version": lambda: run.version,
    }
    for seq, (name, read) in enumerate(reads.items(), start=1):
        before = run.fact_count
        run.take_event(_progress(seq, 10.0 * seq), received_at=_at(seq))
        value = read()  # no turn of the loop since: the event is still held, unless read folds
        expected = {
            "files": seq / 10,
            "snapshot": seq / 10,
            "facts": before + 1,
            "fact_count": before + 1,
            "events": before + 1,
        }.get(name)
        if expected is not None:
            assert value == expected, name
    assert run.version == 2 + len(reads)  # plan, batch, status: every event changed something


async def test_a_burst_is_folded_once_in_order_and_keeps_each_arrival_time() -> None:
    run = _run()
    told: list[int] = []
    run.subscribe(lambda r: told.append(r.fact_count))
    facts_before = run.fact_count
    for seq in range(1, 41):  # one burst, taken in one turn of the loop
        run.take_event(_progress(seq, 2.5 * seq), received_at=_at(seq))
    assert told == []  # held: nothing folded yet
    done = AutoModeComplete(story_id="s1", step="images", timestamp=_at(41), seq=41)
    run.take_event(done, received_at=_at(41))  # not a progress event: folds the burst, then itself
    assert told == [facts_before + 40, facts_before + 41]
    events = [fact for fact in run.facts[facts_before:] if isinstance(fact, EventFact)]
    assert [fact.event.seq for fact in events] == list(range(1, 42))
    assert [fact.received_at for fact in events] == [_at(seq) for seq in range(1, 42)]
    assert run.files.at[0, "status"] == "completed"
    assert run.done


async def test_held_events_are_folded_before_any_other_fact() -> None:
    run = _run()
    run.take_event(_progress(1, 50.0), received_at=_at(1))
    run.mark_stopped("a test stops following", received_at=_at(2))
    kinds = [fact.kind for fact in run.facts[-2:]]
    assert kinds == ["event", "follow-stopped"]
    assert run.files.at[0, "step_progress"] == 0.5  # folded before the file failed
    assert run.files.at[0, "status"] == "failed"


async def test_nobody_asking_the_timer_folds_them() -> None:
    run = _run()
    told = asyncio.Event()
    run.subscribe(lambda _run: told.set())
    loop = asyncio.get_running_loop()
    taken = loop.time()
    for seq in range(1, 6):
        run.take_event(_progress(seq, 20.0 * seq), received_at=_at(seq))
    async with asyncio.timeout(5):
        await told.wait()
    assert loop.time() - taken >= HOLD_INTERVAL * 0.9  # the timer, not a read, folded them
    assert run.files.at[0, "step_progress"] == 1.0


def test_without_a_running_loop_an_event_is_folded_at_once() -> None:
    run = _run()
    told: list[int] = []
    run.subscribe(lambda r: told.append(r.version))
    event = StoryProcessingProgress(story_id="s1", progress=50.0, timestamp=_at(1), seq=1)
    run.take_event(event, received_at=_at(1))
    assert told == [run.version]
