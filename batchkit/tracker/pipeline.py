"""How facts about one story become evidence about its steps, attempt by attempt.

:class:`Pipeline` turns a story's events, its status flags and its EXT ``results`` entry into
evidence (:data:`~batchkit.tracker.machine.EVIDENCE`) and moves the story's steps along
:data:`~batchkit.tracker.machine.STEP_TRANSITIONS`. Every method returns whether anything
changed. Three rules keep a file from going backwards or claiming too much:

* *Evidence only grows within an attempt*, and a step that started implies every enabled step
  before it: confirmed on the reference server, only claimed on production, whose events run
  ahead of the work. A status flag going from true to false (production resets
  ``audioGenerated`` for a moment after the images step) says nothing.
* *Regeneration is told from staleness by order.* A start event for a step the current attempt
  already ended restarts the story only when it is newer than every fact of the attempt: a
  higher ``seq`` than any seen in the story's room (reference server) *and* a later server
  ``timestamp`` than any event or REST ``updatedAt`` seen (so a production event without
  ``seq`` can still be told apart). Anything else is a late event and only adds evidence.
* *After a restart*, events from before it (by ``seq``, else by timestamp) are stale and
  dropped, and REST snapshots count only when the server changed the story after the restart.
  Production does not clear the flags when it regenerates a story, so there a flag confirms a
  step only once the step was seen starting again before the story's ``updatedAt``.
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
from batchkit.tracker.machine import EVIDENCE, Evidence
from batchkit.tracker.state import STEP_ORDER, FileTrack, RunSteps, StoryTrack, step_named

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
_FLAGS: Final = (
    (_STORY, "story_generated"),
    (PipelineStep.IMAGES, "images_generated"),
    (PipelineStep.AUDIO, "audio_generated"),
    (PipelineStep.MERGE, "audio_merged"),
)


def _event_step(event: StoryEvent) -> PipelineStep | None:
    if isinstance(event, StoryProcessingStart | StoryProcessingProgress | StoryProcessingComplete):
        return _STORY
    if isinstance(event, StoryProcessingError):
        return step_named(event.step) or _STORY
    return step_named(event.step)


Handler = Callable[[StoryTrack, Any, datetime], bool]


class Pipeline:
    """Applies one story's facts to its :class:`StoryTrack`, for the run's ``steps``."""

    def __init__(self, steps: RunSteps) -> None:
        self.steps = steps
        self._enabled = frozenset(steps.enabled)
        self._rule = {
            name: rule.on(events_confirm=steps.events_confirm) for name, rule in EVIDENCE.items()
        }
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
    def apply_event(self, track: FileTrack, event: StoryEvent, at: datetime) -> bool | None:
        """Fold one story-room event, received at ``at``, into ``track``; None when it is stale
        (from before a restart)."""
        story = track.stories[event.story_id]
        if _stale(story, event.seq, event.timestamp):
            return None
        if type(event) in _STARTS and self._regenerates(story, event):
            self._restart(track, story, event, at)
            return True
        changed = self._on_event[type(event)](story, event, at)
        story.see(event.seq, event.timestamp)
        story.history.append((at, event))
        if changed:
            track.moved(at)
        else:
            track.heard(at)  # an event is news even when it says nothing new (stuck at 0 %)
        return track.touch(at) or changed

    def _on_story_start(self, story: StoryTrack, event: StoryProcessingStart, at: datetime) -> bool:
        return self._working(story, _STORY, event.timestamp, at)

    def _on_auto_start(self, story: StoryTrack, event: AutoModeStart, at: datetime) -> bool:
        step = step_named(event.step)
        return step is not None and self._working(story, step, event.timestamp, at)

    def _on_story_progress(
        self, story: StoryTrack, event: StoryProcessingProgress, at: datetime
    ) -> bool:
        changed = self._working(story, _STORY, event.timestamp, at)
        return story.mark_progress(_STORY, event.progress / 100.0) or changed

    def _on_auto_progress(self, story: StoryTrack, event: AutoModeProgress, at: datetime) -> bool:
        step = step_named(event.step)
        if step is None or step not in self._enabled:
            return False
        changed = self._working(story, step, event.timestamp, at)
        return self._fraction(story, step, event) or changed

    def _fraction(self, story: StoryTrack, step: PipelineStep, event: AutoModeProgress) -> bool:
        fraction = event.progress / 100.0
        changed = False
        if event.total:
            # EXT chunk counts: more exact than the percentage, and present when production's
            # percentage is stuck at 0.
            if story.chunks.get(step) != event.total:
                story.chunks[step] = event.total
                changed = True
            fraction = max(fraction, (event.current or 0) / event.total)
        if story.step_evidence(step) is Evidence.CONFIRMED:
            return changed
        return story.mark_progress(step, fraction) or changed

    def _on_story_complete(
        self, story: StoryTrack, event: StoryProcessingComplete, at: datetime
    ) -> bool:
        return self._ended(story, _STORY, self._rule["story:processing:complete"], at)

    def _on_auto_complete(self, story: StoryTrack, event: AutoModeComplete, at: datetime) -> bool:
        evidence = self._rule["auto-mode-complete"]
        step = step_named(event.step)
        changed = step is not None and self._ended(story, step, evidence, at)
        for name in event.completed_steps:
            done = step_named(name)
            changed = (done is not None and self._ended(story, done, evidence, at)) or changed
        return changed

    def _on_error(
        self, story: StoryTrack, event: StoryProcessingError | AutoModeError, at: datetime
    ) -> bool:
        step = _event_step(event)
        if step is None or step not in self._enabled:
            return False
        changed = self._before(story, step, at)
        return story.mark_step_error(step, event.error, at) or changed

    # ------------------------------------------------------------ evidence
    def _working(
        self, story: StoryTrack, step: PipelineStep, server_time: datetime, at: datetime
    ) -> bool:
        """``step`` is under way: so every enabled step before it has ended."""
        if step not in self._enabled:
            return False
        if step not in story.first_seen or server_time < story.first_seen[step]:
            story.first_seen[step] = server_time
        known = story.step_started.get(step)
        if known is not None and known <= at:
            return False  # seen under way earlier: everything this implies is known already
        changed = self._before(story, step, at)
        return story.raise_evidence(step, Evidence.STARTED, at) or changed

    def _ended(
        self, story: StoryTrack, step: PipelineStep, evidence: Evidence, at: datetime
    ) -> bool:
        if step not in self._enabled:
            return False
        changed = self._before(story, step, at)
        return story.raise_evidence(step, evidence, at) or changed

    def _before(self, story: StoryTrack, step: PipelineStep, at: datetime) -> bool:
        evidence = self._rule["earlier step of a started one"]
        changed = False
        for earlier in self.steps.enabled:
            if earlier == step:
                break
            changed = story.raise_evidence(earlier, evidence, at) or changed
        return changed

    # ------------------------------------------------------------ REST
    def apply_flags(
        self,
        track: FileTrack,
        story: StoryTrack,
        flags: StoryFlags,
        updated: datetime,
        at: datetime,
    ) -> bool:
        """A story's ``status`` flags: a true flag confirms its step; a false one says nothing."""
        if story.attempt_ts is not None and updated <= story.attempt_ts:
            return False  # the server has not touched the story since the restart
        news = story.updated_at is None or updated > story.updated_at
        if news:
            story.updated_at = updated
        story.see(None, updated)
        changed = story.mark_record(at)
        confirm = self._rule["status flag true"]
        for step, name in _FLAGS:
            if (
                step in self._enabled
                and getattr(flags, name)
                and self._flag_counts(story, step, updated)
            ):
                changed = self._ended(story, step, confirm, at) or changed
        if changed:
            track.moved(at)
        elif news:
            track.heard(at)
        return changed

    def _flag_counts(self, story: StoryTrack, step: PipelineStep, updated: datetime) -> bool:
        if self.steps.events_confirm or story.attempt_ts is None:
            return True
        # A regenerated story on production keeps its old flags until each step is redone.
        seen = story.first_seen.get(step)
        return seen is not None and updated >= seen

    def apply_result(
        self, track: FileTrack, story: StoryTrack, result: FileResult, at: datetime
    ) -> bool:
        """One file's EXT ``results`` entry from a batch status."""
        if story.attempt_ts is not None:
            when = result.completed_at or result.started_at
            if when is None or when <= story.attempt_ts:
                return False
        changed = story.mark_record(at)
        if result.status == FileState.PROCESSING and result.step is not None:
            changed = self._working(story, result.step, result.started_at or at, at) or changed
            if story.step_evidence(result.step) is not Evidence.CONFIRMED:
                changed = story.mark_progress(result.step, result.step_progress / 100) or changed
        confirm = self._rule["results: step completed"]
        for step in result.completed_steps:
            changed = self._ended(story, step, confirm, at) or changed
        if result.status == FileState.COMPLETED:
            changed = story.mark_done_by_server(at) or changed
        elif result.status == FileState.FAILED:
            message = result.error or "failed"
            if result.step is not None and result.step in self._enabled:
                changed = story.mark_step_error(result.step, message, at) or changed
            else:
                changed = story.mark_verdict(message, at) or changed
        if changed:
            track.moved(at)
        return changed

    def batch_says_done(self, track: FileTrack, story: StoryTrack, at: datetime) -> bool:
        """``batch-stories-complete`` without an error for this story (reference: pipelines)."""
        if self._rule["batch-stories-complete"] is not Evidence.CONFIRMED:
            return False  # production's batch counts records, not work (§7.3)
        # The verdict is the batch's, not the story room's: it confirms the story as a whole
        # (done_by_server), not each step, so it cannot make a later event of the story look
        # like a regeneration.
        changed = story.mark_done_by_server(at)
        if changed:
            track.moved(at)
        return changed

    # ------------------------------------------------------------ attempts
    def _regenerates(self, story: StoryTrack, event: StoryEvent) -> bool:
        step = _event_step(event)
        if step is None or not (
            story.step_evidence(step) >= Evidence.CLAIMED or _failed_at_or_after(story, step)
        ):
            return False  # this step never ended in the current attempt: a plain (late) start
        if event.seq is not None and story.high_seq is not None and event.seq <= story.high_seq:
            return False
        if story.high_ts is not None and event.timestamp <= story.high_ts:
            return False
        return story.high_seq is not None or story.high_ts is not None

    def _restart(self, track: FileTrack, old: StoryTrack, start: StoryEvent, at: datetime) -> None:
        early = [(when, e) for when, e in old.history if _later(e, start)]
        story = track.regenerate(old.story_id, start.seq, start.timestamp, undoable=False)
        for when, event in [(at, start), *sorted(early, key=_order_key)]:
            self._on_event[type(event)](story, event, when)
            story.see(event.seq, event.timestamp)
            story.history.append((when, event))
        track.moved(at)
        track.touch(at)


def _stale(story: StoryTrack, seq: int | None, server_time: datetime) -> bool:
    if seq is not None and story.attempt_seq is not None:
        return seq < story.attempt_seq
    return story.attempt_ts is not None and server_time < story.attempt_ts


def _failed_at_or_after(story: StoryTrack, step: PipelineStep) -> bool:
    # Only a step's own error counts: a batch's verdict ("Story 2: ...") may arrive before the
    # story's events and must not make them look newer.
    position = STEP_ORDER.index(step)
    return any(STEP_ORDER.index(failed) >= position for failed in story.step_errors)


def _later(event: StoryEvent, start: StoryEvent) -> bool:
    if event.seq is not None and start.seq is not None:
        return event.seq > start.seq
    return event.timestamp > start.timestamp


def _order_key(item: tuple[datetime, StoryEvent]) -> tuple[int, datetime]:
    event = item[1]
    return (event.seq or 0, event.timestamp)
