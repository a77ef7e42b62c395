"""While an event loop runs, the tracker gathers its DataFrame writes; nothing a reader sees lags.

The live socket path hands the tracker one event per turn of the loop, and a pandas cell write
costs several times the fold, so with a loop running the changed cells are written at the end of
the loop's turn (at most every ``WRITE_INTERVAL``). These tests hold the promises around that:
``run.files`` and ``run.snapshot()`` are current as soon as ``apply`` returns, a frame held from
an earlier read catches up on its own, and a file's final state is written at once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from batchkit.contract import AutoModeComplete, AutoModeProgress, BatchState, BatchStatusResponse
from batchkit.tracker import BatchRun, EventFact, PlannedFile

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


def _progress(seq: int, percent: float) -> EventFact:
    moment = T0 + timedelta(seconds=seq)
    event = AutoModeProgress(
        story_id="s1", step="images", progress=percent, timestamp=moment, seq=seq
    )
    return EventFact(received_at=moment, event=event)


async def test_readers_see_each_event_at_once_and_a_held_frame_catches_up() -> None:
    run = _run()
    held = run.files
    for seq in range(1, 51):  # one event per turn of the loop, as the socket delivers them
        run.apply(_progress(seq, 2.0 * seq))
        assert run.snapshot().files[0].step_progress == seq / 50
        await asyncio.sleep(0)
    assert run.files.at[0, "step_progress"] == 1.0  # read through the property: current
    assert run.files is held

    run.apply(_progress(51, 100.0))
    async with asyncio.timeout(5):
        while True:  # polling a condition (the deferred write), with a deadline
            if held.at[0, "last_event_at"] == T0 + timedelta(seconds=51):
                break
            await asyncio.sleep(0.001)


async def test_a_files_final_state_is_written_before_apply_returns() -> None:
    run = _run()
    held = run.files
    run.apply(_progress(1, 50.0))
    done = AutoModeComplete(story_id="s1", step="images", timestamp=T0 + timedelta(seconds=2))
    run.apply(EventFact(received_at=T0 + timedelta(seconds=2), event=done))
    # No await since: the loop has had no turn, yet the held frame shows the final state.
    assert held.at[0, "status"] == "completed"
    assert held.at[0, "step_progress"] == 1.0


def test_without_a_running_loop_every_write_is_immediate() -> None:
    run = _run()
    held = run.files
    run.apply(_progress(1, 40.0))
    assert held.at[0, "step_progress"] == 0.4
