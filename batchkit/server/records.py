"""What the database holds, as frozen values (one class per table), and how a row becomes one."""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from batchkit.contract import BatchState, FileState, PipelineStep

__all__ = [
    "BatchFileRecord",
    "BatchRecord",
    "MediaKind",
    "MediaRecord",
    "StoryRecord",
    "UploadRecord",
    "UserRecord",
    "new_id",
    "parse_time",
    "utc_now",
]


def new_id() -> str:
    """An opaque id shaped like production's ObjectIds (24 hex digits)."""
    return secrets.token_hex(12)


def utc_now() -> str:
    """Now, as the ISO-8601 text the database stores."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    username: str
    email: str
    full_name: str
    role: str
    token_generation: int = 0
    """Tokens carry the generation they were issued in; a password change or removal bumps it."""
    removed: bool = False

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> UserRecord:
        return cls(
            row["id"],
            row["username"],
            row["email"],
            row["full_name"],
            row["role"],
            row["token_generation"],
            bool(row["removed"]),
        )


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """One stored original: ``file_path`` is relative to the data directory."""

    file_path: str
    user_id: str
    file_name: str
    file_size: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> UploadRecord:
        return cls(row["file_path"], row["user_id"], row["file_name"], row["file_size"])


@dataclass(frozen=True, slots=True)
class BatchRecord:
    id: str
    user_id: str
    status: BatchState
    auto_mode: str
    """The request's ``autoMode`` object, as JSON text."""
    job_id: str
    total: int
    error: str | None
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> BatchRecord:
        return cls(
            id=row["id"],
            user_id=row["user_id"],
            status=BatchState(row["status"]),
            auto_mode=row["auto_mode"],
            job_id=row["job_id"],
            total=row["total"],
            error=row["error"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True, slots=True)
class BatchFileRecord:
    """One input of a batch; ``story_id`` is set once its story record exists."""

    batch_id: str
    index: int
    file_url: str
    file_path: str
    file_name: str
    title: str
    custom_prompt: str | None
    story_id: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> BatchFileRecord:
        return cls(
            batch_id=row["batch_id"],
            index=row["idx"],
            file_url=row["file_url"],
            file_path=row["file_path"],
            file_name=row["file_name"],
            title=row["title"],
            custom_prompt=row["custom_prompt"],
            story_id=row["story_id"],
        )


@dataclass(frozen=True, slots=True)
class StoryRecord:
    """A story and the state of its pipeline (``state``, ``step``, ``completed_steps``)."""

    id: str
    user_id: str
    batch_id: str | None
    index: int
    title: str
    custom_prompt: str | None
    file_path: str
    file_url: str
    file_name: str
    auto_mode: str
    state: FileState
    step: PipelineStep | None
    step_progress: float
    completed_steps: tuple[PipelineStep, ...]
    error: str | None
    generated_content: str | None
    original_word_count: int
    generated_word_count: int
    processing_time: float
    started_at: str | None
    completed_at: str | None
    created_at: str
    updated_at: str

    @property
    def finished(self) -> bool:
        return self.state in {FileState.COMPLETED, FileState.FAILED}

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoryRecord:
        step = row["step"]
        return cls(
            id=row["id"],
            user_id=row["user_id"],
            batch_id=row["batch_id"],
            index=row["idx"],
            title=row["title"],
            custom_prompt=row["custom_prompt"],
            file_path=row["file_path"],
            file_url=row["file_url"],
            file_name=row["file_name"],
            auto_mode=row["auto_mode"],
            state=FileState(row["state"]),
            step=PipelineStep(step) if step else None,
            step_progress=row["step_progress"],
            completed_steps=tuple(PipelineStep(s) for s in json.loads(row["completed_steps"])),
            error=row["error"],
            generated_content=row["generated_content"],
            original_word_count=row["original_word_count"],
            generated_word_count=row["generated_word_count"],
            processing_time=row["processing_time"],
            started_at=row["started_at"],
            completed_at=row["completed_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


class MediaKind(StrEnum):
    STORY_TEXT = "story"
    IMAGE = "image"
    AUDIO = "audio"
    MERGED_AUDIO = "merged"


@dataclass(frozen=True, slots=True)
class MediaRecord:
    """One generated file, stored as ``media/<story_id>/<name>`` under the data directory."""

    story_id: str
    name: str
    kind: MediaKind
    index: int
    style: str = ""
    prompt: str = ""
    duration: float = 0.0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> MediaRecord:
        return cls(
            story_id=row["story_id"],
            name=row["name"],
            kind=MediaKind(row["kind"]),
            index=row["idx"],
            style=row["style"],
            prompt=row["prompt"],
            duration=row["duration"],
        )
