"""The pipeline of one story: ``story`` → ``images`` → ``audio`` → ``merge``, with its events.

Each step records its progress in the database before it tells the story's room, so a client
that reads the REST status after an event never sees an older state. A step that fails fails
its story alone; a cancelled pipeline (the server stopping) leaves its state as it was, so the
next start can resume it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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
from batchkit.errors import DocumentError, EngineError
from batchkit.server.emitter import RoomEmitter
from batchkit.server.faults import FaultInjector
from batchkit.server.plan import PipelinePlan
from batchkit.server.records import MediaKind, MediaRecord, StoryRecord, utc_now
from batchkit.server.settings import Engines
from batchkit.server.storage import DataPaths
from batchkit.server.story_store import StoryStore

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

    engines: Engines
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

    def __init__(self, services: PipelineServices, story: StoryRecord, plan: PipelinePlan) -> None:
        self._services = services
        self._story = story
        self._plan = plan
        self._steps = plan.steps
        self._room = story_room(story.id)
        # A resumed story keeps the time it had already spent.
        self._clock_start = time.monotonic() - story.processing_time / 1000

    @property
    def _elapsed_ms(self) -> float:
        return round((time.monotonic() - self._clock_start) * 1000, 1)

    async def run(self) -> StoryRecord:
        """Run every unfinished step; returns the story as it ended (completed or failed)."""
        self._story = await self._update(
            state=FileState.PROCESSING, error=None, started_at=self._story.started_at or utc_now()
        )
        for step in self._steps:
            if step in self._story.completed_steps:
                continue
            try:
                await self._run_step(step)
            except Exception as exc:  # one story's failure must never escape into the batch
                return await self._fail(step, exc)
        return await self._update(
            state=FileState.COMPLETED, step=None, completed_at=utc_now(), **self._timing()
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

    def _media_path(self, name: str) -> Path:
        path = self._services.paths.media_file(self._story.id, name)
        if path is None:  # pragma: no cover - names are made here, never by a client
            raise EngineError(f"bad media name {name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

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

    async def _read_and_write(self) -> tuple[str, str]:
        """The document's text and the story written from it (saved as ``story.txt``)."""
        engines, story = self._services.engines, self._story
        await self._story_progress(0.0, f"Reading {story.file_name}")
        self._services.faults.check(PipelineStep.STORY)
        source = self._services.paths.stored_file(story.file_path)
        if source is None:
            raise DocumentError(f"{story.file_name}: the uploaded file is not on this server")
        text = await asyncio.to_thread(engines.extract_text, source)
        await self._story_progress(40.0, "Writing the story")
        if self._plan.generate_story:
            content = await asyncio.to_thread(engines.write_story, text, story.custom_prompt)
        else:
            content = text
        await asyncio.to_thread(self._media_path("story.txt").write_text, content, "utf-8")
        return text, content

    async def _story_step(self) -> None:
        engines, story = self._services.engines, self._story
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
        text, content = await self._read_and_write()
        await self._services.stories.add_media(
            MediaRecord(story.id, "story.txt", MediaKind.STORY_TEXT, 0)
        )
        await self._pace()
        original_words, generated_words = engines.word_count(text), engines.word_count(content)
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
        content = self._story.generated_content or ""
        chunks = self._services.engines.split_into_chunks(content, words_per_chunk)
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

    async def _images_step(self) -> None:
        plan, render = self._plan, self._services.engines.render_image
        chunks = self._chunks(plan.words_per_image, "illustrate")
        for index, chunk in enumerate(chunks):
            name = f"image_{index:03d}.png"
            await asyncio.to_thread(
                render,
                chunk,
                style=plan.image_style,
                index=index,
                prompt=plan.image_prompt,
                path=self._media_path(name),
            )
            await self._services.stories.add_media(
                MediaRecord(
                    self._story.id,
                    name,
                    MediaKind.IMAGE,
                    index,
                    style=plan.image_style.value,
                    prompt=plan.image_prompt or chunk[:200],
                )
            )
            await self._chunk_done(PipelineStep.IMAGES, index + 1, len(chunks), "Image")

    async def _audio_step(self) -> None:
        plan, synthesize = self._plan, self._services.engines.synthesize
        chunks = self._chunks(plan.words_per_audio, "narrate")
        for index, chunk in enumerate(chunks):
            name = f"audio_{index:03d}.wav"
            seconds = await asyncio.to_thread(
                synthesize,
                chunk,
                voice=plan.audio_voice,
                model=plan.model_voice.value,
                path=self._media_path(name),
            )
            await self._services.stories.add_media(
                MediaRecord(self._story.id, name, MediaKind.AUDIO, index, duration=seconds)
            )
            await self._chunk_done(PipelineStep.AUDIO, index + 1, len(chunks), "Audio clip")

    async def _merge_step(self) -> None:
        media = await self._services.stories.media(self._story.id)
        clips = sorted((m for m in media if m.kind is MediaKind.AUDIO), key=lambda m: m.index)
        if not clips:
            raise EngineError(f"{self._story.file_name}: there is no audio to merge")
        paths = [self._media_path(clip.name) for clip in clips]
        target = self._media_path("merged.wav")
        seconds = await asyncio.to_thread(self._services.engines.merge_wavs, paths, target)
        await self._services.stories.add_media(
            MediaRecord(self._story.id, "merged.wav", MediaKind.MERGED_AUDIO, 0, duration=seconds)
        )
        await self._chunk_done(PipelineStep.MERGE, 1, 1, "Merged audio")

    # ---------------------------------------------------------------- failure
    def _describe(self, step: PipelineStep, exc: Exception) -> str:
        if isinstance(exc, EngineError):
            text = str(exc)
        else:
            logger.error("story %s: %s step crashed", self._story.id, step, exc_info=exc)
            text = f"the {step.value} step failed unexpectedly ({type(exc).__name__}: {exc})"
        name = self._story.file_name
        return text if name in text else f"{name}: {text}"

    async def _fail(self, step: PipelineStep, exc: Exception) -> StoryRecord:
        message = self._describe(step, exc)
        story = await self._update(
            state=FileState.FAILED, error=message, completed_at=utc_now(), **self._timing()
        )
        if step is PipelineStep.STORY:
            event: EventModel = StoryProcessingError(
                story_id=story.id,
                error=message,
                step=_STORY_STEP_NAME,
                processing_time=story.processing_time,
                retryable=not isinstance(exc, DocumentError),
                timestamp=_now(),
            )
        else:
            event = AutoModeError(story_id=story.id, step=step, error=message, timestamp=_now())
        await self._emit(event)
        return story
