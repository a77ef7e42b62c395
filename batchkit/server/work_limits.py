"""The work one story may cost, and the checks that refuse it before the work starts.

Three limits bound a story (words once its text is extracted, chunks in one step, bytes of media
it may write) and three bound each job of its pipeline (CPU time, memory, wall-clock time); every
one is a setting of :class:`~batchkit.server.settings.ServerSettings`, named by :class:`Limit`,
and a story refused by one fails with a :class:`~batchkit.errors.LimitExceeded` that names it.
The words are counted by the story job (:mod:`batchkit.server.worker`), the job limits are
enforced by the worker and its pool; the chunks and the media bytes are checked here, before the
first auto-mode step, from what the plan would make (an estimate erring on the large side), and
the media bytes again as each file is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from batchkit.contract import PipelineStep
from batchkit.errors import LimitExceeded
from batchkit.server.engines.audio import estimated_wav_bytes
from batchkit.server.plan import PipelinePlan

__all__ = ["IMAGE_BYTES_ESTIMATE", "Limit", "StoryLimits", "describe_bytes"]

IMAGE_BYTES_ESTIMATE: Final = 512 * 1024
"""Bytes of one picture, on the large side: the largest style (watercolor) makes ~400 KB."""


class Limit(StrEnum):
    """Each limit, by the name of the setting it is read from."""

    STORY_WORDS = "max_story_words"
    CHUNKS_PER_STEP = "max_chunks_per_step"
    MEDIA_BYTES = "max_media_bytes_per_story"
    JOB_CPU = "job_cpu_seconds"
    JOB_MEMORY = "job_memory_bytes"
    JOB_WALL = "job_wall_seconds"


def describe_bytes(count: int) -> str:
    """``count`` bytes in MiB, as the messages give them."""
    return f"{count / (1024 * 1024):,.1f} MiB"


def media_limit_message(needed: int, limit: int, what: str) -> str:
    return (
        f"{what} would need {describe_bytes(needed)} of media; the limit is "
        f"{describe_bytes(limit)} a story ({Limit.MEDIA_BYTES})"
    )


@dataclass(frozen=True, slots=True)
class StoryLimits:
    """What one story may cost (see :class:`~batchkit.server.settings.ServerSettings`)."""

    max_words: int
    max_chunks_per_step: int
    max_media_bytes: int

    def check_plan(
        self,
        plan: PipelinePlan,
        words: int,
        steps: Sequence[PipelineStep],
        *,
        used_bytes: int,
        audio_bytes: int,
    ) -> None:
        """Refuse ``steps`` (the ones still to run) if they would pass a limit.

        ``used_bytes`` is what the story's media take now; ``audio_bytes`` what its audio
        chunks take (what a merge would copy when the audio step is not among ``steps``).

        Raises:
            LimitExceeded: too many chunks for a step, or too many bytes of media.
        """
        needed = used_bytes
        if PipelineStep.IMAGES in steps:
            chunks = self._check_chunks(PipelineStep.IMAGES, words, plan.words_per_image)
            needed += chunks * IMAGE_BYTES_ESTIMATE
        if PipelineStep.AUDIO in steps:
            self._check_chunks(PipelineStep.AUDIO, words, plan.words_per_audio)
            audio_bytes = estimated_wav_bytes(words, plan.model_voice.value)
            needed += audio_bytes
        if PipelineStep.MERGE in steps:
            needed += audio_bytes
        if needed > self.max_media_bytes:
            steps_named = ", ".join(step.value for step in steps)
            raise LimitExceeded(
                media_limit_message(needed, self.max_media_bytes, f"the {steps_named} steps"),
                limit=Limit.MEDIA_BYTES,
            )

    def _check_chunks(self, step: PipelineStep, words: int, words_per_chunk: int) -> int:
        chunks = -(-words // words_per_chunk)
        if chunks > self.max_chunks_per_step:
            raise LimitExceeded(
                f"the {step.value} step would need {chunks:,} chunks of {words_per_chunk:,} "
                f"words; the limit is {self.max_chunks_per_step:,} chunks a step "
                f"({Limit.CHUNKS_PER_STEP})",
                limit=Limit.CHUNKS_PER_STEP,
            )
        return chunks
