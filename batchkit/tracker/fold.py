"""The fold: routes each fact to the files it is about.

:class:`Fold` holds one :class:`~batchkit.tracker.state.FileTrack` per planned file and finds the
row a fact concerns: by index (upload facts), by batch id and position in the batch (batch
facts), or by story id (story-room events, story snapshots). Story ids are placed on rows from
``batch-stories-progress`` (EXT ``storyId`` + 1-based ``currentStory``), from a batch status
(EXT ``results[i].storyId``; else, on a server that never makes a story twice, ``storyIds`` in
input order) and, on production, whose crash retries make duplicate stories (§7.7), from the
story itself: the row whose file the story was made from. A fact about a story or batch the fold
cannot place yet is kept and folded when the placement arrives, so events that beat the REST
snapshot are not lost.

Every fact folds idempotently (evidence only grows, see :mod:`batchkit.tracker.machine`), so a
repeated event changes nothing and needs no check of its own; the event stream drops
re-deliveries by ``seq`` before they get here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from batchkit.contract.events import (
    JoinedBatchRoom,
    JoinedStoryRoom,
    ServerEvent,
)
from batchkit.contract.limits import BatchState
from batchkit.contract.rest import StoryResponse
from batchkit.errors import RunError
from batchkit.tracker.batch_facts import BATCH_EVENTS, BatchFacts
from batchkit.tracker.facts import (
    BatchCreatedFact,
    BatchFailedFact,
    EventFact,
    Fact,
    FilesPlanned,
    FollowStoppedFact,
    RegenerateFact,
    RegenerateUndoneFact,
    RetryFact,
    StatusFact,
    StoryFact,
    TickFact,
    UploadedFact,
    UploadFailedFact,
    UploadProgressFact,
)
from batchkit.tracker.pipeline import STORY_EVENTS, Pipeline, StoryEvent
from batchkit.tracker.state import (
    ERROR_BATCH,
    ERROR_SILENT,
    ERROR_STOPPED,
    STEP_ORDER,
    BatchTrack,
    FileStatus,
    FileTrack,
    Outcome,
    RunSteps,
    StoryTrack,
)

__all__ = ["Fold"]

_STALLABLE: Final = frozenset({FileStatus.UPLOADING, FileStatus.PROCESSING})


def _same_file(a: str, b: str) -> bool:
    """Two references to one uploaded file (a full URL, or the stored path alone)."""
    return a == b or urlsplit(a).path.lstrip("/") == urlsplit(b).path.lstrip("/")


class Fold(BatchFacts):
    """Folds facts into per-file tracks; ``dirty`` collects the rows that changed."""

    def __init__(self, plan: FilesPlanned) -> None:
        self.plan = plan
        enabled = tuple(s for s in STEP_ORDER if s in plan.steps)
        self.steps = RunSteps(
            enabled, frozenset(plan.reportable_steps) & frozenset(enabled), plan.events_confirm
        )
        self.pipeline = Pipeline(self.steps)
        self.tracks = [
            FileTrack(
                i,
                f.name,
                f.size,
                self.steps,
                plan.received_at,
                rejection=f.rejection,
                upload_total=f.size,
            )
            for i, f in enumerate(plan.files)
        ]
        self.batches: dict[str, BatchTrack] = {}
        self.rows_by_story: dict[str, int] = {}
        """Story id → row, for the stories of every row's current attempt."""
        self.retired: set[str] = set()
        """Stories of earlier attempts (a retry, a duplicate left behind): their facts are stale."""
        self.dirty: set[int] = set()
        self.latest: datetime = plan.received_at
        self.row: int | None = None
        """The row the last fact was about, when it was about one."""
        self._waiting_for_story: dict[str, list[Fact]] = {}
        self._waiting_for_batch: dict[str, list[Fact]] = {}
        self._on_fact: dict[type[Any], Callable[[Any], Outcome]] = {
            StatusFact: self._status_fact,
            StoryFact: self._story_fact,
            UploadProgressFact: self._upload_progress,
            UploadedFact: self._uploaded,
            UploadFailedFact: self._upload_failed,
            BatchCreatedFact: self._batch_created,
            BatchFailedFact: self._batch_failed,
            RegenerateFact: self._regenerate,
            RegenerateUndoneFact: self._regenerate_undone,
            RetryFact: self._retry,
            FollowStoppedFact: self._follow_stopped,
            TickFact: self._tick,
        }

    def apply(self, fact: Fact) -> Outcome:
        """Fold one fact. Raises :class:`RunError` for a fact about a file the run lacks."""
        if type(fact) is EventFact:
            return self.apply_event(fact.event, fact.received_at)
        self.row = None
        if fact.received_at > self.latest:
            self.latest = fact.received_at
        if isinstance(fact, FilesPlanned):
            raise RunError("a run's files are planned once, when the run is made")
        return self._on_fact[type(fact)](fact)

    def apply_event(self, event: ServerEvent, received_at: datetime) -> Outcome:
        """Fold one socket event received at ``received_at`` (the same as its fact).

        The hot path: a story's event goes straight to its file, with no fact built for it.
        """
        self.row = None
        if received_at > self.latest:
            self.latest = received_at
        if isinstance(event, STORY_EVENTS):
            return self._story_event(event, received_at)
        return self._route_event(EventFact.model_construct(received_at=received_at, event=event))

    def status(self, row: int) -> FileStatus:
        return self.tracks[row].status()

    def unplaced_story_ids(self) -> tuple[str, ...]:
        """Stories the server listed for a batch that no row holds yet: worth reading."""
        return tuple(
            story_id
            for batch in self.batches.values()
            for story_id in batch.story_ids
            if story_id not in self.rows_by_story and story_id not in self.retired
        )

    # ------------------------------------------------------------ routing helpers
    def _track(self, index: int) -> FileTrack:
        if not 0 <= index < len(self.tracks):
            raise RunError(f"no file {index} in this run of {len(self.tracks)} files")
        self.row = index
        return self.tracks[index]

    def _changed(self, track: FileTrack, changed: bool) -> Outcome:
        if not changed:
            return Outcome.UNCHANGED
        self.dirty.add(track.index)
        return Outcome.APPLIED

    def _in_batch(self, batch: BatchTrack) -> list[FileTrack]:
        """The batch's rows whose current attempt is in this batch."""
        return [t for t in (self.tracks[r] for r in batch.rows) if t.batch_id == batch.batch_id]

    def learn_story(self, row: int, story_id: str, at: datetime) -> bool:
        """Row ``row`` has story ``story_id``; folds whatever waited for that story."""
        track = self.tracks[row]
        if story_id in self.retired:
            return False
        placed = self.rows_by_story.get(story_id)
        if placed == row:
            return self._changed(track, track.stories[story_id].mark_record(at)) is Outcome.APPLIED
        if placed is not None or (track.stories and not self.plan.retried_batches):
            return False  # the first placement wins; only production makes a file's story twice
        self.rows_by_story[story_id] = row
        track.stories[story_id] = StoryTrack(story_id, len(track.stories), record_created_at=at)
        track.heard(at)
        self.dirty.add(row)
        for waiting in self._waiting_for_story.pop(story_id, []):
            self._fold_waiting(waiting)
        return True

    def _retire(self, track: FileTrack, keep: str | None = None) -> None:
        for story_id in list(self.rows_by_story):
            if self.rows_by_story[story_id] == track.index and story_id != keep:
                del self.rows_by_story[story_id]
                self.retired.add(story_id)

    def _fold_waiting(self, fact: Fact) -> None:
        """Fold a fact that waited for its story or batch."""
        row = self.row  # the events table names the fact being folded now, not this one
        if isinstance(fact, EventFact):
            self._route_event(fact)
        else:
            self._on_fact[type(fact)](fact)
        self.row = row

    def _wait_for_story(self, story_id: str, fact: Fact) -> Outcome:
        if story_id in self.retired:
            return Outcome.STALE
        self._waiting_for_story.setdefault(story_id, []).append(fact)
        return Outcome.BUFFERED

    # ------------------------------------------------------------ events
    def _route_event(self, fact: EventFact) -> Outcome:
        event = fact.event
        if isinstance(event, STORY_EVENTS):
            return self._story_event(event, fact.received_at)
        if isinstance(event, BATCH_EVENTS):
            return self._batch_event(fact, event)
        if isinstance(event, JoinedBatchRoom):
            return self._status(fact, event.status)
        if isinstance(event, JoinedStoryRoom):
            return self._room_story(fact, event)
        return Outcome.UNCHANGED  # room replies and refusals: kept in the log only

    def _story_event(self, event: StoryEvent, at: datetime) -> Outcome:
        row = self.rows_by_story.get(event.story_id)
        if row is None:
            fact = EventFact.model_construct(received_at=at, event=event)
            return self._wait_for_story(event.story_id, fact)
        track = self._track(row)
        changed = self.pipeline.apply_event(track, event, at)
        return Outcome.STALE if changed is None else self._changed(track, changed)

    def _room_story(self, fact: EventFact, event: JoinedStoryRoom) -> Outcome:
        row = self.rows_by_story.get(event.story_id)
        if row is None:
            return self._wait_for_story(event.story_id, fact)
        track = self._track(row)
        story, at = event.story, fact.received_at
        changed = self.pipeline.apply_flags(
            track, track.stories[story.id], story.status, story.updated_at, at
        )
        return self._changed(track, changed)

    def _fail_rows(self, tracks: list[FileTrack], key: str, reason: str, at: datetime) -> bool:
        """Mark ``tracks`` that are not finished failed for ``reason`` (a soft error)."""
        changed = False
        for track in tracks:
            if not track.status().terminal and track.mark_soft_error(key, reason, at):
                self.dirty.add(track.index)
                changed = True
        return changed

    # ------------------------------------------------------------ REST snapshots
    def _story_fact(self, fact: StoryFact) -> Outcome:
        story = fact.story
        row = self.rows_by_story.get(story.id)
        if row is None:
            row = self._row_of_file(story)
            if row is None:
                return self._wait_for_story(story.id, fact)
            self.learn_story(row, story.id, fact.received_at)
        track = self._track(row)
        changed = self.pipeline.apply_flags(
            track, track.stories[story.id], story.status, story.updated_at, fact.received_at
        )
        return self._changed(track, changed)

    def _row_of_file(self, story: StoryResponse) -> int | None:
        """The row a story was made from, by its file, among its batch's current rows."""
        if not self.plan.retried_batches or story.id in self.retired:
            return None
        for batch in self.batches.values():
            if story.id in batch.story_ids:
                for track in self._in_batch(batch):
                    if track.file_url and _same_file(track.file_url, story.files.original_file):
                        return track.index
        return None

    # ------------------------------------------------------------ uploads and batches
    def _upload_progress(self, fact: UploadProgressFact) -> Outcome:
        track = self._track(fact.index)
        if track.uploaded or track.rejection is not None or fact.sent <= track.upload_sent:
            return Outcome.UNCHANGED
        track.upload_sent = fact.sent
        track.upload_total = fact.total or track.upload_total
        track.moved(fact.received_at)
        return self._changed(track, True)

    def _uploaded(self, fact: UploadedFact) -> Outcome:
        track = self._track(fact.index)
        if track.uploaded:
            return Outcome.UNCHANGED
        track.uploaded = True
        track.file_url = fact.file_url
        track.upload_sent = track.upload_total = max(track.upload_total, track.upload_sent)
        track.moved(fact.received_at)
        return self._changed(track, True)

    def _upload_failed(self, fact: UploadFailedFact) -> Outcome:
        track = self._track(fact.index)
        if track.upload_error is not None or track.uploaded:
            return Outcome.UNCHANGED
        track.upload_error = (fact.error, fact.received_at)
        return self._changed(track, True)

    def _batch_created(self, fact: BatchCreatedFact) -> Outcome:
        if fact.batch_id in self.batches:
            return Outcome.UNCHANGED
        tracks = [self._track(i) for i in fact.indices]
        self.row = None
        self.batches[fact.batch_id] = BatchTrack(fact.batch_id, fact.indices, fact.job_id)
        for position, track in enumerate(tracks):
            if track.batch_id is None:
                track.batch_id = fact.batch_id
                track.batch_index = position
                track.soft_errors.pop(ERROR_BATCH, None)  # an earlier attempt to create one failed
                track.heard(fact.received_at)  # the silence clock starts with the batch
                self.dirty.add(track.index)
        for waiting in self._waiting_for_batch.pop(fact.batch_id, []):
            self._fold_waiting(waiting)
        return Outcome.APPLIED

    def _batch_failed(self, fact: BatchFailedFact) -> Outcome:
        changed = False
        for track in [self._track(i) for i in fact.indices]:
            if track.batch_id is None or track.batch_id == fact.batch_id:
                marked = track.mark_soft_error(ERROR_BATCH, fact.error, fact.received_at)
                changed = self._changed(track, marked) is Outcome.APPLIED or changed
        self.row = fact.indices[0] if len(fact.indices) == 1 else None
        if fact.batch_id in self.batches:
            self.batches[fact.batch_id].state = BatchState.FAILED
            self.batches[fact.batch_id].error = fact.error
        return Outcome.APPLIED if changed else Outcome.UNCHANGED

    def _follow_stopped(self, fact: FollowStoppedFact) -> Outcome:
        if fact.batch_id is None:
            tracks = self.tracks
        else:
            batch = self.batches.get(fact.batch_id)
            tracks = [] if batch is None else self._in_batch(batch)
        changed = self._fail_rows(tracks, ERROR_STOPPED, fact.reason, fact.received_at)
        return Outcome.APPLIED if changed else Outcome.UNCHANGED

    # ------------------------------------------------------------ attempts
    def _regenerate(self, fact: RegenerateFact) -> Outcome:
        track = self._track(fact.index)
        lead = track.lead()
        if lead is None:
            return Outcome.UNCHANGED
        next_seq = None if lead.high_seq is None else lead.high_seq + 1
        track.regenerate(lead.story_id, next_seq, lead.high_ts or fact.received_at, undoable=True)
        self._retire(track, keep=lead.story_id)
        track.moved(fact.received_at)
        return self._changed(track, True)

    def _regenerate_undone(self, fact: RegenerateUndoneFact) -> Outcome:
        track = self._track(fact.index)
        return self._changed(track, track.undo_regenerate())

    def _retry(self, fact: RetryFact) -> Outcome:
        changed = False
        for track in [self._track(i) for i in fact.indices]:
            if track.rejection is not None:
                continue  # a refused file is refused again: nothing to retry
            self._retire(track)
            track.start_attempt()
            track.batch_id = track.batch_index = None
            if not track.uploaded:
                track.upload_error, track.upload_sent = None, 0
            track.moved(fact.received_at)
            changed = self._changed(track, True) is Outcome.APPLIED or changed
        self.row = fact.indices[0] if len(fact.indices) == 1 else None
        return Outcome.APPLIED if changed else Outcome.UNCHANGED

    # ------------------------------------------------------------ the clock
    def _tick(self, fact: TickFact) -> Outcome:
        """Deadlines: stalled files, silent files, and failed batches not run again."""
        changed = self._batch_deadlines(fact.now)
        for track in self.tracks:
            if self._give_up(track, fact.now):
                changed = self._changed(track, True) is Outcome.APPLIED or changed
            if track.stalled or track.last_moved_at is None:
                continue
            idle = (fact.now - track.last_moved_at).total_seconds()
            if idle >= self.plan.stall_timeout and track.status() in _STALLABLE:
                track.stalled = True
                changed = self._changed(track, True) is Outcome.APPLIED or changed
        return Outcome.APPLIED if changed else Outcome.UNCHANGED

    def _give_up(self, track: FileTrack, now: datetime) -> bool:
        """Fail a file the server has said nothing about for ``give_up_after`` seconds."""
        limit = self.plan.give_up_after
        if limit is None or track.batch_id is None or track.last_news_at is None:
            return False
        silent = (now - track.last_news_at).total_seconds()
        if silent < limit or ERROR_SILENT in track.soft_errors or track.status().terminal:
            return False
        reason = (
            f"no word from the server for {silent:.0f} s; the server reports a failed story "
            "only by an event, which can be missed, so its story probably failed"
        )
        return track.mark_soft_error(ERROR_SILENT, reason, now)
