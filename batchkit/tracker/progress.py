"""What a view renders: a run's totals and one frozen row per file, taken in O(files).

Overall progress weighs each file equally and, within a file, each enabled step the server
reports by :data:`STEP_WEIGHTS`: a file contributes its completed steps plus the done fraction of
the step it is in, and a finished file (completed or failed) contributes all of its share. The
story step weighs less than images and audio because those run once per chunk of words and
usually take the longest; merge only joins clips. The ETA does not use these weights: it is
the median observed duration of each step times the work left, shared by the files running at
once, and it is None until one step has been seen from start to finish.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Final

from batchkit.contract.limits import PipelineStep
from batchkit.tracker.pipeline import Pipeline
from batchkit.tracker.state import STEP_ORDER, FileStatus, FileTrack, UploadStatus

__all__ = ["STEP_WEIGHTS", "FileRow", "RunSnapshot", "take_snapshot"]

STEP_WEIGHTS: Final[Mapping[PipelineStep, float]] = {
    PipelineStep.STORY: 1.0,
    PipelineStep.IMAGES: 2.0,
    PipelineStep.AUDIO: 2.0,
    PipelineStep.MERGE: 0.5,
}
"""Default share of each step in a file's progress."""

_ACTIVE: Final = frozenset({FileStatus.UPLOADING, FileStatus.PROCESSING})
_WAITING: Final = frozenset({FileStatus.PENDING, FileStatus.UPLOADED, FileStatus.QUEUED})


@dataclass(frozen=True, slots=True)
class FileRow:
    """One file as a view shows it."""

    index: int
    name: str
    status: FileStatus
    upload_status: UploadStatus
    step: PipelineStep | None
    step_progress: float | None
    completed_steps: tuple[PipelineStep, ...]
    progress: float
    """This file's share of its work done, 0.0–1.0 (1.0 once it is completed or failed)."""
    error: str | None
    stalled: bool
    story_id: str | None
    batch_id: str | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """A run at one moment (``version``): totals, progress, ETA and every file's row."""

    run_id: str
    version: int
    as_of: datetime
    """The latest time any fact carried (the run's own clock: it never reads the wall clock)."""
    total: int
    completed: int
    failed: int
    done: int
    """Files that are completed or failed."""
    active: int
    """Files uploading or processing."""
    pending: int
    """Files not started: planned, uploaded or queued in a batch."""
    stalled: int
    progress: float
    """Weighted overall progress, 0.0–1.0."""
    eta_s: float | None
    current_index: int | None
    """The processing file that moved last, if any."""
    current_step: PipelineStep | None
    upload_sent: int
    upload_total: int
    elapsed_s: float
    all_done: bool
    files: tuple[FileRow, ...]

    @property
    def current_name(self) -> str | None:
        return None if self.current_index is None else self.files[self.current_index].name


def _file_progress(
    track: FileTrack, status: FileStatus, pipeline: Pipeline, weights: Mapping[PipelineStep, float]
) -> float:
    if status.terminal:
        return 1.0
    steps = [s for s in pipeline.steps if s in pipeline.needed]
    total = sum(weights[s] for s in steps)
    if not total:
        return 0.0
    done = 0.0
    for step in steps:
        done += weights[step] * (1.0 if step in track.completed else track.progress.get(step, 0.0))
    return done / total


def _file_row(
    track: FileTrack, pipeline: Pipeline, weights: Mapping[PipelineStep, float]
) -> FileRow:
    status = track.status(pipeline.needed)
    step = track.shown_step(status, pipeline.steps, pipeline.needed)
    failure = track.failure(pipeline.needed)
    return FileRow(
        index=track.index,
        name=track.name,
        status=status,
        upload_status=track.upload_status(),
        step=step,
        step_progress=track.shown_progress(status, step),
        completed_steps=tuple(s for s in STEP_ORDER if s in track.completed),
        progress=_file_progress(track, status, pipeline, weights),
        error=None if failure is None else failure[1],
        stalled=track.stalled and status in _ACTIVE,
        story_id=track.story_id,
        batch_id=track.batch_id,
        started_at=track.started_at,
        finished_at=track.finished_at(status, pipeline.needed),
    )


def estimate_eta(
    tracks: Sequence[FileTrack], rows: Sequence[FileRow], pipeline: Pipeline
) -> float | None:
    """Seconds until every file is done, from the median duration of each step seen so far."""
    seen: dict[PipelineStep, list[float]] = {}
    for track in tracks:
        for step, ended in track.step_finished.items():
            began = track.step_started.get(step)
            if began is not None and ended >= began:
                seen.setdefault(step, []).append((ended - began).total_seconds())
    if not seen:
        return None
    typical = {step: median(values) for step, values in seen.items()}
    fallback = median([d for values in seen.values() for d in values])
    needed = [s for s in pipeline.steps if s in pipeline.needed]
    left = 0.0
    for track, row in zip(tracks, rows, strict=True):
        if row.status.terminal:
            continue
        for step in needed:
            if step not in track.completed:
                left += typical.get(step, fallback) * (1.0 - track.progress.get(step, 0.0))
    running = sum(1 for row in rows if row.status is FileStatus.PROCESSING)
    return left / max(running, 1)


def _current(tracks: Sequence[FileTrack], rows: Sequence[FileRow]) -> FileRow | None:
    moving = [
        (track.last_moved_at, -row.index, row)
        for track, row in zip(tracks, rows, strict=True)
        if row.status is FileStatus.PROCESSING and track.last_moved_at is not None
    ]
    return max(moving, key=lambda item: (item[0], item[1]))[2] if moving else None


def take_snapshot(
    tracks: Sequence[FileTrack],
    pipeline: Pipeline,
    *,
    run_id: str,
    version: int,
    started: datetime,
    as_of: datetime,
    weights: Mapping[PipelineStep, float] = STEP_WEIGHTS,
) -> RunSnapshot:
    """The run's totals and rows, built from the tracks in one pass."""
    rows = tuple(_file_row(track, pipeline, weights) for track in tracks)
    counts = Counter(row.status for row in rows)
    current = _current(tracks, rows)
    done = counts[FileStatus.COMPLETED] + counts[FileStatus.FAILED]
    sending = [t for t in tracks if t.rejection is None]
    return RunSnapshot(
        run_id=run_id,
        version=version,
        as_of=as_of,
        total=len(rows),
        completed=counts[FileStatus.COMPLETED],
        failed=counts[FileStatus.FAILED],
        done=done,
        active=sum(counts[s] for s in _ACTIVE),
        pending=sum(counts[s] for s in _WAITING),
        stalled=sum(1 for row in rows if row.stalled),
        progress=sum(row.progress for row in rows) / len(rows) if rows else 1.0,
        eta_s=0.0 if done == len(rows) else estimate_eta(tracks, rows, pipeline),
        current_index=None if current is None else current.index,
        current_step=None if current is None else current.step,
        upload_sent=sum(t.upload_sent for t in sending),
        upload_total=sum(t.upload_total for t in sending),
        elapsed_s=max((as_of - started).total_seconds(), 0.0),
        all_done=done == len(rows),
        files=rows,
    )
