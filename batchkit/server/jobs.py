"""The work of an engine worker, described by data: job specs, their limits, their replies.

A job names its inputs and its one output by paths relative to the data directory, carries every
parameter its engine needs, and is answered by a :class:`JobReply` once its output file is
complete. Nothing in a job refers to the server's memory, so a worker can be any process that
sees the data directory: today a child process of the server
(:mod:`batchkit.server.worker_pool`), later one on another machine that mounts it. Requests and
replies travel as one JSON line each (:mod:`batchkit.server.worker` reads and writes them).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from batchkit.contract import ImageStyle

__all__ = [
    "FailureKind",
    "ImageJob",
    "JobFailure",
    "JobKind",
    "JobLimits",
    "JobReply",
    "JobRequest",
    "JobResult",
    "JobSpec",
    "MergeJob",
    "SpeechJob",
    "StoryJob",
    "WorkerReady",
]


class JobKind(StrEnum):
    STORY = "story"
    IMAGE = "image"
    SPEECH = "speech"
    MERGE = "merge"


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Job(_Wire):
    output: str
    """Where the result goes, relative to the data directory; written only by this job."""

    @property
    def output_name(self) -> str:
        return self.output.rsplit("/", 1)[-1]


class StoryJob(_Job):
    """Extract a document's text and write the story from it (``story.txt``)."""

    kind: Literal[JobKind.STORY] = JobKind.STORY
    source: str
    generate_story: bool
    custom_prompt: str | None
    max_words: int = Field(ge=1)
    """Refuse a document with more words than this once its text is extracted."""

    def describe(self) -> str:
        return "reading the document"


class ImageJob(_Job):
    """Paint one chunk of the story as a PNG."""

    kind: Literal[JobKind.IMAGE] = JobKind.IMAGE
    text: str
    style: ImageStyle
    index: int = Field(ge=0)
    prompt: str | None

    def describe(self) -> str:
        return f"drawing {self.output_name}"


class SpeechJob(_Job):
    """Speak one chunk of the story into a WAV file."""

    kind: Literal[JobKind.SPEECH] = JobKind.SPEECH
    text: str
    voice: str
    model: str

    def describe(self) -> str:
        return f"speaking {self.output_name}"


class MergeJob(_Job):
    """Join WAV files end to end."""

    kind: Literal[JobKind.MERGE] = JobKind.MERGE
    sources: tuple[str, ...]

    def describe(self) -> str:
        return f"merging the audio into {self.output_name}"


JobSpec = Annotated[StoryJob | ImageJob | SpeechJob | MergeJob, Field(discriminator="kind")]


class JobLimits(_Wire):
    """What one job may cost the worker that runs it (the wall clock is the pool's to watch)."""

    cpu_seconds: float = Field(gt=0)
    memory_bytes: int = Field(gt=0)
    """The worker process's address space while the job runs."""
    output_bytes: int = Field(ge=0)
    """The largest file the job may write: what is left of its story's media budget."""


class JobRequest(_Wire):
    id: int
    job: JobSpec
    limits: JobLimits


class JobResult(_Wire):
    """What a finished job reports; its output file is complete when this is sent."""

    output_bytes: int
    cpu_seconds: float
    audio_seconds: float | None = None
    original_words: int | None = None
    generated_words: int | None = None


class FailureKind(StrEnum):
    DOCUMENT = "document"
    """The document itself is at fault: retrying cannot help."""
    LIMIT = "limit"
    """A stated limit was reached; ``JobFailure.limit`` names the setting."""
    DISK_FULL = "disk-full"
    ENGINE = "engine"


class JobFailure(_Wire):
    kind: FailureKind
    message: str
    limit: str | None = None


class JobReply(_Wire):
    """The answer to one :class:`JobRequest`: a result or a failure (never both).

    ``retire`` says the worker exits after this reply (its state may be spoilt: a limit hit
    mid-way, or an unexpected error), so the pool must start another.
    """

    id: int
    result: JobResult | None = None
    failure: JobFailure | None = None
    retire: bool = False


class WorkerReady(_Wire):
    """A worker's first line: its engines are loaded, jobs may come (the wall clock of a job
    never counts a worker's start)."""

    pid: int
