"""While an event loop runs, the tracker gathers its DataFrame writes; nothing a reader sees lags.

The live socket path hands the tracker one event per turn of the loop, and a pandas cell write
costs several times the fold, so with a loop running the changed cells are written at the end of
the loop's turn (at most every ``WRITE_INTERVAL``). These tests hold the promises around that:
``run.files`` and ``run.snapshot()`` are current as soon as ``apply`` returns, a frame held from
an earlier read catches up on its own, and a file's final state is written at once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from batchkit.contract import AutoModeComplete
from batchkit.tracker import EventFact
from batchkit.tracker.fold import Fold
from client.one_file_run import T0, images_progress, one_file_run


def _progress(seq: int, percent: float) -> EventFact:
    event = images_progress(seq, percent)
    return EventFact(received_at=event.timestamp, event=event)


async def test_readers_see_each_event_at_once_and_a_held_frame_catches_up() -> None:
    run = one_file_run()
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
    run = one_file_run()
    held = run.files
    run.apply(_progress(1, 50.0))
    done = AutoModeComplete(story_id="s1", step="images", timestamp=T0 + timedelta(seconds=2))
    run.apply(EventFact(received_at=T0 + timedelta(seconds=2), event=done))
    # No await since: the loop has had no turn, yet the held frame shows the final state.
    assert held.at[0, "status"] == "completed"
    assert held.at[0, "step_progress"] == 1.0


def test_without_a_running_loop_every_write_is_immediate() -> None:
    run = one_file_run()
    held = run.files
    run.apply(_progress(1, 40.0))
    assert held.at[0, "step_progress"] == 0.4


def test_progress_folded_a_fact_at_a_time_leaves_the_files_status_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As in a burst, a progress fact cannot finish a file, so ``apply`` does not work out its
    status again (derived from all its stories, it cost more than the fold: one event per loop
    turn went from ~11.3 to ~7.3 µs in ``python -m benchmarks.tracker_ingest``'s live row). A
    fact that can finish the file still has it looked at, and the final state written, at once.
    """
    run = one_file_run()
    held = run.files
    asked: list[int] = []
    status = Fold.status
    monkeypatch.setattr(Fold, "status", lambda fold, row: asked.append(row) or status(fold, row))
    for seq in range(1, 101):
        assert run.apply(_progress(seq, 0.9 * seq)) is True
    assert asked == []
    done = AutoModeComplete(story_id="s1", step="images", timestamp=T0 + timedelta(seconds=101))
    run.apply(EventFact(received_at=T0 + timedelta(seconds=101), event=done))
    assert asked == [0]
    assert held.at[0, "status"] == "completed"
