"""The pipeline of one story: ``story`` → ``images`` → ``audio`` → ``merge``, with its events.

Each step records its progress in the database before it tells the story's room, so a client
that reads the REST status after an event never sees an older state. A step that fails fails
its story alone; a cancelled pipeline (the server stopping) leaves its state as it was, so the
next start can resume it.

The engines' work is done by jobs on the worker pool (:mod:`batchkit.server.worker_pool`), one
job of a story at a time: the next chunk's job is queued as soon as the last one's result is in,
so a worker never waits while the server records a result. Before its first auto-mode step a
story's plan is checked against the limits of :mod:`batchkit.server.work_limits`, and each job
may write no more than what is left of the story's media budget. A failure that cannot be
recorded because the disk is full is recorded once there is room (:mod:`.disk_space`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from batchkit.contract import (
    AutoModeComplete,
    AutoModeError,
    AutoModeProgress,
    AutoModeStart,
    EventModel,
    FileState,
    PipelineStep,
    StoryProcessingComplete,
    StoryProcessingError,
    StoryProcessingProgress,
    StoryProcessingStart,
    story_room,
)
from batchkit.errors import DocumentError, EngineError, LimitExceeded
from batchkit.server.disk_space import describe_disk_full, is_disk_full, while_disk_full
from batchkit.server.emitter import RoomEmitter
from batchkit.server.engines.chunks import split_into_chunks
from batchkit.server.fair_queue import JobOwner
from batchkit.server.faults import FaultInjector
from batchkit.server.jobs import JobResult, JobSpec
from batchkit.server.plan import PipelinePlan
from batchkit.server.records import MediaKind, MediaRecord, StoryRecord, utc_now
from batchkit.server.storage import DataPaths
from batchkit.server.story_jobs import StepWork, StoryJobs
from batchkit.server.story_store import StoryStore
from batchkit.server.work_limits import StoryLimits
from batchkit.server.worker_pool import WorkerPool

__all__ = ["PipelineServices", "StoryPipeline", "forget_media"]

logger = logging.getLogger(__name__)

_STORY_STEP_NAME = "story_generation"
_STEP_MEDIA = {
    PipelineStep.STORY: (MediaKind.STORY_TEXT,),
    PipelineStep.IMAGES: (MediaKind.IMAGE,),
    PipelineStep.AUDIO: (MediaKind.AUDIO,),
    PipelineStep.MERGE: (MediaKind.MERGED_AUDIO,),
}


@dataclass(frozen=True, slots=True)
class PipelineServices:
    """What every pipeline needs from the server."""

    jobs: WorkerPool
    limits: StoryLimits
    stories: StoryStore
    emitter: RoomEmitter
    faults: FaultInjector
    paths: DataPaths
    pace: float


def _now() -> datetime:
    return datetime.now(UTC)


async def forget_media(
    services: PipelineServices, story_id: str, kinds: Iterable[MediaKind] = tuple(MediaKind)
) -> None:
    """Delete a story's generated files of these kinds, and their records."""
    removed = await services.stories.remove_media(story_id, kinds)
    for media in removed:
        path = services.paths.media_file(story_id, media.name)
        if path is not None:
            await asyncio.to_thread(path.unlink, missing_ok=True)


class StoryPipeline:
    """Runs the steps of one story that are not done yet."""

    def __init__(
        self,
        services: PipelineServices,
        story: StoryRecord,
        plan: PipelinePlan,
        *,
        rank: Callable[[], int] = lambda: 0,
    ) -> None:
        """``rank`` says, when a job is queued, the story's place among its batch's stories in
        progress (:class:`~batchkit.server.fair_queue.JobOwner`)."""
        self._services = services
        self._story = story
        self._plan = plan
        self._steps = plan.steps
        self._room = story_room(story.id)
        self._rank = rank
        self._jobs = StoryJobs(services.paths, story.id)
        self._media_bytes = 0
        # A resumed story keeps the time it had already spent.
        self._clock_start = time.monotonic() - story.processing_time / 1000

    @property
    def _elapsed_ms(self) -> float:
        return round((time.monotonic() - self._clock_start) * 1000, 1)

    async def run(self) -> StoryRecord:
        """Run every unfinished step; returns the story as it ended (completed or failed)."""
        step = self._steps[0]
        try:
            self._story = await self._update(
                state=FileState.PROCESSING,
                error=None,
                started_at=self._story.started_at or utc_now(),
            )
            for step in self._steps:
                if step not in self._story.completed_steps:
                    await self._run_step(step)
        except Exception as exc:  # one story's failure must never escape into the batch
            return await self._fail(step, exc)
        return await while_disk_full(
            lambda: self._update(
                state=FileState.COMPLETED, step=None, completed_at=utc_now(), **self._timing()
            ),
            f"the completion of story {self._story.id}",
        )

    def _timing(self) -> dict[str, float]:
        return {"processing_time": self._elapsed_ms}

    async def _update(self, **changes: object) -> StoryRecord:
        self._story = await self._services.stories.update(self._story.id, **changes)
        return self._story

    async def _emit(self, event: EventModel) -> None:
        await self._services.emitter.emit(self._room, event)

    async def _pace(self) -> None:
        if self._services.pace > 0:
            await asyncio.sleep(self._services.pace)

    async def _run_step(self, step: PipelineStep) -> None:
        await self._forget_media(step)
        if step is PipelineStep.STORY:
            await self._story_step()
            return
        await self._update(step=step, step_progress=0.0)
        await self._emit(
            AutoModeStart(
                story_id=self._story.id, step=step, config=self._plan.describe(), timestamp=_now()
            )
        )
        self._services.faults.check(step)
        await self._check_limits(step)
        if step is PipelineStep.IMAGES:
            await self._images_step()
        elif step is PipelineStep.AUDIO:
            await self._audio_step()
        else:
            await self._merge_step()
        await self._finish_step(step)
        await self._emit(
            AutoModeComplete(
                story_id=self._story.id,
                step=step,
                completed_steps=list(self._story.completed_steps),
                timestamp=_now(),
            )
        )

    async def _finish_step(self, step: PipelineStep, **changes: object) -> None:
        done = (*self._story.completed_steps, step)
        await self._update(completed_steps=done, step_progress=100.0, **changes, **self._timing())

    async def _forget_media(self, step: PipelineStep) -> None:
        """A step that runs again starts from nothing: drop what an earlier run left."""
        await forget_media(self._services, self._story.id, _STEP_MEDIA[step])

    async def _job(self, job: JobSpec) -> JobResult:
        """Run one job of this story; what it writes counts against the story's media budget."""
        remaining = max(0, self._services.limits.max_media_bytes - self._media_bytes)
        story = self._story
        owner = JobOwner(story.user_id, story.batch_id or story.id, story.index, self._rank())
        result = await self._services.jobs.run(owner, job, output_bytes=remaining)
        self._media_bytes += result.output_bytes
        return result

    # ---------------------------------------------------------------- limits
    async def _check_limits(self, step: PipelineStep) -> None:
        """Refuse this step and the ones after it, before any work, if they would pass a limit."""
        media = await self._services.stories.media(self._story.id)
        sizes = await asyncio.to_thread(self._jobs.media_sizes, media)
        self._media_bytes = sum(sizes.values())
        remaining = [
            s
            for s in self._steps[self._steps.index(step) :]
            if s not in self._story.completed_steps
        ]
        self._services.limits.check_plan(
            self._plan,
            self._story.generated_word_count,
            remaining,
            used_bytes=self._media_bytes,
            audio_bytes=sizes.get(MediaKind.AUDIO, 0),
        )

    # ---------------------------------------------------------------- story
    async def _story_progress(self, progress: float, message: str) -> None:
        await self._update(step=PipelineStep.STORY, step_progress=progress)
        remaining = (1 - progress / 100) * self._services.pace * 1000
        await self._emit(
            StoryProcessingProgress(
                story_id=self._story.id,
                progress=progress,
                step=_STORY_STEP_NAME,
                message=message,
                current_step=1,
                total_steps=len(self._steps),
                estimated_time_remaining=remaining,
                timestamp=_now(),
            )
        )

    async def _read_and_write(self) -> tuple[str, JobResult]:
        """The story written from the document (saved as ``story.txt``), and its word counts."""
        story = self._story
        await self._story_progress(0.0, f"Reading {story.file_name}")
        self._services.faults.check(PipelineStep.STORY)
        source = self._services.paths.stored_file(story.file_path)
        if source is None:
            raise DocumentError(f"{story.file_name}: the uploaded file is not on this server")
        output = self._jobs.path("story.txt")
        await asyncio.to_thread(output.parent.mkdir, parents=True, exist_ok=True)
        self._media_bytes = 0
        max_words = self._services.limits.max_words
        result = await self._job(
            self._jobs.story(source, self._plan, story.custom_prompt, max_words)
        )
        await self._story_progress(40.0, "Writing the story")
        return await asyncio.to_thread(output.read_text, "utf-8"), result

    async def _story_step(self) -> None:
        story = self._story
        await self._update(step=PipelineStep.STORY, step_progress=0.0)
        await self._emit(
            StoryProcessingStart(
                story_id=story.id,
                step=_STORY_STEP_NAME,
                estimated_time=self._services.pace * 1000,
                total_steps=len(self._steps),
                timestamp=_now(),
            )
        )
        content, result = await self._read_and_write()
        await self._services.stories.add_media(
            MediaRecord(story.id, "story.txt", MediaKind.STORY_TEXT, 0)
        )
        await self._pace()
        original_words, generated_words = result.original_words or 0, result.generated_words or 0
        await self._finish_step(
            PipelineStep.STORY,
            generated_content=content,
            original_word_count=original_words,
            generated_word_count=generated_words,
        )
        await self._emit(
            StoryProcessingComplete(
                story_id=story.id,
                generated_word_count=generated_words,
                original_word_count=original_words,
                processing_time=self._elapsed_ms,
                timestamp=_now(),
            )
        )

    # ---------------------------------------------------------------- auto-mode steps
    def _chunks(self, words_per_chunk: int, what: str) -> list[str]:
        chunks = split_into_chunks(self._story.generated_content or "", words_per_chunk)
        if not chunks:
            raise EngineError(f"{self._story.file_name}: the story has no words to {what}")
        return chunks

    async def _chunk_done(self, step: PipelineStep, done: int, total: int, noun: str) -> None:
        progress = round(100.0 * done / total, 2)
        await self._update(step_progress=progress)
        await self._emit(
            AutoModeProgress(
                story_id=self._story.id,
                step=step,
                progress=progress,
                message=f"{noun} {done} of {total}",
                current=done,
                total=total,
                timestamp=_now(),
            )
        )
        await self._pace()

    async def _run_chunks(self, step: PipelineStep, work: Sequence[StepWork], noun: str) -> None:
        """Run the step's jobs one after another, recording each result in order; the next job
        waits in the queue while the last one's result is recorded."""
        await asyncio.to_thread(
            self._services.paths.media_dir(self._story.id).mkdir, parents=True, exist_ok=True
        )
        upcoming: asyncio.Task[JobResult] | None = asyncio.create_task(self._job(work[0].job))
        try:
            for index, done in enumerate(work):
                assert upcoming is not None
                result = await upcoming
                upcoming = None
                if index + 1 < len(work):
                    upcoming = asyncio.create_task(self._job(work[index + 1].job))
                await self._services.stories.add_media(done.record(self._story.id, result))
                await self._chunk_done(step, index + 1, len(work), noun)
        finally:
            if upcoming is not None:
                _abandon(upcoming)

    async def _images_step(self) -> None:
        chunks = self._chunks(self._plan.words_per_image, "illustrate")
        await self._run_chunks(PipelineStep.IMAGES, self._jobs.images(chunks, self._plan), "Image")

    async def _audio_step(self) -> None:
        chunks = self._chunks(self._plan.words_per_audio, "narrate")
        work = self._jobs.speech(chunks, self._plan)
        await self._run_chunks(PipelineStep.AUDIO, work, "Audio clip")

    async def _merge_step(self) -> None:
        media = await self._services.stories.media(self._story.id)
        clips = sorted((m for m in media if m.kind is MediaKind.AUDIO), key=lambda m: m.index)
        if not clips:
            raise EngineError(f"{self._story.file_name}: there is no audio to merge")
        await self._run_chunks(PipelineStep.MERGE, [self._jobs.merge(clips)], "Merged audio")

    # ---------------------------------------------------------------- failure
    def _describe(self, step: PipelineStep, exc: Exception) -> str:
        if isinstance(exc, EngineError):
            text = str(exc)
        elif is_disk_full(exc):
            logger.warning("story %s: the disk is full (%s step): %s", self._story.id, step, exc)
            text = describe_disk_full(f"recording the {step.value} step")
        else:
            logger.error("story %s: %s step crashed", self._story.id, step, exc_info=exc)
            text = f"the {step.value} step failed unexpectedly ({type(exc).__name__}: {exc})"
        name = self._story.file_name
        return text if name in text else f"{name}: {text}"

    async def _fail(self, step: PipelineStep, exc: Exception) -> StoryRecord:
        message = self._describe(step, exc)
        retryable = not isinstance(exc, DocumentError | LimitExceeded)
        return await while_disk_full(
            lambda: self._record_failure(step, message, retryable=retryable),
            f"the failure of story {self._story.id}",
        )

    async def _record_failure(
        self, step: PipelineStep, message: str, *, retryable: bool
    ) -> StoryRecord:
        story = await self._update(
            state=FileState.FAILED, error=message, completed_at=utc_now(), **self._timing()
        )
        if step is PipelineStep.STORY:
            event: EventModel = StoryProcessingError(
                story_id=story.id,
                error=message,
                step=_STORY_STEP_NAME,
                processing_time=story.processing_time,
                retryable=retryable,
                timestamp=_now(),
            )
        else:
            event = AutoModeError(story_id=story.id, step=step, error=message, timestamp=_now())
        await self._emit(event)
        return story


def _abandon(task: asyncio.Task[JobResult]) -> None:
    """Cancel a job nobody will wait for, and take its outcome so none goes unretrieved."""
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
