"""A run the tracker tests share: one file, its images step, its story ``s1`` processing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from batchkit.contract import AutoModeProgress, BatchState, BatchStatusResponse
from batchkit.tracker import BatchRun, PlannedFile

__all__ = ["T0", "at", "images_progress", "one_file_run"]

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
"""When the run was made, its batch created and its story placed."""


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def one_file_run(story_id: str = "s1") -> BatchRun:
    """``a.txt`` in batch ``b1``, whose story ``story_id`` is processing; every fact at ``T0``."""
    run = BatchRun([PlannedFile(name="a.txt", size=10)], steps=["images"], created_at=T0)
    run.mark_batch_created("b1", [0], received_at=T0)
    status = BatchStatusResponse(
        batch_id="b1",
        status=BatchState.PROCESSING,
        total_stories=1,
        completed_stories=0,
        failed_stories=0,
        progress=0.0,
        story_ids=[story_id],
    )
    run.apply_status(status, received_at=T0)
    return run


def images_progress(seq: int, percent: float) -> AutoModeProgress:
    """Story ``s1``'s images step at ``percent``, sent ``seq`` seconds after ``T0``."""
    return AutoModeProgress(
        story_id="s1", step="images", progress=percent, timestamp=at(seq), seq=seq
    )
