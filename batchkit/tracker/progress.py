"""What a view renders: a run's totals and one frozen row per file, taken in O(files).

Overall progress weighs each file equally and, within a file, each enabled step the server
reports by :data:`STEP_WEIGHTS`: a file contributes the done fraction of each step, and a
finished file (completed or failed) contributes all of its share. The story step weighs less
than images and audio because those run once per chunk of words and usually take the longest;
merge only joins clips.

The ETA is an estimate from the run's own pace: the time the work has taken so far, scaled by
the work left (``elapsed × (1 − p) / p``). It is the average rate since the first step started,
so it moves steadily instead of jumping with each step that ends, and it is None until there is
evidence to base it on: at least one step confirmed and a few percent of the work done.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final

from batchkit.contract.limits import PipelineStep
from batchkit.tracker.state import (
    STEP_ORDER,
    FileStatus,
    FileTrack,
    RunSteps,
    StepStatus,
    UploadStatus,
)
from batchkit.tracker.view import describe

__all__ = ["STEP_WEIGHTS", "FileRow", "RunSnapshot", "StepCount", "take_snapshot"]

STEP_WEIGHTS: Final[Mapping[PipelineStep, float]] = {
    PipelineStep.STORY: 1.0,
    PipelineStep.IMAGES: 2.0,
    PipelineStep.AUDIO: 2.0,
    PipelineStep.MERGE: 0.5,
}
"""Default share of each step in a file's progress."""

_ACTIVE: Final = frozenset({FileStatus.UPLOADING, FileStatus.PROCESSING})
_WAITING: Final = frozenset({FileStatus.PENDING, FileStatus.UPLOADED, FileStatus.QUEUED})
_ETA_MIN_PROGRESS: Final = 0.05
"""Below this share of the work done, the pace says too little to estimate the time left."""


@dataclass(frozen=True, slots=True)
class StepCount:
    """How many files are at each state of one step (``total``: the files of the run)."""

    completed: int
    failed: int
    running: int
    total: int


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
    steps: Mapping[PipelineStep, StepStatus]
    """Every step of the pipeline, in order, as the table's ``<step>_status`` columns say."""
    attempt: int
    """1, plus one per regeneration or retry."""


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
    """An estimate of the seconds left (see the module docstring); None without evidence."""
    in_progress: tuple[int, ...]
    """The rows uploading or processing now, in row order."""
    upload_sent: int
    upload_total: int
    elapsed_s: float
    all_done: bool
    files: tuple[FileRow, ...]
    step_counts: Mapping[PipelineStep, StepCount]
    """Per enabled step (in pipeline order): files completed, failed and running at it."""
    unconfirmed_steps: tuple[PipelineStep, ...]
    """Enabled steps this server cannot report: they are shown ``unconfirmed``."""
    notes: tuple[str, ...]
    """Sentences for the user about what the table cannot say."""


def _file_progress(
    track: FileTrack, status: FileStatus, weights: Mapping[PipelineStep, float]
) -> float:
    if status.terminal:
        return 1.0
    lead = track.lead()
    return 0.0 if lead is None else lead.file_progress(track.steps, dict(weights))


def _file_row(track: FileTrack, weights: Mapping[PipelineStep, float]) -> FileRow:
    view = describe(track)
    status, lead = view.status, view.lead
    return FileRow(
        index=track.index,
        name=track.name,
        status=status,
        upload_status=view.upload,
        step=view.step,
        step_progress=view.step_progress,
        completed_steps=tuple(s for s in STEP_ORDER if view.steps[s] is StepStatus.COMPLETED),
        progress=_file_progress(track, status, weights),
        error=None if view.failure is None else view.failure[1],
        stalled=track.stalled and status in _ACTIVE,
        story_id=None if lead is None else lead.story_id,
        batch_id=track.batch_id,
        started_at=None if lead is None else lead.started_at,
        finished_at=view.finished_at,
        steps=MappingProxyType(view.steps),
        attempt=track.attempt,
    )


def estimate_eta(tracks: Sequence[FileTrack], progress: float, as_of: datetime) -> float | None:
    """Seconds left at the run's pace so far (see the module docstring), or None."""
    if progress >= 1.0:
        return 0.0
    starts = [s.started_at for t in tracks for s in t.stories.values() if s.started_at]
    confirmed = any(s.step_finished for t in tracks for s in t.stories.values())
    if not starts or not confirmed or progress < _ETA_MIN_PROGRESS:
        return None
    elapsed = (as_of - min(starts)).total_seconds()
    return max(elapsed * (1.0 - progress) / progress, 0.0)


def _step_counts(rows: Sequence[FileRow], steps: RunSteps) -> Mapping[PipelineStep, StepCount]:
    counts: dict[PipelineStep, StepCount] = {}
    for step in steps.enabled:
        tally = Counter(row.steps[step] for row in rows)
        counts[step] = StepCount(
            completed=tally[StepStatus.COMPLETED],
            failed=tally[StepStatus.FAILED],
            running=tally[StepStatus.RUNNING],
            total=len(rows),
        )
    return MappingProxyType(counts)


def _notes(steps: RunSteps, unconfirmed: tuple[PipelineStep, ...]) -> tuple[str, ...]:
    notes = [
        f"{step}: this server does not report the {step} step, so whether it ran cannot be "
        "confirmed; it is shown as unconfirmed"
        for step in unconfirmed
    ]
    if not steps.events_confirm:
        notes.append(
            "this server's events run ahead of its work: a step counts as completed only once "
            "the story's own record says so"
        )
    return tuple(notes)


def take_snapshot(
    tracks: Sequence[FileTrack],
    steps: RunSteps,
    *,
    run_id: str,
    version: int,
    started: datetime,
    as_of: datetime,
    weights: Mapping[PipelineStep, float] = STEP_WEIGHTS,
) -> RunSnapshot:
    """The run's totals and rows, built from the tracks in one pass."""
    rows = tuple(_file_row(track, weights) for track in tracks)
    counts = Counter(row.status for row in rows)
    done = counts[FileStatus.COMPLETED] + counts[FileStatus.FAILED]
    sending = [t for t in tracks if t.rejection is None]
    progress = sum(row.progress for row in rows) / len(rows) if rows else 1.0
    unconfirmed = tuple(s for s in steps.enabled if s not in steps.reportable)
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
        progress=progress,
        eta_s=0.0 if done == len(rows) else estimate_eta(tracks, progress, as_of),
        in_progress=tuple(row.index for row in rows if row.status in _ACTIVE),
        upload_sent=sum(t.upload_sent for t in sending),
        upload_total=sum(t.upload_total for t in sending),
        elapsed_s=max((as_of - started).total_seconds(), 0.0),
        all_done=done == len(rows),
        files=rows,
        step_counts=_step_counts(rows, steps),
        unconfirmed_steps=unconfirmed,
        notes=_notes(steps, unconfirmed),
    )
