"""What the tracker knows about one file and its stories, kept in plain Python between facts.

:class:`FileTrack` (one row) and :class:`StoryTrack` (one story record of the row's current
attempt) are the fold's working state: mutable on purpose, because they change on every event
and the fold must stay far cheaper than a DataFrame write. Everything a user sees is *derived*
from them by the tables of :mod:`batchkit.tracker.machine`, and within an attempt every part
only grows: evidence moves up :data:`~batchkit.tracker.machine.STEP_TRANSITIONS`, progress is a
maximum, first and last times are minimum and maximum. That is why the order in which facts
arrive does not change what they fold to.

A row usually has one story. Production can make several for one file (a crashed batch worker
is retried and creates the records again, contract §7.7): they all belong to the row, and the
row follows the one that completes (:meth:`FileTrack.lead`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from batchkit.contract.limits import PipelineStep
from batchkit.tracker.machine import (
    STEP_TRANSITIONS,
    Evidence,
    FileStatus,
    StepStatus,
    file_status,
)

if TYPE_CHECKING:
    from batchkit.tracker.pipeline import StoryEvent

__all__ = [
    "STEP_ORDER",
    "BatchTrack",
    "FileStatus",
    "FileTrack",
    "Outcome",
    "RunSteps",
    "StepStatus",
    "StoryTrack",
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

HISTORY_KEPT: Final = 64
"""Events of a story's attempt kept for a regeneration's late start. Each is a model kept alive
until it falls out: with 512 kept, a burst of progress events folded ~4-7 % slower in a tight
loop than with 32-64 (freeing a model long after it was made finds it out of the cache)."""

# Why a file failed when no step of its story did (the keys of FileTrack.soft_errors). Each is
# "soft": a story of the file that completed outranks it.
ERROR_BATCH: Final = "batch"
"""Its batch could not be created, or the server says the batch failed."""
ERROR_STOPPED: Final = "stopped"
"""The run stopped following it (the server lost the batch, or refused our credentials)."""
ERROR_SILENT: Final = "silent"
"""No word from the server for ``give_up_after`` seconds: failed until news arrives."""


def step_named(name: str | None) -> PipelineStep | None:
    """The step a server's step name means (``story_generation`` is the story step), or None."""
    if not name:
        return None
    return _STEP_NAMES.get(name) or _STEP_NAMES.get(name.lower())


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
    BUFFERED = "buffered"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class RunSteps:
    """The run's enabled steps in pipeline order, and which of them the server can report."""

    enabled: tuple[PipelineStep, ...]
    reportable: frozenset[PipelineStep]
    events_confirm: bool
    """The server's events confirm the work they report (reference); else they only claim it."""
    needed: tuple[PipelineStep, ...] = field(init=False)
    """The steps a story must have confirmed to be done (asked for on every event: kept)."""

    def __post_init__(self) -> None:
        needed = tuple(s for s in self.enabled if s in self.reportable)
        object.__setattr__(self, "needed", needed)


@dataclass(slots=True, eq=False)
class BatchTrack:
    """One batch of the run: its rows in input order, and what the server said of it."""

    batch_id: str
    rows: tuple[int, ...]
    job_id: str | None
    state: str = "created"
    error: str | None = None
    story_ids: tuple[str, ...] = ()
    """Every story id the server listed for this batch, duplicates included."""
    failed_since: datetime | None = None
    """When a ``failed`` status was first seen with no sign of a retry since (production)."""


def _earliest(current: datetime | None, moment: datetime) -> bool:
    return current is None or moment < current


@dataclass(slots=True, eq=False)
class StoryTrack:
    """One story record, in its current attempt: what is known of each step."""

    story_id: str
    order: int
    """When its row learnt it, among the row's stories: the first wins ties."""
    evidence: dict[PipelineStep, Evidence] = field(default_factory=dict)
    step_errors: dict[PipelineStep, tuple[str, datetime]] = field(default_factory=dict)
    verdict: tuple[str, datetime] | None = None
    """The server's own word that the story failed, without naming a step."""
    done_by_server: datetime | None = None
    """When the server's record said the whole story completed."""
    record_created_at: datetime | None = None
    progress: dict[PipelineStep, float] = field(default_factory=dict)
    step_started: dict[PipelineStep, datetime] = field(default_factory=dict)
    step_finished: dict[PipelineStep, datetime] = field(default_factory=dict)
    chunks: dict[PipelineStep, int] = field(default_factory=dict)
    first_seen: dict[PipelineStep, datetime] = field(default_factory=dict)
    """The server's time of the first event showing each step under way in this attempt."""
    started_at: datetime | None = None
    updated_at: datetime | None = None
    """The newest REST ``updatedAt`` seen: a newer one is news from the server."""
    attempt_seq: int | None = None
    attempt_ts: datetime | None = None
    high_seq: int | None = None
    high_ts: datetime | None = None
    history: deque[tuple[datetime, StoryEvent]] = field(
        default_factory=lambda: deque(maxlen=HISTORY_KEPT)
    )
    """The attempt's latest events, re-applied when a regeneration's start arrives after some
    of its own events. Bounded (:data:`HISTORY_KEPT`): socket.io keeps order on a connection,
    so such reordering is a few events deep, and an unbounded history made the garbage
    collector walk every event."""

    # ------------------------------------------------------------ updates (each says if it changed)
    def raise_evidence(self, step: PipelineStep, evidence: Evidence, at: datetime) -> bool:
        """Move ``step`` along :data:`STEP_TRANSITIONS`; record when it started or ended."""
        now = self.evidence.get(step, Evidence.NONE)
        after = STEP_TRANSITIONS[(now, evidence)]
        changed = after is not now
        if changed:
            self.evidence[step] = after
        if evidence is Evidence.STARTED:  # seen under way (an ended step may have begun earlier)
            changed = self._mark_started(step, at) or changed
        elif step not in self.progress:
            self.progress[step] = 0.0
        # Only the server's confirmation ends a step: a claim (production's "complete", sent
        # when the next job is queued) is not a finish time.
        if evidence is Evidence.CONFIRMED:
            if self.progress.get(step, 0.0) < 1.0:
                self.progress[step] = 1.0
                changed = True
            if _earliest(self.step_finished.get(step), at):
                self.step_finished[step] = at
                changed = True
        return changed

    def _mark_started(self, step: PipelineStep, at: datetime) -> bool:
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
        fraction = min(max(fraction, 0.0), 1.0)
        if fraction <= self.progress.get(step, -1.0):
            return False
        self.progress[step] = fraction
        return True

    def mark_step_error(self, step: PipelineStep, message: str, at: datetime) -> bool:
        changed = self.raise_evidence(step, Evidence.FAILED, at)
        if step not in self.step_errors:
            self.step_errors[step] = (message, at)
            changed = True
        return changed

    def mark_verdict(self, message: str, at: datetime) -> bool:
        if self.verdict is not None:
            return False
        self.verdict = (message, at)
        return True

    def mark_done_by_server(self, at: datetime) -> bool:
        if not _earliest(self.done_by_server, at):
            return False
        self.done_by_server = at
        return True

    def mark_record(self, at: datetime) -> bool:
        if _earliest(self.record_created_at, at):
            self.record_created_at = at
            return True
        return False

    def see(self, seq: int | None, server_time: datetime | None) -> None:
        """Remember the newest ``seq`` and server time seen in this attempt."""
        if seq is not None and (self.high_seq is None or seq > self.high_seq):
            self.high_seq = seq
        if server_time is not None and (self.high_ts is None or server_time > self.high_ts):
            self.high_ts = server_time

    def fresh_attempt(self, seq: int | None, server_time: datetime | None) -> StoryTrack:
        """The same story run again from nothing (a regeneration), after ``seq``/``ts``."""
        return StoryTrack(self.story_id, self.order, attempt_seq=seq, attempt_ts=server_time)

    # ------------------------------------------------------------ derived
    def step_evidence(self, step: PipelineStep) -> Evidence:
        return self.evidence.get(step, Evidence.NONE)

    def confirmed(self, steps: RunSteps) -> bool:
        """Every reportable enabled step confirmed (or the server says the story completed)."""
        if self.done_by_server is not None:
            return True
        needed = steps.needed
        if not needed:
            return self.record_created_at is not None
        return all(self.evidence.get(s) is Evidence.CONFIRMED for s in needed)

    def failure(self, steps: RunSteps) -> tuple[str, str, datetime] | None:
        """Why this story failed, as (step or ``file``, message, when), or None."""
        if self.done_by_server is not None:
            return None
        for step in steps.enabled:
            if self.evidence.get(step) is Evidence.FAILED and step in self.step_errors:
                return (step.value, *self.step_errors[step])
        if self.verdict is not None and not self.confirmed(steps):
            return ("file", *self.verdict)
        return None

    def finished_at(self, steps: RunSteps) -> datetime | None:
        """When the last needed step was confirmed (or the server said it completed)."""
        ends = [self.step_finished[s] for s in steps.needed if s in self.step_finished]
        if self.done_by_server is not None:
            ends.append(self.done_by_server)
        if not steps.needed and self.record_created_at is not None:
            ends.append(self.record_created_at)
        return max(ends) if ends else None

    def file_progress(self, steps: RunSteps, weights: dict[PipelineStep, float]) -> float:
        total = sum(weights[s] for s in steps.needed)
        if not total:
            return 0.0
        done = sum(weights[s] * self.progress.get(s, 0.0) for s in steps.needed)
        return done / total


@dataclass(slots=True, eq=False)
class FileTrack:
    """The fold's state of one file (one row of the table)."""

    index: int
    name: str
    size: int
    steps: RunSteps
    planned_at: datetime
    rejection: str | None = None
    batch_id: str | None = None
    batch_index: int | None = None
    file_url: str | None = None
    upload_sent: int = 0
    upload_total: int = 0
    uploaded: bool = False
    upload_error: tuple[str, datetime] | None = None
    attempt: int = 1
    """1 for the first attempt, one more for each regeneration or retry."""
    stories: dict[str, StoryTrack] = field(default_factory=dict)
    """This attempt's stories by id, in the order they were learnt."""
    previous: StoryTrack | None = None
    """The story as it was before a regeneration that may still be undone."""
    soft_errors: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    records_done_at: datetime | None = None
    """A batch without generation completed: its records exist, which is all it makes."""
    last_event_at: datetime | None = None
    last_moved_at: datetime | None = None
    last_news_at: datetime | None = None
    stalled: bool = False

    # ------------------------------------------------------------ what the rules read
    @property
    def silenced(self) -> bool:
        """Failed only because the server went silent about it: news can still revive it."""
        return ERROR_SILENT in self.soft_errors

    @property
    def upload_failed(self) -> bool:
        return self.upload_error is not None and not self.uploaded

    def completed_story(self) -> StoryTrack | None:
        """The first story of this attempt that completed, if any."""
        for story in self.stories.values():
            if story.confirmed(self.steps):
                return story
        return None

    def completed(self) -> bool:
        return self.records_done_at is not None or self.completed_story() is not None

    def every_story_failed(self) -> bool:
        stories = self.stories.values()
        return bool(stories) and all(s.failure(self.steps) is not None for s in stories)

    def any_evidence(self) -> bool:
        return any(story.evidence for story in self.stories.values())

    # ------------------------------------------------------------ updates
    def heard(self, at: datetime) -> None:
        """News about this file at ``at``: the server is still working on it."""
        if self.last_news_at is None or at > self.last_news_at:
            self.last_news_at = at
        self.soft_errors.pop(ERROR_SILENT, None)

    def moved(self, at: datetime) -> None:
        """The file made progress at ``at``: it is not stalled any more (and it is news)."""
        if self.last_moved_at is None or at > self.last_moved_at:
            self.last_moved_at = at
        self.stalled = False
        self.heard(at)

    def touch(self, at: datetime) -> bool:
        if self.last_event_at is None or at > self.last_event_at:
            self.last_event_at = at
            return True
        return False

    def mark_soft_error(self, key: str, message: str, at: datetime) -> bool:
        if key in self.soft_errors:
            return False
        self.soft_errors[key] = (message, at)
        return True

    def regenerate(
        self, story_id: str, seq: int | None, server_time: datetime | None, *, undoable: bool
    ) -> StoryTrack:
        """A new attempt of story ``story_id`` (a regeneration), after ``seq``/``server_time``.

        The row keeps only that story (a duplicate is not regenerated). ``undoable``: keep the
        story as it was, so :meth:`undo_regenerate` can put it back if the request fails.
        """
        old = self.stories[story_id]
        fresh = old.fresh_attempt(seq, server_time)
        self.stories = {story_id: fresh}
        self.previous = old if undoable else None
        self.attempt += 1
        self.soft_errors.clear()
        self.stalled = False
        return fresh

    def undo_regenerate(self) -> bool:
        """Put back the story a failed regeneration request replaced."""
        old = self.previous
        if old is None:
            return False
        self.stories = {old.story_id: old}
        self.previous = None
        self.attempt -= 1
        return True

    def start_attempt(self) -> None:
        """Begin a new attempt (a retry in a new batch): forget this attempt's stories."""
        self.attempt += 1
        self.stories = {}
        self.previous = None
        self.soft_errors.clear()
        self.records_done_at = None
        self.stalled = False

    # ------------------------------------------------------------ derived, for the views
    def status(self) -> FileStatus:
        return file_status(self)

    def lead(self) -> StoryTrack | None:
        """The story the row shows: a completed one, else the one furthest along."""
        if not self.stories:
            return None
        done = self.completed_story()
        if done is not None:
            return done
        alive = [s for s in self.stories.values() if s.failure(self.steps) is None]
        pool = alive or list(self.stories.values())
        return max(pool, key=lambda s: (len(s.evidence), sum(s.progress.values()), -s.order))
