"""What a batch's own facts say of its files: its room's events and its REST status.

A mixin of :class:`~batchkit.tracker.fold.Fold`, kept apart because a batch speaks for several
files at once and its verdicts depend on the server: a ``failed`` status is final at once on the
reference server, and only after a grace window without a retry on production, whose crashed
batches are run again (contract §7.7); production's counts and ``completed`` speak of records,
not of work (§7.3).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Final

from batchkit.contract.events import (
    BatchStoriesComplete,
    BatchStoriesError,
    BatchStoriesProgress,
    BatchStoriesStart,
)
from batchkit.contract.limits import BatchState
from batchkit.contract.rest import BatchStatusResponse
from batchkit.tracker.facts import EventFact, Fact, FilesPlanned, StatusFact
from batchkit.tracker.pipeline import Pipeline
from batchkit.tracker.state import ERROR_BATCH, BatchTrack, FileTrack, Outcome, RunSteps

__all__ = ["BATCH_EVENTS", "BatchEvent", "BatchFacts"]

BATCH_EVENTS: Final = (
    BatchStoriesStart,
    BatchStoriesProgress,
    BatchStoriesComplete,
    BatchStoriesError,
)
BatchEvent = BatchStoriesStart | BatchStoriesProgress | BatchStoriesComplete | BatchStoriesError
_STORY_ERROR: Final = re.compile(r"^\s*Story\s+(\d+)\s*:\s*(.*)$", re.S)
_FAILED_STATES: Final = frozenset({BatchState.FAILED, BatchState.CANCELLED})


class BatchFacts:
    """The fold's handling of batch events, batch status reads and failed-batch deadlines."""

    if TYPE_CHECKING:  # provided by Fold
        plan: FilesPlanned
        steps: RunSteps
        pipeline: Pipeline
        tracks: list[FileTrack]
        batches: dict[str, BatchTrack]
        dirty: set[int]
        _waiting_for_batch: dict[str, list[Fact]]
        _waiting_for_story: dict[str, list[Fact]]

        def learn_story(self, row: int, story_id: str, at: datetime) -> bool: ...
        def _track(self, index: int) -> FileTrack: ...
        def _changed(self, track: FileTrack, changed: bool) -> Outcome: ...
        def _in_batch(self, batch: BatchTrack) -> list[FileTrack]: ...
        def _fold_waiting(self, fact: Fact) -> None: ...
        def _fail_rows(
            self, tracks: list[FileTrack], key: str, reason: str, at: datetime
        ) -> bool: ...

    # ------------------------------------------------------------ events
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
        if not 0 <= position < len(batch.rows) or not event.story_id:
            return Outcome.UNCHANGED
        track = self._track(batch.rows[position])
        if track.batch_id != batch.batch_id:
            return Outcome.STALE
        return self._changed(track, self.learn_story(track.index, event.story_id, at))

    def _batch_complete(
        self, batch: BatchTrack, event: BatchStoriesComplete, at: datetime
    ) -> Outcome:
        """Every pipeline of the batch ended: ``errors`` name the stories that failed."""
        failed: dict[int, str] = {}
        for line in event.errors:
            match = _STORY_ERROR.match(line)
            if match:
                failed[int(match.group(1)) - 1] = match.group(2).strip() or line
        batch.state = BatchState.COMPLETED
        if self.plan.retried_batches:
            return Outcome.APPLIED  # production's counts are records, not work (§7.3)
        if len(event.story_ids) == len(batch.rows):
            for row, story_id in zip(batch.rows, event.story_ids, strict=True):
                self.learn_story(row, story_id, at)
        for position, row in enumerate(batch.rows):
            track = self.tracks[row]
            story = track.lead()
            if story is None or track.batch_id != batch.batch_id or story.attempt_ts is not None:
                continue  # no story yet, or regenerated since: the verdict is not about it
            if position in failed:
                changed = story.mark_verdict(failed[position], at)
            else:
                changed = self.pipeline.batch_says_done(track, story, at)
            self._changed(track, changed)
        return Outcome.APPLIED

    def _batch_error(self, batch: BatchTrack, error: str, at: datetime) -> Outcome:
        batch.state = BatchState.FAILED
        batch.error = error
        if self.plan.retried_batches:
            batch.failed_since = batch.failed_since or at  # Bull may run it again (§7.7)
            return Outcome.APPLIED
        self._fail_rows(self._in_batch(batch), ERROR_BATCH, error, at)
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
        new_ids = [sid for sid in status.story_ids if sid not in batch.story_ids]
        if new_ids:
            batch.story_ids = (*batch.story_ids, *new_ids)
            batch.failed_since = None  # new records: the batch is being run again
            changed = True
        if status.results is not None:
            changed = self._results(batch, status, at) or changed
        elif not self.plan.retried_batches:
            for row, story_id in zip(batch.rows, status.story_ids, strict=False):
                if self.tracks[row].batch_id == batch.batch_id:
                    changed = self.learn_story(row, story_id, at) or changed
        else:
            for story_id in new_ids:  # a story read before its batch listed it can be placed now
                for waiting in self._waiting_for_story.pop(story_id, []):
                    self._fold_waiting(waiting)
        changed = self._status_verdict(batch, status, at) or changed
        return Outcome.APPLIED if changed else Outcome.UNCHANGED

    def _results(self, batch: BatchTrack, status: BatchStatusResponse, at: datetime) -> bool:
        changed = False
        assert status.results is not None
        for row, result in zip(batch.rows, status.results, strict=False):
            track = self.tracks[row]
            if track.batch_id != batch.batch_id:
                continue
            learnt = result.story_id is not None and self.learn_story(row, result.story_id, at)
            if result.file_url and track.file_url is None:
                track.file_url = result.file_url
                learnt = True
            story = track.stories.get(result.story_id or "")
            moved = story is not None and self.pipeline.apply_result(track, story, result, at)
            changed = self._changed(track, learnt or moved) is Outcome.APPLIED or changed
        return changed

    def _status_verdict(self, batch: BatchTrack, status: BatchStatusResponse, at: datetime) -> bool:
        """What a status says of the batch's files beyond their own results."""
        if status.status in _FAILED_STATES:
            reason = "; ".join(status.errors) or f"the server says the batch {status.status}"
            batch.error = reason
            if self.plan.retried_batches:
                batch.failed_since = batch.failed_since or at  # maybe a retry follows (§7.7)
                return False
            return self._fail_rows(self._in_batch(batch), ERROR_BATCH, reason, at)
        batch.failed_since = None
        if status.status == BatchState.COMPLETED and not self.steps.needed:
            # Without generation, a completed batch means every record was created. (With
            # generation, production says "completed" once the records exist, long before the
            # pipelines end, so it says nothing about the files.)
            changed = False
            for track in self._in_batch(batch):
                if track.records_done_at is None:
                    track.records_done_at = at
                    self.dirty.add(track.index)
                    changed = True
            return changed
        return False

    # ------------------------------------------------------------ the clock
    def _batch_deadlines(self, now: datetime) -> bool:
        changed = False
        grace = self.plan.batch_failure_grace
        for batch in self.batches.values():
            since = batch.failed_since
            if since is None or (now - since).total_seconds() < grace:
                continue
            reason = (
                f"the batch failed ({batch.error or 'no reason given'}) and the server did "
                f"not run it again within {grace:.0f} s"
            )
            changed = self._fail_rows(self._in_batch(batch), ERROR_BATCH, reason, now) or changed
        return changed
