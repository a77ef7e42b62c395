"""How facts about one story move its file through the pipeline's steps.

:class:`Pipeline` knows the run's enabled steps and applies one story's events, flags and REST
results to a :class:`~batchkit.tracker.state.FileTrack`. Every method returns whether the track
changed. Three rules keep a file from going backwards:

* *Evidence only grows.* A step that started implies every enabled step before it completed; a
  completed step stays completed; progress is the highest seen; a status flag going from true to
  false (production resets ``audioGenerated`` for a moment after the images step) is ignored.
* *Regeneration is told from staleness by order.* A start event (``story:processing:start`` or
  ``auto-mode-start``) for a step the current attempt already completed, or at or before the
  step whose error event failed it, restarts the file's pipeline only when it is newer than
  every fact of the attempt: a higher ``seq`` than any seen in the story's room (reference
  server) *and* a later server ``timestamp`` than any event or REST ``updatedAt`` seen (so a
  production event without ``seq`` can still be told apart). Anything else is a late event of the
  current attempt and only adds evidence. A :class:`~batchkit.tracker.facts.RegenerateFact` (the
  session's ``POST generate``) restarts the file at once.
* *After a restart*, events from before it (by ``seq``, else by timestamp) are stale and dropped,
  and REST snapshots count only when the server changed the story after the restart. Events of
  the new attempt that arrived early are folded again into the fresh attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from batchkit.contract.events import (
    AutoModeComplete,
    AutoModeError,
    AutoModeProgress,
    AutoModeStart,
    EventModel,
    StoryProcessingComplete,
    StoryProcessingError,
    StoryProcessingProgress,
    StoryProcessingStart,
)
from batchkit.contract.limits import FileState, PipelineStep
from batchkit.contract.rest import FileResult, StoryFlags
from batchkit.tracker.facts import EventFact
from batchkit.tracker.state import ERROR_FILE, STEP_ORDER, FileTrack, step_named

__all__ = ["STORY_EVENTS", "Pipeline", "StoryEvent"]

StoryEvent = (
    StoryProcessingStart
    | StoryProcessingProgress
    | StoryProcessingComplete
    | StoryProcessingError
    | AutoModeStart
    | AutoModeProgress
    | AutoModeComplete
    | AutoModeError
)
STORY_EVENTS: Final = (  # the most frequent first: isinstance tries them in this order
    AutoModeProgress,
    StoryProcessingProgress,
    StoryProcessingStart,
    StoryProcessingComplete,
    StoryProcessingError,
    AutoModeStart,
    AutoModeComplete,
    AutoModeError,
)
_STARTS: Final = frozenset({StoryProcessingStart, AutoModeStart})
_STORY = PipelineStep.STORY


def _event_step(event: StoryEvent) -> PipelineStep | None:
    if isinstance(event, StoryProcessingStart | StoryProcessingProgress | StoryProcessingComplete):
        return _STORY
    if isinstance(event, StoryProcessingError):
        return step_named(event.step) or _STORY
    return step_named(event.step)


Handler = Callable[[FileTrack, Any, datetime], bool]


class Pipeline:
    """The enabled ``steps`` of a run, and which of them the server reports (``needed``)."""

    def __init__(self, steps: tuple[PipelineStep, ...], needed: frozenset[PipelineStep]) -> None:
        self.steps = steps
        self.needed = needed
        self._enabled = frozenset(steps)
        self._on_event: dict[type[EventModel], Handler] = {
            StoryProcessingStart: self._on_story_start,
            AutoModeStart: self._on_auto_start,
            StoryProcessingProgress: self._on_story_progress,
            AutoModeProgress: self._on_auto_progress,
            StoryProcessingComplete: self._on_story_complete,
            AutoModeComplete: self._on_auto_complete,
            StoryProcessingError: self._on_error,
            AutoModeError: self._on_error,
        }

    # ------------------------------------------------------------ events
    def apply_event(self, track: FileTrack, fact: EventFact, event: StoryEvent) -> bool | None:
        """Fold one story-room event; None when it is stale (from before a restart)."""
        if track.attempt and self._stale(track, event.seq, event.timestamp):
            return None
        at = fact.received_at
        if type(event) in _STARTS and self._regenerates(track, event):
            self._restart(track, fact, event)
            return True
        changed = self._on_event[type(event)](track, event, at)
        track.see(event.seq, event.timestamp)
        track.history.append(fact)
        if changed:
            track.moved(at)
        if track.last_event_at is None or at > track.last_event_at:
            track.last_event_at = at
            return True
        return changed

    def _on_story_start(self, track: FileTrack, event: StoryProcessingStart, at: datetime) -> bool:
        return self.started(track, _STORY, at)

    def _on_auto_start(self, track: FileTrack, event: AutoModeStart, at: datetime) -> bool:
        step = step_named(event.step)
        return step is not None and self.started(track, step, at)

    def _on_story_progress(
        self, track: FileTrack, event: StoryProcessingProgress, at: datetime
    ) -> bool:
        return self._progressed(track, _STORY, event.progress / 100.0, at)

    def _on_auto_progress(self, track: FileTrack, event: AutoModeProgress, at: datetime) -> bool:
        step = step_named(event.step)
        if step is None:
            return False
        fraction = event.progress / 100.0
        if event.total:
            # EXT chunk counts: more exact than the percentage, and present when production's
            # percentage is stuck at 0.
            track.chunks[step] = event.total
            fraction = max(fraction, (event.current or 0) / event.total)
        return self._progressed(track, step, fraction, at)

    def _progressed(
        self, track: FileTrack, step: PipelineStep, fraction: float, at: datetime
    ) -> bool:
        changed = self.started(track, step, at)
        if step in track.completed:
            return changed
        return track.mark_progress(step, fraction) or changed

    def _on_story_complete(
        self, track: FileTrack, event: StoryProcessingComplete, at: datetime
    ) -> bool:
        return self.completed(track, _STORY, at)

    def _on_auto_complete(self, track: FileTrack, event: AutoModeComplete, at: datetime) -> bool:
        step = step_named(event.step)
        changed = step is not None and self.completed(track, step, at)
        for name in event.completed_steps:
            done = step_named(name)
            changed = (done is not None and self.completed(track, done, at)) or changed
        return changed

    def _on_error(
        self, track: FileTrack, event: StoryProcessingError | AutoModeError, at: datetime
    ) -> bool:
        step = _event_step(event)
        if step is None or step not in self._enabled:
            return False
        changed = self._complete_before(track, step, at)
        return track.mark_error(step, event.error, at) or changed

    # ------------------------------------------------------------ evidence
    def started(self, track: FileTrack, step: PipelineStep, at: datetime) -> bool:
        """``step`` is running at ``at``: so every enabled step before it is done."""
        known = track.step_started.get(step)
        if known is not None and known <= at:
            return False  # seen running earlier: everything this implies is known already
        if step not in self._enabled:
            return False
        changed = self._complete_before(track, step, at)
        return track.mark_started(step, at) or changed

    def completed(self, track: FileTrack, step: PipelineStep, at: datetime) -> bool:
        if step not in self._enabled:
            return False
        changed = self._complete_before(track, step, at)
        changed = track.mark_progress(step, 1.0) or changed
        return track.mark_completed(step, at) or changed

    def _complete_before(self, track: FileTrack, step: PipelineStep, at: datetime) -> bool:
        changed = False
        for earlier in self.steps:
            if earlier == step:
                break
            track.progress[earlier] = 1.0
            changed = track.mark_completed(earlier, at) or changed
        return changed

    # ------------------------------------------------------------ REST
    def apply_flags(
        self, track: FileTrack, flags: StoryFlags, updated_at: datetime, at: datetime
    ) -> bool:
        """A story's ``status`` flags: a true flag completes its step; a false one says nothing."""
        if track.attempt and not self._fresh(track, updated_at):
            return False
        track.see(None, updated_at)
        changed = track.mark_record(at)
        done = (
            (_STORY, flags.story_generated),
            (PipelineStep.IMAGES, flags.images_generated),
            (PipelineStep.AUDIO, flags.audio_generated),
            (PipelineStep.MERGE, bool(flags.audio_merged)),
        )
        for step, flag in done:
            if flag:
                changed = self.completed(track, step, at) or changed
        if changed:
            track.moved(at)
        return changed

    def apply_result(self, track: FileTrack, result: FileResult, at: datetime) -> bool:
        """One file's EXT ``results`` entry from a batch status."""
        if track.attempt and not self._fresh(track, result.completed_at or result.started_at):
            return False
        changed = False
        if result.status == FileState.PROCESSING and result.step is not None:
            changed = self.started(track, result.step, at)
            if result.step not in track.completed:
                changed = track.mark_progress(result.step, result.step_progress / 100) or changed
        for step in result.completed_steps:
            changed = self.completed(track, step, at) or changed
        if result.status == FileState.COMPLETED:
            changed = track.mark_done_by_server(at) or changed
        elif result.status == FileState.FAILED:
            changed = track.mark_error(ERROR_FILE, result.error or "failed", at) or changed
        if changed:
            track.moved(at)
        return changed

    # ------------------------------------------------------------ attempts
    @staticmethod
    def _fresh(track: FileTrack, server_time: datetime | None) -> bool:
        return server_time is not None and (
            track.attempt_ts is None or server_time > track.attempt_ts
        )

    @staticmethod
    def _stale(track: FileTrack, seq: int | None, server_time: datetime) -> bool:
        if not track.attempt:
            return False
        if seq is not None and track.attempt_seq is not None:
            return seq < track.attempt_seq
        return track.attempt_ts is not None and server_time < track.attempt_ts

    def _regenerates(self, track: FileTrack, event: StoryEvent) -> bool:
        step = _event_step(event)
        if step is None or not (step in track.completed or self._failed_at_or_after(track, step)):
            return False  # this step never ended in the current attempt: a plain (late) start
        if event.seq is not None and track.high_seq is not None and event.seq <= track.high_seq:
            return False
        if track.high_ts is not None and event.timestamp <= track.high_ts:
            return False
        return track.high_seq is not None or track.high_ts is not None

    def _failed_at_or_after(self, track: FileTrack, step: PipelineStep) -> bool:
        # Only a step's own error event counts: a batch's verdict ("Story 2: ...") or a REST
        # result may arrive before the story's events and must not make them look newer.
        position = STEP_ORDER.index(step)
        return any(
            key in STEP_ORDER and STEP_ORDER.index(PipelineStep(key)) >= position
            for key in track.errors
        )

    def _restart(self, track: FileTrack, fact: EventFact, start: StoryEvent) -> None:
        early = [f for f in track.history if _later(f.event, start)]
        track.restart(start.seq, start.timestamp)
        for again in [fact, *sorted(early, key=_order_key)]:
            event = again.event
            assert isinstance(event, STORY_EVENTS)
            self._on_event[type(event)](track, event, again.received_at)
            track.see(event.seq, event.timestamp)
            track.history.append(again)
        track.moved(fact.received_at)
        track.touch(fact.received_at)


def _later(event: object, start: StoryEvent) -> bool:
    assert isinstance(event, STORY_EVENTS)
    if event.seq is not None and start.seq is not None:
        return event.seq > start.seq
    return event.timestamp > start.timestamp


def _order_key(fact: EventFact) -> tuple[int, datetime]:
    event = fact.event
    assert isinstance(event, STORY_EVENTS)
    return (event.seq or 0, event.timestamp)
