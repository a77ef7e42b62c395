"""The double's simulated Bull jobs: the batch loop and one story's pipeline, quirks included.

``pace`` seconds of ``asyncio.sleep`` stand for each step's real work (an AI call in production);
they are the simulated work, not synchronisation, and tests run with pace 0.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlsplit

import socketio

from batchkit.contract import (
    AutoModeComplete,
    AutoModeConfig,
    AutoModeProgress,
    AutoModeStart,
    BatchState,
    BatchStoriesComplete,
    BatchStoriesError,
    BatchStoriesProgress,
    BatchStoriesStart,
    EventModel,
    StoryFlags,
    StoryProcessingComplete,
    StoryProcessingError,
    StoryProcessingProgress,
    StoryProcessingStart,
    batch_room,
    story_room,
)

from .state import BatchRecord, EmittedEvent, ProductionState, StoryRecord, utc_now

MAX_ATTEMPTS = 3
"""Bull retries a crashed batch job up to this many attempts in all."""
FAILING_CONTENT = b"FAIL"
"""A file with exactly these bytes fails its story step, so tests can make a failing file."""
SLOW_PREFIX = b"SLOW"
"""A file starting with these bytes waits ``slow_for`` seconds, silently, before its story."""


class WorkerCrash(RuntimeError):
    """The batch worker died mid-loop (``crash_batches``); Bull runs the job again."""


class StoryStepFailed(RuntimeError):
    """The story step could not produce a story."""


@dataclass(frozen=True, slots=True)
class Broadcaster:
    """Sends events the way production does (no ``seq``) and records them for tests."""

    sio: socketio.AsyncServer
    state: ProductionState

    def _payload(self, event: EventModel) -> dict[str, Any]:
        payload = event.payload()
        if self.state.naive_times and isinstance(payload.get("timestamp"), str):
            payload["timestamp"] = _without_offset(payload["timestamp"])
        return payload

    async def to_batch(self, batch: BatchRecord, event: EventModel) -> None:
        # Nobody can be in this room: production has no join-batch-room handler.
        room = batch_room(batch.id)
        payload = self._payload(event)
        self.state.batch_events.append(EmittedEvent(str(event.event), room, payload))
        await self.sio.emit(event.event, payload, room=room)

    async def to_story(
        self, story: StoryRecord, event: EventModel, extra: dict[str, Any] | None = None
    ) -> None:
        room = story_room(story.id)
        payload = self._payload(event) | (extra or {})
        record = EmittedEvent(str(event.event), room, payload, story.flags)
        self.state.story_events.append(record)
        await self.sio.emit(event.event, payload, room=room)


# ---------------------------------------------------------------- the batch job
async def run_batch(out: Broadcaster, batch: BatchRecord) -> None:
    """The batch job with Bull's retries: a crashed attempt starts again from the first story."""
    for _attempt in range(MAX_ATTEMPTS):
        try:
            await _batch_attempt(out, batch)
        except WorkerCrash as crash:
            batch.crash_pending = False
            # Between attempts the job reads as failed: a client that polls then sees "failed"
            # for a batch that will complete.
            batch.status = BatchState.FAILED
            await out.to_batch(
                batch, BatchStoriesError(batch_id=batch.id, error=str(crash), timestamp=utc_now())
            )
            await asyncio.sleep(out.state.retry_backoff)  # Bull's back-off before the retry
        else:
            return
    batch.status = BatchState.FAILED


async def _batch_attempt(out: Broadcaster, batch: BatchRecord) -> None:
    total = len(batch.inputs)
    batch.status = BatchState.PROCESSING
    await out.to_batch(
        batch, BatchStoriesStart(batch_id=batch.id, total_stories=total, timestamp=utc_now())
    )
    created = 0
    for index in range(total):
        await _start_record(out, batch, index)
        await out.state.take_record_permit()
        await asyncio.sleep(out.state.pace)
        story = out.state.add_story(batch, index)
        batch.story_ids.append(story.id)
        created += 1
        if batch.auto_mode.enabled:
            out.state.spawn(run_pipeline(out, story, batch.auto_mode))
        if batch.crash_pending and created == max(1, total // 2):
            raise WorkerCrash("Worker process exited unexpectedly")
    # Only now do the counters move, and they count records, not generated stories.
    batch.completed_stories, batch.failed_stories = created, 0
    batch.status = BatchState.COMPLETED
    await out.to_batch(
        batch,
        BatchStoriesComplete(
            batch_id=batch.id,
            total_stories=total,
            completed_stories=created,
            failed_stories=0,
            story_ids=list(batch.story_ids),
            errors=[],
            timestamp=utc_now(),
        ),
    )


async def _start_record(out: Broadcaster, batch: BatchRecord, index: int) -> None:
    # Production counts a record as progress when it *starts* creating it.
    total = len(batch.inputs)
    batch.progress = (index + 1) / total * 100
    await out.to_batch(
        batch,
        BatchStoriesProgress(
            batch_id=batch.id,
            current_story=index + 1,
            total_stories=total,
            progress=batch.progress,
            message=f"Creating story {index + 1} of {total}",
            timestamp=utc_now(),
        ),
    )


# ---------------------------------------------------------------- one story's jobs
async def run_pipeline(out: Broadcaster, story: StoryRecord, auto: AutoModeConfig | None) -> None:
    """Story step, then images and audio when auto mode asks for them. Merge never runs."""
    if auto is None or auto.generate_story is not False:
        try:
            await _story_step(out, story)
        except StoryStepFailed:
            return
    if auto is None or not auto.enabled:
        return
    completed = ["story"]
    for step in _auto_steps(auto):
        completed.append(step)
        await _queue_auto_step(out, story, auto, step, list(completed))
        await _work(out, story, step)  # the step's real work, after its "complete"
        if step == "images":
            # Production replaces the whole flags object here, losing audioGenerated.
            flags = StoryFlags(story_generated=True, images_generated=True, audio_generated=False)
        else:
            flags = story.flags.model_copy(update={"audio_generated": True})
        out.state.set_flags(story, flags)


async def _work(out: Broadcaster, story: StoryRecord, step: str) -> None:
    """``step_seconds`` of work; with a heartbeat, a 0 % progress event every so often."""
    beat, seconds = out.state.heartbeat, out.state.step_seconds
    if beat is None:
        await asyncio.sleep(seconds)
        return
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(beat, left))
        if time.monotonic() < deadline:
            progress = AutoModeProgress(
                story_id=story.id, step=step, progress=0, message="Working", timestamp=utc_now()
            )
            await out.to_story(story, progress)


def _without_offset(timestamp: str) -> str:
    """``2025-01-01T10:00:00.5+00:00`` or ``...Z`` as ``2025-01-01T10:00:00.5``."""
    for suffix in ("Z", "+00:00"):
        if timestamp.endswith(suffix):
            return timestamp[: -len(suffix)]
    return timestamp


def _auto_steps(auto: AutoModeConfig) -> list[str]:
    steps = ["images"] if auto.generate_images is not False else []
    # mergeAudio is accepted and ignored: production's merge job is never queued.
    return [*steps, "audio"] if auto.generate_audio is not False else steps


async def _queue_auto_step(
    out: Broadcaster, story: StoryRecord, auto: AutoModeConfig, step: str, done: list[str]
) -> None:
    """What production sends when it *queues* a step: start, a progress of 0, and "complete"."""
    now = utc_now()
    config = auto.to_wire()
    await out.to_story(
        story, AutoModeStart(story_id=story.id, step=step, config=config, timestamp=now)
    )
    await out.to_story(
        story,
        AutoModeProgress(
            story_id=story.id, step=step, progress=0, message=f"Queued {step}", timestamp=now
        ),
    )
    await out.to_story(
        story, AutoModeComplete(story_id=story.id, step=step, completed_steps=done, timestamp=now)
    )


async def _story_step(out: Broadcaster, story: StoryRecord) -> None:
    started = time.monotonic()
    await out.to_story(
        story,
        StoryProcessingStart(
            story_id=story.id, estimated_time=30_000, total_steps=3, timestamp=utc_now()
        ),
    )
    await _story_progress(out, story, 1, 10, "Reading original file")
    data = _original_bytes(out.state, story.file_url)
    if data is not None and data.startswith(SLOW_PREFIX):
        await asyncio.sleep(out.state.slow_for)  # simulated queue time, with nothing said
    if data is None or data.strip() == FAILING_CONTENT:
        reason = "Original file not found" if data is None else "Story generation failed"
        await _fail_story(out, story, reason, started)
    await _story_progress(out, story, 2, 50, "Generating story")
    await asyncio.sleep(out.state.pace)
    await _story_progress(out, story, 3, 90, "Saving story")
    _save_story(out.state, story, data.decode("utf-8", errors="replace").strip(), started)
    await out.to_story(
        story,
        StoryProcessingComplete(
            story_id=story.id,
            generated_word_count=story.generated_word_count,
            original_word_count=story.original_word_count,
            processing_time=story.processing_time,
            timestamp=utc_now(),
        ),
        extra={"generatedContent": story.generated_content},
    )


async def _fail_story(
    out: Broadcaster, story: StoryRecord, reason: str, started: float
) -> NoReturn:
    await out.to_story(
        story,
        StoryProcessingError(
            story_id=story.id,
            error=reason,
            step="story_generation",
            processing_time=(time.monotonic() - started) * 1000,
            retryable=False,
            timestamp=utc_now(),
        ),
    )
    raise StoryStepFailed(reason)


async def _story_progress(
    out: Broadcaster, story: StoryRecord, current: int, progress: float, message: str
) -> None:
    await out.to_story(
        story,
        StoryProcessingProgress(
            story_id=story.id,
            progress=progress,
            step="story_generation",
            message=message,
            current_step=current,
            total_steps=3,
            estimated_time_remaining=(3 - current) * out.state.pace * 1000,
            timestamp=utc_now(),
        ),
    )


def _original_bytes(state: ProductionState, file_url: str) -> bytes | None:
    upload = state.uploads.get(urlsplit(file_url).path.lstrip("/"))
    return upload.data if upload is not None else None


def _save_story(state: ProductionState, story: StoryRecord, text: str, started: float) -> None:
    story.generated_content = text
    story.generated_file = f"uploads/generated/{story.id}.txt"
    story.original_word_count = story.generated_word_count = len(text.split())
    story.processing_time = (time.monotonic() - started) * 1000
    state.set_flags(story, story.flags.model_copy(update={"story_generated": True}))
