"""Facts: everything the tracker learns about a run, as one replayable log.

Every input to the fold is a *fact*: a frozen pydantic model with the time batchkit received it
(``received_at``) and a ``kind`` that tells the facts apart in one discriminated union,
:data:`Fact`. Server events, REST snapshots, upload progress and clock ticks are all facts, so a
run's log (``events.jsonl``, one fact per line) replays to the same table. The fold never reads a
clock of its own: every time it shows comes from a fact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from batchkit.contract.events import ServerEvent
from batchkit.contract.limits import PipelineStep
from batchkit.contract.rest import BatchStatusResponse, StoryResponse
from batchkit.contract.wire import as_utc

__all__ = [
    "FACT_ADAPTER",
    "BatchCreatedFact",
    "BatchFailedFact",
    "EventFact",
    "Fact",
    "FactLog",
    "FilesPlanned",
    "FollowStoppedFact",
    "PlannedFile",
    "RegenerateFact",
    "RegenerateUndoneFact",
    "RetryFact",
    "StatusFact",
    "StoryFact",
    "TickFact",
    "UploadFailedFact",
    "UploadProgressFact",
    "UploadedFact",
]


class _FactModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    received_at: datetime
    """When batchkit learnt this fact (the client's clock, UTC)."""

    @field_validator("received_at", "now", check_fields=False)
    @classmethod
    def _in_utc(cls, moment: datetime) -> datetime:
        return as_utc(moment)


class PlannedFile(BaseModel):
    """One file of a run as planned: its name, its size in bytes, and why it was refused, if so.

    A file with a ``rejection`` never leaves the machine; it stays in the table as ``failed``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    size: int = Field(ge=0)
    rejection: str | None = None


class FilesPlanned(_FactModel):
    """The run itself: always the first fact of a log."""

    kind: Literal["files-planned"] = "files-planned"
    run_id: str
    files: tuple[PlannedFile, ...]
    steps: tuple[PipelineStep, ...]
    reportable_steps: tuple[PipelineStep, ...]
    stall_timeout: float = Field(gt=0)
    give_up_after: float | None = Field(default=None, gt=0)
    """Fail a file in a batch that hears nothing for this long (a server that reports failures
    only by events a client can miss); None: wait as long as it takes."""
    events_confirm: bool = True
    """The server's events confirm the work they report (the reference server). False: they
    run ahead of the work (production, contract §7.4), and only REST confirms a step."""
    retried_batches: bool = False
    """The server may run a batch again after its worker crashed (production, §7.7). Then a
    ``failed`` batch status is final only after ``batch_failure_grace`` seconds with no sign of
    a retry, and stories are placed on rows by their file, since a retry makes them again."""
    batch_failure_grace: float = Field(default=60.0, ge=0)


class EventFact(_FactModel):
    """A message received on the socket."""

    kind: Literal["event"] = "event"
    event: ServerEvent


class StatusFact(_FactModel):
    """A batch's status read over REST (``GET .../status``)."""

    kind: Literal["status"] = "status"
    status: BatchStatusResponse


class StoryFact(_FactModel):
    """One story read over REST (``GET /api/stories/{id}``); its text is not kept."""

    kind: Literal["story"] = "story"
    story: StoryResponse

    @field_validator("story")
    @classmethod
    def _without_content(cls, story: StoryResponse) -> StoryResponse:
        # The log records what happened, not the stories: a poll every few seconds would
        # otherwise copy the whole text into events.jsonl each time.
        if story.generated_content is None:
            return story
        return story.model_copy(update={"generated_content": None})


class UploadProgressFact(_FactModel):
    """``sent`` of ``total`` bytes of file ``index`` have gone out."""

    kind: Literal["upload-progress"] = "upload-progress"
    index: int
    sent: int = Field(ge=0)
    total: int = Field(ge=0)


class UploadedFact(_FactModel):
    """File ``index`` was uploaded and the server gave it ``file_url``."""

    kind: Literal["uploaded"] = "uploaded"
    index: int
    file_url: str


class UploadFailedFact(_FactModel):
    """File ``index`` could not be uploaded."""

    kind: Literal["upload-failed"] = "upload-failed"
    index: int
    error: str


class BatchCreatedFact(_FactModel):
    """A batch was created from the run's files ``indices``, in input order."""

    kind: Literal["batch-created"] = "batch-created"
    batch_id: str
    indices: tuple[int, ...]
    job_id: str | None = None


class BatchFailedFact(_FactModel):
    """Creating a batch of the files ``indices`` failed (there may be no batch id at all)."""

    kind: Literal["batch-failed"] = "batch-failed"
    indices: tuple[int, ...]
    error: str
    batch_id: str | None = None


class RegenerateFact(_FactModel):
    """File ``index``'s story is being generated again (``POST /api/stories/{id}/generate``
    is about to be sent): a new attempt starts."""

    kind: Literal["regenerate"] = "regenerate"
    index: int


class RegenerateUndoneFact(_FactModel):
    """The regeneration of file ``index`` was refused: its story is as it was before."""

    kind: Literal["regenerate-undone"] = "regenerate-undone"
    index: int
    error: str


class RetryFact(_FactModel):
    """Files ``indices`` are sent again (Retry): each starts a new attempt in a new batch."""

    kind: Literal["retry"] = "retry"
    indices: tuple[int, ...]


class FollowStoppedFact(_FactModel):
    """Following stopped for ``reason``: batch ``batch_id``'s unfinished files fail (every
    unfinished file of the run when ``batch_id`` is None)."""

    kind: Literal["follow-stopped"] = "follow-stopped"
    reason: str
    batch_id: str | None = None


class TickFact(_FactModel):
    """The clock read ``now``: drives the stall check, and replays like any other fact."""

    kind: Literal["tick"] = "tick"
    now: datetime


Fact = Annotated[
    FilesPlanned
    | EventFact
    | StatusFact
    | StoryFact
    | UploadProgressFact
    | UploadedFact
    | UploadFailedFact
    | BatchCreatedFact
    | BatchFailedFact
    | RegenerateFact
    | RegenerateUndoneFact
    | RetryFact
    | FollowStoppedFact
    | TickFact,
    Field(discriminator="kind"),
]
"""Anything the tracker folds, told apart by ``kind``."""

FACT_ADAPTER: TypeAdapter[Fact] = TypeAdapter(Fact)
"""Reads a fact back: ``FACT_ADAPTER.validate_json(line)``."""


class FactLog(Protocol):
    """Where a run writes each fact as it arrives (``batchkit.runs.EventLog`` is one)."""

    def append_line(self, line: str) -> None:
        """Record one fact as its JSON line (no newline); called once per fact, in order."""
