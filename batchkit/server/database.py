"""The server's SQLite database: one connection, owned by one thread, reached from the event loop.

Every query runs on a dedicated single-thread executor, so calls are serialised without a lock,
the connection never changes thread, and the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

__all__ = ["PRIVATE_FILE_MODE", "Database", "increment_counter"]

PRIVATE_FILE_MODE = 0o600
"""The database holds password hashes: only the server's own user may read it."""

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    full_name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT 'user',
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    file_path TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    file_name TEXT NOT NULL,
    file_size INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    status TEXT NOT NULL,
    auto_mode TEXT NOT NULL,
    job_id TEXT NOT NULL,
    total INTEGER NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_files (
    batch_id TEXT NOT NULL REFERENCES batches(id),
    idx INTEGER NOT NULL,
    file_url TEXT NOT NULL,
    file_path TEXT NOT NULL,
    file_name TEXT NOT NULL,
    title TEXT NOT NULL,
    custom_prompt TEXT,
    story_id TEXT,
    PRIMARY KEY (batch_id, idx)
);
CREATE TABLE IF NOT EXISTS stories (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    batch_id TEXT,
    idx INTEGER NOT NULL DEFAULT 0,
    title TEXT NOT NULL,
    custom_prompt TEXT,
    file_path TEXT NOT NULL,
    file_url TEXT NOT NULL,
    file_name TEXT NOT NULL,
    auto_mode TEXT NOT NULL,
    state TEXT NOT NULL,
    step TEXT,
    step_progress REAL NOT NULL DEFAULT 0,
    completed_steps TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    generated_content TEXT,
    original_word_count INTEGER NOT NULL DEFAULT 0,
    generated_word_count INTEGER NOT NULL DEFAULT 0,
    processing_time REAL NOT NULL DEFAULT 0,
    started_at TEXT,
    completed_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stories_by_state ON stories(state);
CREATE TABLE IF NOT EXISTS media (
    story_id TEXT NOT NULL REFERENCES stories(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    idx INTEGER NOT NULL,
    style TEXT NOT NULL DEFAULT '',
    prompt TEXT NOT NULL DEFAULT '',
    duration REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (story_id, name)
);
CREATE TABLE IF NOT EXISTS idempotency (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE TABLE IF NOT EXISTS room_seqs (
    room TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_by_user ON uploads(user_id);
CREATE INDEX IF NOT EXISTS batches_by_user ON batches(user_id, created_at);
"""

# Columns added after the first release: made on open where an older database lacks them.
_ADDED_COLUMNS = (
    ("users", "token_generation", "INTEGER NOT NULL DEFAULT 0"),
    ("users", "removed", "INTEGER NOT NULL DEFAULT 0"),
    ("stories", "content_chars", "INTEGER"),
)
_BACKFILLS = (
    "UPDATE stories SET content_chars = length(generated_content)"
    " WHERE content_chars IS NULL AND generated_content IS NOT NULL",
)


class Database:
    """One SQLite file in WAL mode; :meth:`run` and :meth:`transaction` run work on its thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        """Open (or create) the file and its tables."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batchkit-db")
        await self._submit(self._open_on_thread)

    async def close(self) -> None:
        """Close the connection; queries already queued finish first."""
        if self._executor is None:
            return
        await self._submit(self._close_on_thread)
        self._executor.shutdown(wait=True)
        self._executor = None

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(connection)`` on the database thread, in autocommit mode."""
        return await self._submit(functools.partial(self._with_connection, work))

    async def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(connection)`` on the database thread inside one transaction."""
        return await self._submit(functools.partial(self._in_transaction, work))

    async def _submit(self, work: Callable[[], T]) -> T:
        if self._executor is None:
            raise RuntimeError("the database is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def _open_on_thread(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _make_private(self.path)
        # isolation_level=None: autocommit, transactions only where BEGIN says so.
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.executescript(_SCHEMA)
        _add_missing_columns(connection)
        # SQLite gives its -wal and -shm files the database's mode; older ones are fixed here.
        for suffix in ("-wal", "-shm"):
            sidecar = self.path.with_name(self.path.name + suffix)
            if sidecar.exists():
                os.chmod(sidecar, PRIVATE_FILE_MODE)
        self._connection = connection

    def _close_on_thread(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _with_connection(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._connection is None:
            raise RuntimeError("the database is not open")
        return work(self._connection)

    def _in_transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        connection = self._with_connection(lambda connection: connection)
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
        except BaseException:
            # SQLite may have rolled back already (a full disk does that): then there is
            # nothing to roll back, and trying would hide the error that matters.
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result


def _make_private(path: Path) -> None:
    """Create ``path`` readable by its owner only, or make an existing one so."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    os.close(descriptor)
    os.chmod(path, PRIVATE_FILE_MODE)


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    added = False
    for table, column, definition in _ADDED_COLUMNS:
        present = {row["name"] for row in connection.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            added = True
    if added:
        for statement in _BACKFILLS:
            connection.execute(statement)


def increment_counter(connection: sqlite3.Connection, name: str) -> int:
    """Add one to the counter ``name`` (first value 1) and return it; job ids come from here."""
    row = connection.execute(
        "INSERT INTO counters (name, value) VALUES (?, 1)"
        " ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
        (name,),
    ).fetchone()
    value: int = row[0]
    return value
