"""What the tracker knows about one file, kept in plain Python between facts.

:class:`FileTrack` is the fold's working state: mutable on purpose, because it changes on every
event and the fold must stay far cheaper than a DataFrame write. Everything a user sees (the
table, the snapshot) is *derived* from it, and every part of it only grows: sets are unions,
progress is a maximum, first and last times are minimum and maximum. That is why the order in
which facts arrive does not change what they fold to.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from batchkit.contract.limits import PipelineStep

if TYPE_CHECKING:
    from batchkit.tracker.facts import EventFact

__all__ = [
    "STEP_ORDER",
    "BatchTrack",
    "FileStatus",
    "FileTrack",
    "Outcome",
    "UploadStatus",
    "step_named",
]

STEP_ORDER: Final = tuple(PipelineStep)
"""The steps of a story's pipeline, in the order they run."""

_STEP_NAMES: Final = {
    "story": PipelineStep.STORY,
    "story_generation": PipelineStep.STORY,
    "story-generation": PipelineStep.STORY,
    "image": PipelineStep.IMAGES,
    "images": PipelineStep.IMAGES,
    "image_generation": PipelineStep.IMAGES,
    "audio": PipelineStep.AUDIO,
    "audio_generation": PipelineStep.AUDIO,
    "merge": PipelineStep.MERGE,
    "merge_audio": PipelineStep.MERGE,
    "audio_merge": PipelineStep.MERGE,
}

# Error keys that are not steps. A "batch" error (the batch failed around the file) is soft: it
# does not undo a file that finished its own pipeline. The others are final.
ERROR_REJECTED: Final = "rejected"
ERROR_UPLOAD: Final = "upload"
ERROR_FILE: Final = "file"
ERROR_BATCH: Final = "batch"
HISTORY_KEPT: Final = 512
ERROR_SILENT: Final = "silent"
"""No word from the server for ``give_up_after`` seconds: failed until news arrives."""
_HARD_ERROR_ORDER: Final = (ERROR_REJECTED, ERROR_UPLOAD, ERROR_FILE, *STEP_ORDER)


def step_named(name: str | None) -> PipelineStep | None:
    """The step a server's step name means (``story_generation`` is the story step), or None."""
    if not name:
        return None
    return _STEP_NAMES.get(name) or _STEP_NAMES.get(name.lower())


class FileStatus(StrEnum):
    """Where one file is, from planned to finished."""

    PENDING = "pending"
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL: Final = frozenset({FileStatus.COMPLETED, FileStatus.FAILED})


class UploadStatus(StrEnum):
    """Where one file's upload is."""

    PENDING = "pending"
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    FAILED = "failed"
    REJECTED = "rejected"


class Outcome(StrEnum):
    """What one fact did to the fold."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"
    BUFFERED = "buffered"
    STALE = "stale"


@dataclass(slots=True, eq=False)
class BatchTrack:
    """One batch of the run: its rows in input order, and what the server said of it."""

    batch_id: str
    rows: tuple[int, ...]
    job_id: str | None
    state: str = "created"
    error: str | None = None


def _earliest(current: datetime | None, moment: datetime) -> bool:
    return current is None or moment < current


@dataclass(slots=True, eq=False)
class FileTrack:
    """The fold's state of one file (see the module docstring for why it is mutable)."""

    index: int
    name: str
    size: int
    rejection: str | None = None
    batch_id: str | None = None
    batch_index: int | None = None
    file_url: str | None = None
    story_id: str | None = None
    upload_sent: int = 0
    upload_total: int = 0
    uploaded: bool = False
    record_created_at: datetime | None = None
    done_by_server: bool = False
    done_at: datetime | None = None
    errors: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    completed: set[PipelineStep] = field(default_factory=set)
    progress: dict[PipelineStep, float] = field(default_factory=dict)
    step_started: dict[PipelineStep, datetime] = field(default_factory=dict)
    step_finished: dict[PipelineStep, datetime] = field(default_factory=dict)
    chunks: dict[PipelineStep, int] = field(default_factory=dict)
    started_at: datetime | None = None
    last_event_at: datetime | None = None
    last_moved_at: datetime | None = None
    stalled: bool = False
    # Regeneration: which attempt this is, where it began, and the newest facts seen in it.
    attempt: int = 0
    attempt_seq: int | None = None
    attempt_ts: datetime | None = None
    high_seq: int | None = None
    high_ts: datetime | None = None
    history: deque[EventFact] = field(default_factory=lambda: deque(maxlen=HISTORY_KEPT))
    """The attempt's latest events, re-applied when a regeneration's start arrives after some
    of its own events. Bounded: socket.io keeps order on a connection, so such reordering is a
    few events deep, and an unbounded history made the garbage collector walk every event."""

    # ------------------------------------------------------------ updates (each says if it changed)
    def mark_started(self, step: PipelineStep, at: datetime) -> bool:
        changed = step not in self.progress
        if changed:
            self.progress[step] = 0.0
        if _earliest(self.step_started.get(step), at):
            self.step_started[step] = at
            changed = True
        if _earliest(self.started_at, at):
            self.started_at = at
            changed = True
        return changed

    def mark_progress(self, step: PipelineStep, fraction: float) -> bool:
        if fraction > 1.0:
            fraction = 1.0
        elif fraction < 0.0:
            fraction = 0.0
        if fraction <= self.progress.get(step, -1.0):
            return False
        self.progress[step] = fraction
        return True

    def mark_completed(self, step: PipelineStep, at: datetime) -> bool:
        changed = step not in self.completed
        self.completed.add(step)
        if _earliest(self.step_finished.get(step), at):
            self.step_finished[step] = at
            changed = True
        return changed

    def mark_error(self, key: str, message: str, at: datetime) -> bool:
        if key in self.errors:
            return False
        self.errors[key] = (message, at)
        return True

    def mark_record(self, at: datetime) -> bool:
        """The server has created the file's story record (seen at ``at``)."""
        if _earliest(self.record_created_at, at):
            self.record_created_at = at
            return True
        return False

    def mark_done_by_server(self, at: datetime) -> bool:
        changed = not self.done_by_server
        self.done_by_server = True
        if _earliest(self.done_at, at):
            self.done_at = at
            changed = True
        return changed

    def touch(self, at: datetime) -> None:
        if self.last_event_at is None or at > self.last_event_at:
            self.last_event_at = at

    def moved(self, at: datetime) -> None:
        """The file made progress at ``at``: it is not stalled any more."""
        if self.last_moved_at is None or at > self.last_moved_at:
            self.last_moved_at = at
        self.stalled = False
        self.errors.pop(ERROR_SILENT, None)  # it was not dead after all

    def see(self, seq: int | None, server_time: datetime | None) -> None:
        """Remember the newest ``seq`` and server time seen in this attempt."""
        if seq is not None and (self.high_seq is None or seq > self.high_seq):
            self.high_seq = seq
        if server_time is not None and (self.high_ts is None or server_time > self.high_ts):
            self.high_ts = server_time

    def restart(self, seq: int | None, server_time: datetime | None) -> None:
        """Begin a new attempt (a regeneration): forget the pipeline, keep the file."""
        for key in [k for k in self.errors if k not in (ERROR_REJECTED, ERROR_UPLOAD)]:
            del self.errors[key]
        self.completed.clear()
        self.progress.clear()
        self.step_started.clear()
        self.step_finished.clear()
        self.chunks.clear()
        self.done_by_server = False
        self.done_at = None
        self.started_at = None
        self.stalled = False
        self.attempt += 1
        self.attempt_seq = seq
        self.attempt_ts = server_time
        self.history.clear()

    # ------------------------------------------------------------ derived
    def finished_steps(self, needed: frozenset[PipelineStep]) -> bool:
        """True when the pipeline has nothing left that the server can report."""
        if self.done_by_server:
            return True
        if needed:
            return needed <= self.completed
        return self.record_created_at is not None

    def failure(self, needed: frozenset[PipelineStep]) -> tuple[str, str, datetime] | None:
        """The error that fails this file as (what failed, message, when), or None.

        What failed is a step's name, or ``rejected``, ``upload``, ``file`` or ``batch``.
        """
        if not self.errors:
            return None  # the usual case, asked for on every event
        for key in _HARD_ERROR_ORDER:
            found = self.errors.get(key)
            if found is None or key in self.completed:
                continue
            if key == ERROR_UPLOAD and self.uploaded:
                continue  # a retried upload succeeded
            return (key, *found)
        for soft in (ERROR_BATCH, ERROR_SILENT):
            if soft in self.errors and not self.finished_steps(needed):
                return (soft, *self.errors[soft])
        return None

    def status(self, needed: frozenset[PipelineStep]) -> FileStatus:
        if self.failure(needed) is not None:
            return FileStatus.FAILED
        if self.finished_steps(needed):
            return FileStatus.COMPLETED
        if self.progress or self.completed:
            return FileStatus.PROCESSING
        if self.batch_id is not None:
            return FileStatus.QUEUED
        if self.uploaded:
            return FileStatus.UPLOADED
        if self.upload_sent > 0:
            return FileStatus.UPLOADING
        return FileStatus.PENDING

    def upload_status(self) -> UploadStatus:
        if self.rejection is not None:
            return UploadStatus.REJECTED
        if self.uploaded or self.batch_id is not None:
            return UploadStatus.UPLOADED
        if ERROR_UPLOAD in self.errors:
            return UploadStatus.FAILED
        if self.upload_sent > 0:
            return UploadStatus.UPLOADING
        return UploadStatus.PENDING

    def finished_at(self, status: FileStatus, needed: frozenset[PipelineStep]) -> datetime | None:
        """When the file became terminal, as far as the facts say."""
        if status is FileStatus.FAILED:
            failure = self.failure(needed)
            return None if failure is None else failure[2]
        if status is not FileStatus.COMPLETED:
            return None
        if needed and needed <= self.completed:
            return max(self.step_finished[step] for step in needed)
        return self.done_at or self.record_created_at

    def current_step(self, steps: tuple[PipelineStep, ...]) -> PipelineStep | None:
        """The first enabled step not yet completed (what the file is doing or waits for)."""
        for step in steps:
            if step not in self.completed:
                return step
        return None

    def shown_step(
        self, status: FileStatus, steps: tuple[PipelineStep, ...], needed: frozenset[PipelineStep]
    ) -> PipelineStep | None:
        """The step to show: the one running, or the one that failed; None otherwise."""
        if status is FileStatus.PROCESSING:
            return self.current_step(steps)
        if status is not FileStatus.FAILED:
            return None
        failure = self.failure(needed)
        if failure is not None and failure[0] in STEP_ORDER:
            return PipelineStep(failure[0])
        return self.current_step(steps) if self.progress or self.completed else None

    def shown_progress(self, status: FileStatus, step: PipelineStep | None) -> float | None:
        """The done fraction of the shown step (1.0 once the file is completed)."""
        if status is FileStatus.COMPLETED:
            return 1.0
        return None if step is None else self.progress.get(step, 0.0)
