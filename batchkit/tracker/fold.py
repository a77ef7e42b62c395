"""The fold: routes each fact to the files it is about.

:class:`Fold` holds one :class:`~batchkit.tracker.state.FileTrack` per planned file and finds the
row a fact concerns: by index (upload facts), by batch id and position in the batch (batch facts),
or by story id (story-room events, story snapshots). Story ids are learnt from
``batch-stories-progress`` (EXT ``storyId`` + 1-based ``currentStory``), from a batch status
(EXT ``results[i].storyId``, else ``storyIds`` in input order, the order production creates the
records in) and, for a known story, confirmed by ``joined-story-room``. A fact about a story or
batch the fold cannot place yet is kept and folded when the mapping arrives, so events that beat
the REST snapshot are not lost.

Duplicates are dropped before anything else: by room and ``seq`` when the event has a ``seq``,
by the event's whole content otherwise. The first story id learnt for a row wins: production can
create duplicate stories for one file (quirk 7) and their events are kept, not folded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from batchkit.contract.events import (
    BatchStoriesComplete,
    BatchStoriesError,
    BatchStoriesProgress,
    BatchStoriesStart,
    JoinedBatchRoom,
    JoinedStoryRoom,
    batch_room,
    story_room,
)
from batchkit.contract.limits import BatchState
from batchkit.contract.rest import BatchStatusResponse
from batchkit.errors import RunError
from batchkit.tracker.facts import (
    BatchCreatedFact,
    BatchFailedFact,
    EventFact,
    Fact,
    FilesPlanned,
    RegenerateFact,
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
    ERROR_FILE,
    ERROR_REJECTED,
    ERROR_SILENT,
    ERROR_UPLOAD,
    STEP_ORDER,
    BatchTrack,
    FileStatus,
    FileTrack,
    Outcome,
)

__all__ = ["Fold"]

_BATCH_EVENTS: Final = (
    BatchStoriesStart,
    BatchStoriesProgress,
    BatchStoriesComplete,
    BatchStoriesError,
)
BatchEvent = BatchStoriesStart | BatchStoriesProgress | BatchStoriesComplete | BatchStoriesError
_STORY_ERROR: Final = re.compile(r"^\s*Story\s+(\d+)\s*:\s*(.*)$", re.S)
_STALLABLE: Final = frozenset({FileStatus.UPLOADING, FileStatus.PROCESSING})


class Fold:
    """Folds facts into per-file tracks; ``dirty`` collects the rows that changed."""

    def __init__(self, plan: FilesPlanned) -> None:
        self.plan = plan
        steps = tuple(s for s in STEP_ORDER if s in plan.steps)
        needed = frozenset(s for s in steps if s in plan.reportable_steps)
        self.pipeline = Pipeline(steps, needed)
        self.tracks = [
            FileTrack(i, f.name, f.size, rejection=f.rejection, upload_total=f.size)
            for i, f in enumerate(plan.files)
        ]
        for track in self.tracks:
            if track.rejection is not None:
                track.mark_error(ERROR_REJECTED, track.rejection, plan.received_at)
        self.batches: dict[str, BatchTrack] = {}
        self.rows_by_story: dict[str, int] = {}
        self.dirty: set[int] = set()
        self.latest: datetime = plan.received_at
        self.row: int | None = None
        """The row the last fact was about, when it was about one."""
        self._seen: set[object] = set()
        self._waiting_for_story: dict[str, list[Fact]] = {}
        self._waiting_for_batch: dict[str, list[Fact]] = {}
        self._on_fact: dict[type[Any], Callable[[Any], Outcome]] = {
            EventFact: self._event,
            StatusFact: self._status_fact,
            StoryFact: self._story_fact,
            UploadProgressFact: self._upload_progress,
            UploadedFact: self._uploaded,
            UploadFailedFact: self._upload_failed,
            BatchCreatedFact: self._batch_created,
            BatchFailedFact: self._batch_failed,
            RegenerateFact: self._regenerate,
            TickFact: self._tick,
        }

    def apply(self, fact: Fact) -> Outcome:
        """Fold one fact. Raises :class:`RunError` for a fact about a file the run lacks."""
        self.row = None
        if fact.received_at > self.latest:
            self.latest = fact.received_at
        if type(fact) is EventFact:
            return self._event(fact)
        if isinstance(fact, FilesPlanned):
            raise RunError("a run's files are planned once, when the run is made")
        return self._on_fact[type(fact)](fact)

    def status(self, row: int) -> FileStatus:
        return self.tracks[row].status(self.pipeline.needed)

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

    def _duplicate(self, room: str, event: EventFact) -> bool:
        seq = event.event.seq
        key: object = (room, seq) if seq is not None else event.event.model_dump_json()
        if key in self._seen:
            return True
        self._seen.add(key)
        return False

    def learn_story(self, row: int, story_id: str, at: datetime) -> bool:
        """Row ``row`` is story ``story_id``; folds whatever waited for that story."""
        track = self.tracks[row]
        if track.story_id == story_id:
            return self._changed(track, track.mark_record(at)) is Outcome.APPLIED
        if story_id in self.rows_by_story or track.story_id is not None:
            return False
        self.rows_by_story[story_id] = row
        track.story_id = story_id
        track.mark_record(at)
        self.dirty.add(row)
        for waiting in self._waiting_for_story.pop(story_id, []):
            self._fold_waiting(waiting)
        return True

    def _fold_waiting(self, fact: Fact) -> None:
        """Fold a fact that waited for its story or batch (its duplicate check is done)."""
        row = self.row  # the events table names the fact being folded now, not this one
        if isinstance(fact, EventFact):
            self._route_event(fact)
        else:
            self._on_fact[type(fact)](fact)
        self.row = row

    # ------------------------------------------------------------ events
    def _event(self, fact: EventFact) -> Outcome:
        event = fact.event
        if isinstance(event, STORY_EVENTS):  # the hot path: one check, then straight to the file
            if self._duplicate(story_room(event.story_id), fact):
                return Outcome.DUPLICATE
            return self._story_event(fact, event)
        if isinstance(event, _BATCH_EVENTS) and self._duplicate(batch_room(event.batch_id), fact):
            return Outcome.DUPLICATE
        return self._route_event(fact)

    def _route_event(self, fact: EventFact) -> Outcome:
        event = fact.event
        if isinstance(event, STORY_EVENTS):
            return self._story_event(fact, event)
        if isinstance(event, _BATCH_EVENTS):
            return self._batch_event(fact, event)
        if isinstance(event, JoinedBatchRoom):
            return self._status(fact, event.status)
        if isinstance(event, JoinedStoryRoom):
            return self._room_story(fact, event)
        return Outcome.UNCHANGED  # room replies and refusals: kept in the log only

    def _story_event(self, fact: EventFact, event: StoryEvent) -> Outcome:
        row = self.rows_by_story.get(event.story_id)
        if row is None:
            self._waiting_for_story.setdefault(event.story_id, []).append(fact)
            return Outcome.BUFFERED
        track = self._track(row)
        changed = self.pipeline.apply_event(track, fact, event)
        return Outcome.STALE if changed is None else self._changed(track, changed)

    def _room_story(self, fact: EventFact, event: JoinedStoryRoom) -> Outcome:
        row = self.rows_by_story.get(event.story_id)
        if row is None:
            self._waiting_for_story.setdefault(event.story_id, []).append(fact)
            return Outcome.BUFFERED
        track = self._track(row)
        story = event.story
        changed = self.pipeline.apply_flags(track, story.status, story.updated_at, fact.received_at)
        return self._changed(track, changed)

    def _batch_event(self, fact: EventFact, event: BatchEvent) -> Outcome:
        batch = self.batches.get(event.batch_id)
        if batch is None:
            self._waiting_for_batch.setdefault(event.batch_id, []).append(fact)
            return Outcome.BUFFERED
        at = fact.received_at
        if isinstance(event, BatchStoriesStart):
            changed = batch.state == "created"
            batch.state = BatchState.PROCESSING if changed else batch.state
            return Outcome.APPLIED if changed else Outcome.UNCHANGED
        if isinstance(event, BatchStoriesProgress):
            return self._batch_progress(batch, event, at)
        if isinstance(event, BatchStoriesComplete):
            return self._batch_complete(batch, event, at)
        return self._batch_error(batch, event.error, at)

    def _batch_progress(
        self, batch: BatchTrack, event: BatchStoriesProgress, at: datetime
    ) -> Outcome:
        position = event.current_story - 1
        if not 0 <= position < len(batch.rows):
            return Outcome.UNCHANGED
        track = self._track(batch.rows[position])
        changed = track.mark_record(at)
        if event.story_id:
            changed = self.learn_story(track.index, event.story_id, at) or changed
        return self._changed(track, changed)

    def _batch_complete(
        self, batch: BatchTrack, event: BatchStoriesComplete, at: datetime
    ) -> Outcome:
        """Every pipeline of the batch ended: ``errors`` name the stories that failed."""
        failed: dict[int, str] = {}
        for line in event.errors:
            match = _STORY_ERROR.match(line)
            if match:
                failed[int(match.group(1)) - 1] = match.group(2).strip() or line
        if len(event.story_ids) == len(batch.rows):
            for row, story_id in zip(batch.rows, event.story_ids, strict=True):
                self.learn_story(row, story_id, at)
        batch.state = BatchState.COMPLETED
        for position, row in enumerate(batch.rows):
            track = self.tracks[row]
            if track.attempt:
                continue  # regenerated since: this batch's verdict is about the earlier attempt
            if position in failed:
                changed = track.mark_error(ERROR_FILE, failed[position], at)
            else:
                changed = track.mark_done_by_server(at)
            self._changed(track, changed)
        return Outcome.APPLIED

    def _batch_error(self, batch: BatchTrack, error: str, at: datetime) -> Outcome:
        batch.state = BatchState.FAILED
        batch.error = error
        self._mark_rows(batch, lambda track: track.mark_error(ERROR_BATCH, error, at))
        return Outcome.APPLIED

    # ------------------------------------------------------------ REST snapshots
    def _status_fact(self, fact: StatusFact) -> Outcome:
        return self._status(fact, fact.status)

    def _status(self, fact: StatusFact | EventFact, status: BatchStatusResponse) -> Outcome:
        batch = self.batches.get(status.batch_id)
        if batch is None:
            self._waiting_for_batch.setdefault(status.batch_id, []).append(fact)
            return Outcome.BUFFERED
        at = fact.received_at
        changed = batch.state != status.status
        batch.state = status.status
        if status.results is not None:
            for row, result in zip(batch.rows, status.results, strict=False):
                track = self.tracks[row]
                learnt = result.story_id is not None and self.learn_story(row, result.story_id, at)
                if result.file_url and track.file_url is None:
                    track.file_url = result.file_url
                    learnt = True
                step_changed = self.pipeline.apply_result(track, result, at)
                changed = self._changed(track, learnt or step_changed) is Outcome.APPLIED or changed
        else:
            for row, story_id in zip(batch.rows, status.story_ids, strict=False):
                changed = self.learn_story(row, story_id, at) or changed
        changed = self._status_verdict(batch, status, at) or changed
        return Outcome.APPLIED if changed else Outcome.UNCHANGED

    def _status_verdict(self, batch: BatchTrack, status: BatchStatusResponse, at: datetime) -> bool:
        """What a terminal status says of the files that ``results`` did not speak for."""
        if status.status in (BatchState.FAILED, BatchState.CANCELLED):
            reason = "; ".join(status.errors) or f"batch {status.status}"
            batch.error = reason
            return self._mark_rows(batch, lambda track: track.mark_error(ERROR_BATCH, reason, at))
        if status.status == BatchState.COMPLETED and not self.pipeline.needed:
            # Without generation, a completed batch means every record was created. (With
            # generation, production says "completed" once the records exist, long before the
            # pipelines end, so it says nothing about the files.)
            return self._mark_rows(batch, lambda track: track.mark_done_by_server(at))
        return False

    def _mark_rows(self, batch: BatchTrack, mark: Callable[[FileTrack], bool]) -> bool:
        """Apply ``mark`` to the batch's files still on their first attempt."""
        changed = False
        for row in batch.rows:
            track = self.tracks[row]
            if not track.attempt and mark(track):
                self.dirty.add(row)
                changed = True
        return changed

    def _story_fact(self, fact: StoryFact) -> Outcome:
        story = fact.story
        row = self.rows_by_story.get(story.id)
        if row is None:
            self._waiting_for_story.setdefault(story.id, []).append(fact)
            return Outcome.BUFFERED
        track = self._track(row)
        changed = self.pipeline.apply_flags(track, story.status, story.updated_at, fact.received_at)
        return self._changed(track, changed)

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
        return self._changed(track, track.mark_error(ERROR_UPLOAD, fact.error, fact.received_at))

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
                track.errors.pop(ERROR_BATCH, None)  # an earlier attempt to create one failed
                self.dirty.add(track.index)
        for waiting in self._waiting_for_batch.pop(fact.batch_id, []):
            self._fold_waiting(waiting)
        return Outcome.APPLIED

    def _batch_failed(self, fact: BatchFailedFact) -> Outcome:
        changed = False
        for track in [self._track(i) for i in fact.indices]:
            if track.batch_id is None or track.batch_id == fact.batch_id:
                marked = track.mark_error(ERROR_BATCH, fact.error, fact.received_at)
                changed = self._changed(track, marked) is Outcome.APPLIED or changed
        self.row = fact.indices[0] if len(fact.indices) == 1 else None
        if fact.batch_id in self.batches:
            self.batches[fact.batch_id].state = BatchState.FAILED
            self.batches[fact.batch_id].error = fact.error
        return Outcome.APPLIED if changed else Outcome.UNCHANGED

    def _regenerate(self, fact: RegenerateFact) -> Outcome:
        track = self._track(fact.index)
        next_seq = None if track.high_seq is None else track.high_seq + 1
        track.restart(next_seq, track.high_ts or fact.received_at)
        track.moved(fact.received_at)
        return self._changed(track, True)

    def _tick(self, fact: TickFact) -> Outcome:
        """Mark stalled the files whose upload or step has not moved for ``stall_timeout``."""
        changed = False
        for track in self.tracks:
            if track.last_moved_at is None:
                continue
            idle = (fact.now - track.last_moved_at).total_seconds()
            if self._give_up(track, idle, fact.now):
                changed = self._changed(track, True) is Outcome.APPLIED or changed
            elif track.stalled:
                continue
            if idle >= self.plan.stall_timeout and self.status(track.index) in _STALLABLE:
                track.stalled = True
                changed = self._changed(track, True) is Outcome.APPLIED or changed
        return Outcome.APPLIED if changed else Outcome.UNCHANGED

    def _give_up(self, track: FileTrack, idle: float, now: datetime) -> bool:
        """Fail a file the server has said nothing about for ``give_up_after`` seconds."""
        limit = self.plan.give_up_after
        if limit is None or idle < limit or track.batch_id is None:
            return False
        if ERROR_SILENT in track.errors or self.status(track.index).terminal:
            return False
        reason = (
            f"no word from the server for {idle:.0f} s; the server reports a failed story only "
            "by an event, which can be missed, so its story probably failed"
        )
        return track.mark_error(ERROR_SILENT, reason, now)
