"""A run already under way, for the benchmarks that feed a tracker without a server.

Its files are planned (and, if asked, uploaded), in batch ``b``, and the server has answered
with story ids ``s0``, ``s1``... so that the events a benchmark builds land on known rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from batchkit.contract import BatchState, BatchStatusResponse
from batchkit.tracker import BatchRun, PlannedFile

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def started_run(
    files: int, steps: Sequence[str], *, name: str = "f{}.txt", uploaded: bool = False
) -> BatchRun:
    """A run of ``files`` files, story ``s{i}`` on row ``i``, its batch processing."""
    run = BatchRun(
        [PlannedFile(name=name.format(i), size=1000) for i in range(files)],
        steps=steps,
        created_at=T0,
    )
    if uploaded:
        for i in range(files):
            run.mark_uploaded(i, f"http://srv/u/{i}.txt", received_at=T0)
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
