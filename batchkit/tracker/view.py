"""One file as the views show it, derived from its track once per change.

The table's row (:mod:`~batchkit.tracker.frame`) and the snapshot's row
(:mod:`~batchkit.tracker.progress`) are both made from one :class:`FileView`, so they cannot
disagree, and the derivation (the file's status by :data:`~batchkit.tracker.machine.FILE_RULES`,
the story it shows, each step as :data:`~batchkit.tracker.machine.SHOWN` says) runs once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from batchkit.contract.limits import PipelineStep
from batchkit.tracker.machine import Evidence, FileOutcome, shown_step_status
from batchkit.tracker.state import (
    ERROR_BATCH,
    ERROR_SILENT,
    ERROR_STOPPED,
    STEP_ORDER,
    FileStatus,
    FileTrack,
    StepStatus,
    StoryTrack,
    UploadStatus,
)

__all__ = ["FileView", "describe"]

_OUTCOME: Final = {
    FileStatus.COMPLETED: FileOutcome.COMPLETED,
    FileStatus.FAILED: FileOutcome.FAILED,
}
_STEP_VALUES: Final = frozenset(step.value for step in STEP_ORDER)


@dataclass(frozen=True, slots=True)
class FileView:
    """What a view shows of one file."""

    status: FileStatus
    upload: UploadStatus
    lead: StoryTrack | None
    """The story the row follows (a completed one among duplicates), if any."""
    failure: tuple[str, str, datetime] | None
    """(what failed: a step, ``rejected``, ``upload``, ``file`` or a soft reason; message; when)."""
    steps: dict[PipelineStep, StepStatus]
    """Every step of the pipeline, in order."""
    step: PipelineStep | None
    """The step under way, or the one that failed."""
    step_progress: float | None
    finished_at: datetime | None


def describe(track: FileTrack) -> FileView:
    """``track`` as the views show it."""
    status = track.status()
    lead = track.lead()
    failure = _failure(track, lead)
    step = _shown_step(track, lead, status, failure)
    return FileView(
        status=status,
        upload=_upload(track),
        lead=lead,
        failure=failure,
        steps=_steps(track, lead, status),
        step=step,
        step_progress=_step_progress(lead, status, step),
        finished_at=_finished_at(track, status, failure),
    )


def _failure(track: FileTrack, lead: StoryTrack | None) -> tuple[str, str, datetime] | None:
    if track.rejection is not None:
        return ("rejected", track.rejection, track.planned_at)
    if track.upload_failed and track.upload_error is not None:
        return ("upload", *track.upload_error)
    if track.completed():
        return None
    if lead is not None and track.every_story_failed():
        return lead.failure(track.steps)
    for key in (ERROR_BATCH, ERROR_STOPPED, ERROR_SILENT):
        if key in track.soft_errors:
            return (key, *track.soft_errors[key])
    return None


def _steps(
    track: FileTrack, lead: StoryTrack | None, status: FileStatus
) -> dict[PipelineStep, StepStatus]:
    outcome = _OUTCOME.get(status, FileOutcome.RUNNING)
    enabled, reportable = track.steps.enabled, track.steps.reportable
    # The server said the whole story (or batch, without generation) completed.
    whole = track.records_done_at is not None or (
        lead is not None and lead.done_by_server is not None
    )
    shown: dict[PipelineStep, StepStatus] = {}
    for step in STEP_ORDER:
        on = step in enabled
        evidence = Evidence.NONE if lead is None else lead.step_evidence(step)
        if whole and on:
            evidence = Evidence.CONFIRMED
        shown[step] = shown_step_status(
            evidence, outcome, enabled=on, reportable=step in reportable
        )
    return shown


def _upload(track: FileTrack) -> UploadStatus:
    if track.rejection is not None:
        return UploadStatus.REJECTED
    if track.uploaded or track.batch_id is not None:
        return UploadStatus.UPLOADED
    if track.upload_error is not None:
        return UploadStatus.FAILED
    if track.upload_sent > 0:
        return UploadStatus.UPLOADING
    return UploadStatus.PENDING


def _shown_step(
    track: FileTrack,
    lead: StoryTrack | None,
    status: FileStatus,
    failure: tuple[str, str, datetime] | None,
) -> PipelineStep | None:
    if lead is None or status not in (FileStatus.PROCESSING, FileStatus.FAILED):
        return None
    if status is FileStatus.FAILED and failure is not None and failure[0] in _STEP_VALUES:
        return PipelineStep(failure[0])
    for step in track.steps.enabled:
        if lead.step_evidence(step) is not Evidence.CONFIRMED:
            return step if lead.evidence or status is FileStatus.PROCESSING else None
    return None


def _step_progress(
    lead: StoryTrack | None, status: FileStatus, step: PipelineStep | None
) -> float | None:
    if status is FileStatus.COMPLETED:
        return 1.0
    if step is None or lead is None:
        return None
    return lead.progress.get(step, 0.0)


def _finished_at(
    track: FileTrack, status: FileStatus, failure: tuple[str, str, datetime] | None
) -> datetime | None:
    if status is FileStatus.FAILED:
        return None if failure is None else failure[2]
    if status is not FileStatus.COMPLETED:
        return None
    story = track.completed_story()
    if story is not None:
        return story.finished_at(track.steps)
    return track.records_done_at
