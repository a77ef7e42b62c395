"""The jobs of one story's steps, and the media record each result becomes.

Pure data making: the files a story's jobs read and write (by their paths inside the data
directory, as jobs name them) and the parameters the plan gives them. The pipeline runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from batchkit.errors import EngineError
from batchkit.server.jobs import ImageJob, JobResult, JobSpec, MergeJob, SpeechJob, StoryJob
from batchkit.server.plan import PipelinePlan
from batchkit.server.records import MediaKind, MediaRecord
from batchkit.server.storage import DataPaths

__all__ = ["StepWork", "StoryJobs"]


@dataclass(frozen=True, slots=True)
class StepWork:
    """One job of a step, and what its file is recorded as once it is written."""

    job: JobSpec
    name: str
    kind: MediaKind
    index: int
    style: str = ""
    prompt: str = ""

    def record(self, story_id: str, result: JobResult) -> MediaRecord:
        duration = result.audio_seconds or 0.0
        return MediaRecord(
            story_id, self.name, self.kind, self.index, self.style, self.prompt, duration
        )


class StoryJobs:
    """Makes the jobs of the story ``story_id``."""

    def __init__(self, paths: DataPaths, story_id: str) -> None:
        self._paths = paths
        self._story_id = story_id

    def path(self, name: str) -> Path:
        """Where the story's file ``name`` lives."""
        path = self._paths.media_file(self._story_id, name)
        if path is None:  # pragma: no cover - names are made here, never by a client
            raise EngineError(f"bad media name {name!r}")
        return path

    def _relative(self, path: Path) -> str:
        return path.relative_to(self._paths.root).as_posix()

    def story(
        self, source: Path, plan: PipelinePlan, custom_prompt: str | None, max_words: int
    ) -> StoryJob:
        return StoryJob(
            source=self._relative(source),
            output=self._relative(self.path("story.txt")),
            generate_story=plan.generate_story,
            custom_prompt=custom_prompt,
            max_words=max_words,
        )

    def images(self, chunks: Sequence[str], plan: PipelinePlan) -> list[StepWork]:
        work = []
        for index, chunk in enumerate(chunks):
            name = f"image_{index:03d}.png"
            job = ImageJob(
                output=self._relative(self.path(name)),
                text=chunk,
                style=plan.image_style,
                index=index,
                prompt=plan.image_prompt,
            )
            prompt = plan.image_prompt or chunk[:200]
            work.append(StepWork(job, name, MediaKind.IMAGE, index, plan.image_style.value, prompt))
        return work

    def speech(self, chunks: Sequence[str], plan: PipelinePlan) -> list[StepWork]:
        work = []
        for index, chunk in enumerate(chunks):
            name = f"audio_{index:03d}.wav"
            job = SpeechJob(
                output=self._relative(self.path(name)),
                text=chunk,
                voice=plan.audio_voice,
                model=plan.model_voice.value,
            )
            work.append(StepWork(job, name, MediaKind.AUDIO, index))
        return work

    def merge(self, clips: Sequence[MediaRecord]) -> StepWork:
        job = MergeJob(
            output=self._relative(self.path("merged.wav")),
            sources=tuple(self._relative(self.path(clip.name)) for clip in clips),
        )
        return StepWork(job, "merged.wav", MediaKind.MERGED_AUDIO, 0)

    def media_sizes(self, media: Sequence[MediaRecord]) -> dict[MediaKind, int]:
        """Bytes on disk of the story's recorded files, by kind (blocking: call in a thread)."""
        sizes: dict[MediaKind, int] = {}
        for item in media:
            path = self._paths.media_file(self._story_id, item.name)
            size = path.stat().st_size if path is not None and path.is_file() else 0
            sizes[item.kind] = sizes.get(item.kind, 0) + size
        return sizes
