"""Runs batches and single-story re-runs on the worker pool, and resumes after a stop.

A batch first creates the story record of every input (``batch-stories-progress`` after each),
then runs the stories' pipelines, as many at once as its share of the workers
(:mod:`batchkit.server.story_shares`; the others stay ``pending``), and ends with
``batch-stories-complete`` once every pipeline has ended. Batches never wait for each other's
stories: their jobs meet in the pool's queue, which serves users, then batches, in turn
(:mod:`batchkit.server.fair_queue`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from batchkit.contract import (
    BatchState,
    BatchStoriesComplete,
    BatchStoriesError,
    BatchStoriesProgress,
    BatchStoriesStart,
    FileState,
    StoryProcessingError,
    batch_room,
    story_room,
)
from batchkit.server.batch_store import BatchStore
from batchkit.server.disk_space import while_disk_full
from batchkit.server.pipeline import PipelineServices, StoryPipeline, forget_media
from batchkit.server.plan import PipelinePlan
from batchkit.server.records import BatchRecord, StoryRecord, utc_now
from batchkit.server.story_shares import StoryShares
from batchkit.server.views import batch_status

__all__ = ["INTERRUPTED", "BatchRunner", "StoryBusy"]

logger = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the server stopped before this finished"


class StoryBusy(Exception):
    """The story's pipeline is queued or running; it cannot be started again yet."""


def _now() -> datetime:
    return datetime.now(UTC)


def _log_crash(task: asyncio.Task[None]) -> None:
    """Take the outcome of a finished task, so that nothing is left "never retrieved"."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.error("%s crashed", task.get_name(), exc_info=exc)


class BatchRunner:
    """Owns every pipeline task; :meth:`shutdown` interrupts them all."""

    def __init__(
        self, services: PipelineServices, batches: BatchStore, *, workers: int, resume: bool
    ) -> None:
        self._services = services
        self._batches = batches
        self._stories = services.stories
        self._emitter = services.emitter
        self._shares = StoryShares(workers)
        self._resume = resume
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: set[str] = set()
        self._gate = asyncio.Event()
        self._gate.set()

    # ---------------------------------------------------------------- control
    def hold(self) -> None:
        """New batches wait before their first event until :meth:`release` (tests, demos)."""
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def is_busy(self, story_id: str) -> bool:
        return story_id in self._busy

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_crash)

    def warm_up(self) -> None:
        """Start the engine workers in the background (the server's start does not wait)."""
        self._services.jobs.warm_up()

    async def shutdown(self) -> None:
        """Interrupt every pipeline (their state stays in the database for the next start),
        then stop the engine workers."""
        self._gate.set()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._services.jobs.close()

    # ---------------------------------------------------------------- batches
    def start_batch(self, batch_id: str) -> None:
        self._spawn(self._run_batch(batch_id), f"batch-{batch_id}")

    async def _run_batch(self, batch_id: str) -> None:
        await self._gate.wait()
        batch = await self._batches.get(batch_id)
        if batch is None:  # pragma: no cover - ids come from the database
            return
        room = batch_room(batch_id)
        try:
            if batch.status is BatchState.PENDING:
                await self._batches.set_status(batch_id, BatchState.PROCESSING)
                await self._emitter.emit(
                    room,
                    BatchStoriesStart(
                        batch_id=batch_id, total_stories=batch.total, timestamp=_now()
                    ),
                )
            stories = await self._create_records(batch)
            await self._run_stories(batch_id, stories, PipelinePlan.from_json(batch.auto_mode))
            await while_disk_full(lambda: self._finish_batch(batch), f"the end of batch {batch_id}")
        except Exception as exc:  # the batch itself broke, not one of its stories
            logger.error("batch %s failed", batch_id, exc_info=exc)
            message = f"the batch could not be processed: {type(exc).__name__}: {exc}"
            await while_disk_full(
                lambda: self._record_batch_failure(batch_id, message),
                f"the failure of batch {batch_id}",
            )

    async def _record_batch_failure(self, batch_id: str, message: str) -> None:
        await self._batches.set_status(batch_id, BatchState.FAILED, error=message)
        await self._emitter.emit(
            batch_room(batch_id),
            BatchStoriesError(batch_id=batch_id, error=message, timestamp=_now()),
        )

    async def _create_records(self, batch: BatchRecord) -> list[StoryRecord]:
        """Every input's story record (made now where missing), in input order."""
        files = await self._batches.files(batch.id)
        existing = {s.id: s for s in await self._stories.of_batch(batch.id)}
        stories: list[StoryRecord] = []
        for file in files:
            if file.story_id is not None and file.story_id in existing:
                story = existing[file.story_id]
            else:
                story = await self._stories.create_for_file(batch, file)
                await self._announce(batch, file.index, story)
            if not story.finished:
                self._busy.add(story.id)  # from now on a re-run must wait for the batch
            stories.append(story)
        return stories

    async def _announce(self, batch: BatchRecord, index: int, story: StoryRecord) -> None:
        await self._emitter.emit(
            batch_room(batch.id),
            BatchStoriesProgress(
                batch_id=batch.id,
                current_story=index + 1,
                total_stories=batch.total,
                progress=round(100.0 * (index + 1) / batch.total, 2),
                message=f"Created story {index + 1} of {batch.total}: {story.file_name}",
                story_id=story.id,
                file_name=story.file_name,
                timestamp=_now(),
            ),
        )

    async def _run_stories(
        self, batch_id: str, stories: list[StoryRecord], plan: PipelinePlan
    ) -> None:
        pending = [story for story in stories if not story.finished]
        if not plan.enabled:
            # Auto mode off: the records are the whole job.
            for story in pending:
                now = utc_now()
                await self._stories.update(
                    story.id, state=FileState.COMPLETED, started_at=now, completed_at=now
                )
                self._busy.discard(story.id)
            return
        async with self._shares.batch(batch_id):
            results = await asyncio.gather(
                *(self._run_story(story, batch_id) for story in pending), return_exceptions=True
            )
        for story, result in zip(pending, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result  # cancelled: the server is stopping
            if isinstance(result, Exception):
                logger.error("story %s crashed", story.id, exc_info=result)

    async def _run_story(self, story: StoryRecord, batch_id: str | None = None) -> None:
        """Run one story's pipeline; a batch's story first waits for its batch's share."""
        try:
            if batch_id is None:
                await self._pipeline(story, lambda: 0).run()
                return
            async with self._shares.story(batch_id, story.index):
                await self._pipeline(story, lambda: self._shares.rank(batch_id, story.index)).run()
        finally:
            self._busy.discard(story.id)

    def _pipeline(self, story: StoryRecord, rank: Callable[[], int]) -> StoryPipeline:
        plan = PipelinePlan.from_json(story.auto_mode)
        return StoryPipeline(self._services, story, plan, rank=rank)

    async def _finish_batch(self, batch: BatchRecord) -> None:
        files = await self._batches.files(batch.id)
        stories = {s.id: s for s in await self._stories.of_batch(batch.id)}
        status = batch_status(batch, files, stories)
        final = (
            BatchState.FAILED
            if status.failed_stories == status.total_stories
            else BatchState.COMPLETED
        )
        await self._batches.set_status(batch.id, final)
        await self._emitter.emit(
            batch_room(batch.id),
            BatchStoriesComplete(
                batch_id=batch.id,
                total_stories=status.total_stories,
                completed_stories=status.completed_stories,
                failed_stories=status.failed_stories,
                story_ids=status.story_ids,
                errors=status.errors,
                timestamp=_now(),
            ),
        )

    # ---------------------------------------------------------------- one story again
    async def regenerate(
        self, story: StoryRecord, *, custom_prompt: str, auto_mode: str
    ) -> StoryRecord:
        """Reset ``story`` and run its whole pipeline again; :class:`StoryBusy` if it runs."""
        if story.id in self._busy:
            raise StoryBusy(story.id)
        self._busy.add(story.id)
        try:
            reset = await self._stories.update(
                story.id,
                custom_prompt=custom_prompt,
                auto_mode=auto_mode,
                state=FileState.PENDING,
                step=None,
                step_progress=0.0,
                completed_steps=(),
                error=None,
                generated_content=None,
                processing_time=0.0,
                started_at=None,
                completed_at=None,
            )
            await forget_media(self._services, story.id)
        except BaseException:
            self._busy.discard(story.id)
            raise
        self._spawn(self._run_story(reset), f"story-{story.id}")
        return reset

    # ---------------------------------------------------------------- after a restart
    async def resume_interrupted(self) -> None:
        """Resume (or, when resuming is off, fail) whatever a stop interrupted."""
        batches = await self._batches.unfinished()
        batch_ids = {batch.id for batch in batches}
        loose = [s for s in await self._stories.unfinished() if s.batch_id not in batch_ids]
        for batch in batches:
            if self._resume:
                logger.info("resuming batch %s", batch.id)
                self.start_batch(batch.id)
            else:
                await self._fail_interrupted_batch(batch)
        for story in loose:
            if self._resume:
                self._busy.add(story.id)
                self._spawn(self._run_story(story), f"story-{story.id}")
            else:
                await self._fail_interrupted_story(story)

    async def _fail_interrupted_story(self, story: StoryRecord) -> None:
        failed = await self._stories.update(
            story.id, state=FileState.FAILED, error=INTERRUPTED, completed_at=utc_now()
        )
        await self._emitter.emit(
            story_room(story.id),
            StoryProcessingError(
                story_id=story.id,
                error=INTERRUPTED,
                step=failed.step.value if failed.step else "",
                processing_time=failed.processing_time,
                retryable=True,
                timestamp=_now(),
            ),
        )

    async def _fail_interrupted_batch(self, batch: BatchRecord) -> None:
        for story in await self._stories.of_batch(batch.id):
            if not story.finished:
                await self._fail_interrupted_story(story)
        await self._batches.set_status(batch.id, BatchState.FAILED, error=INTERRUPTED)
        await self._emitter.emit(
            batch_room(batch.id),
            BatchStoriesError(batch_id=batch.id, error=INTERRUPTED, timestamp=_now()),
        )
