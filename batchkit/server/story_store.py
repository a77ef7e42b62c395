"""The ``stories`` and ``media`` tables: each story, the state of its pipeline, what it made.

A story's text can be large, so what only answers questions about its state (the routes, the
status) reads the row without it (``with_content=False``), and :meth:`StoryStore.content`
reads it only when it is within a size (the length is kept in ``content_chars``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from batchkit.contract import FileState
from batchkit.server.database import Database, increment_counter
from batchkit.server.records import (
    BatchFileRecord,
    BatchRecord,
    MediaKind,
    MediaRecord,
    StoryRecord,
    new_id,
    utc_now,
)

__all__ = ["StoryContent", "StoryStore"]

# The columns a pipeline may change; anything else in :meth:`StoryStore.update` is a bug.
_UPDATABLE = frozenset(
    {
        "custom_prompt",
        "auto_mode",
        "state",
        "step",
        "step_progress",
        "completed_steps",
        "error",
        "generated_content",
        "original_word_count",
        "generated_word_count",
        "processing_time",
        "started_at",
        "completed_at",
    }
)


def _to_column(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return json.dumps([_to_column(item) for item in value])
    return value


@dataclass(frozen=True, slots=True)
class StoryContent:
    """A story's text if it is within the size asked for, and its length either way."""

    text: str | None
    chars: int | None
    """Characters of the whole text; ``None`` when there is no text."""

    @property
    def omitted(self) -> bool:
        return self.text is None and self.chars is not None


class StoryStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._summary_columns: str | None = None

    def _columns(self, connection: sqlite3.Connection, with_content: bool) -> str:
        """``*``, or every column but the text (named from the table, so none is forgotten)."""
        if with_content:
            return "*"
        if self._summary_columns is None:
            names = [row["name"] for row in connection.execute("PRAGMA table_info(stories)")]
            listed = [name for name in names if name != "generated_content"]
            self._summary_columns = ", ".join([*listed, "NULL AS generated_content"])
        return self._summary_columns

    async def content(self, story_id: str, *, max_chars: int) -> StoryContent:
        """The story's text when it has at most ``max_chars`` characters; its length always."""

        def work(connection: sqlite3.Connection) -> StoryContent:
            row = connection.execute(
                "SELECT content_chars FROM stories WHERE id = ?", (story_id,)
            ).fetchone()
            chars = None if row is None else row["content_chars"]
            if chars is None or chars > max_chars:
                return StoryContent(None, chars)
            text = connection.execute(
                "SELECT generated_content FROM stories WHERE id = ?", (story_id,)
            ).fetchone()["generated_content"]
            return StoryContent(text, chars)

        return await self._db.run(work)

    async def create_for_file(self, batch: BatchRecord, file: BatchFileRecord) -> StoryRecord:
        """Create the story record of one batch input and link the input to it."""

        def work(connection: sqlite3.Connection) -> StoryRecord:
            story_id, now = new_id(), utc_now()
            connection.execute(
                "INSERT INTO stories (id, user_id, batch_id, idx, title, custom_prompt, file_path,"
                " file_url, file_name, auto_mode, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    story_id,
                    batch.user_id,
                    batch.id,
                    file.index,
                    file.title,
                    file.custom_prompt,
                    file.file_path,
                    file.file_url,
                    file.file_name,
                    batch.auto_mode,
                    FileState.PENDING.value,
                    now,
                    now,
                ),
            )
            connection.execute(
                "UPDATE batch_files SET story_id = ? WHERE batch_id = ? AND idx = ?",
                (story_id, batch.id, file.index),
            )
            return _fetch(connection, story_id)

        return await self._db.transaction(work)

    async def get(
        self, story_id: str, *, user_id: str | None = None, with_content: bool = True
    ) -> StoryRecord | None:
        """The story, or ``None`` when it does not exist or (with ``user_id``) is not theirs.

        ``with_content=False`` leaves ``generated_content`` out (``None``).
        """

        def work(connection: sqlite3.Connection) -> sqlite3.Row | None:
            columns = self._columns(connection, with_content)
            query = f"SELECT {columns} FROM stories WHERE id = ?"  # noqa: S608 - column names from the schema
            row: sqlite3.Row | None = connection.execute(query, (story_id,)).fetchone()
            return row

        row = await self._db.run(work)
        if row is None or (user_id is not None and row["user_id"] != user_id):
            return None
        return StoryRecord.from_row(row)

    async def of_batch(self, batch_id: str, *, with_content: bool = True) -> list[StoryRecord]:
        """The batch's stories in input order (``with_content=False``: without their text)."""

        def work(connection: sqlite3.Connection) -> list[sqlite3.Row]:
            columns = self._columns(connection, with_content)
            query = f"SELECT {columns} FROM stories WHERE batch_id = ? ORDER BY idx"  # noqa: S608 - column names from the schema
            return connection.execute(query, (batch_id,)).fetchall()

        return [StoryRecord.from_row(row) for row in await self._db.run(work)]

    async def unfinished(self) -> list[StoryRecord]:
        """Stories whose pipeline a stop interrupted (pending or processing)."""
        rows = await self._db.run(
            lambda c: c.execute(
                "SELECT * FROM stories WHERE state IN (?, ?) ORDER BY created_at",
                (FileState.PENDING.value, FileState.PROCESSING.value),
            ).fetchall()
        )
        return [StoryRecord.from_row(row) for row in rows]

    async def update(self, story_id: str, **changes: Any) -> StoryRecord:
        """Change some columns (see ``_UPDATABLE``) and return the story as it now is."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        if "generated_content" in changes:
            content = changes["generated_content"]
            changes = {**changes, "content_chars": None if content is None else len(content)}
        assignments = ", ".join(f"{column} = ?" for column in changes)
        values = [_to_column(value) for value in changes.values()]

        def work(connection: sqlite3.Connection) -> StoryRecord:
            connection.execute(
                f"UPDATE stories SET {assignments}, updated_at = ? WHERE id = ?",  # noqa: S608 - columns are whitelisted above
                (*values, utc_now(), story_id),
            )
            return _fetch(connection, story_id)

        return await self._db.run(work)

    async def next_job_id(self) -> str:
        return await self._db.run(lambda c: str(increment_counter(c, "job")))

    async def media(self, story_id: str) -> list[MediaRecord]:
        rows = await self._db.run(
            lambda c: c.execute(
                "SELECT * FROM media WHERE story_id = ? ORDER BY kind, idx", (story_id,)
            ).fetchall()
        )
        return [MediaRecord.from_row(row) for row in rows]

    async def add_media(self, media: MediaRecord) -> None:
        await self._db.run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO media (story_id, name, kind, idx, style, prompt, duration)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    media.story_id,
                    media.name,
                    media.kind.value,
                    media.index,
                    media.style,
                    media.prompt,
                    media.duration,
                ),
            )
        )

    async def remove_media(self, story_id: str, kinds: Iterable[MediaKind]) -> list[MediaRecord]:
        """Forget the story's media of these kinds; returns what was forgotten (files stay)."""
        kind_values = [kind.value for kind in kinds]
        marks = ", ".join("?" for _ in kind_values)

        def work(connection: sqlite3.Connection) -> list[MediaRecord]:
            query = f"SELECT * FROM media WHERE story_id = ? AND kind IN ({marks})"  # noqa: S608 - only placeholders
            removed = connection.execute(query, (story_id, *kind_values)).fetchall()
            connection.execute(
                f"DELETE FROM media WHERE story_id = ? AND kind IN ({marks})",  # noqa: S608 - only placeholders
                (story_id, *kind_values),
            )
            return [MediaRecord.from_row(row) for row in removed]

        return await self._db.transaction(work)


def _fetch(connection: sqlite3.Connection, story_id: str) -> StoryRecord:
    row = connection.execute("SELECT * FROM stories WHERE id = ?", (story_id,)).fetchone()
    if row is None:
        raise LookupError(f"story {story_id} vanished from the database")
    return StoryRecord.from_row(row)
