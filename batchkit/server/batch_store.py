"""The ``batches``, ``batch_files`` and ``idempotency`` tables."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from batchkit.contract import BatchState
from batchkit.server.database import Database, increment_counter
from batchkit.server.records import BatchFileRecord, BatchRecord, new_id, utc_now

__all__ = ["BatchStore", "NewBatchFile"]

Responder = Callable[[str, str], dict[str, Any]]
"""Builds the 201 body from ``(batch_id, job_id)``; it is what an idempotent replay returns."""
Admission = Callable[[sqlite3.Connection], None]
"""Raises to refuse a new batch (a quota), inside the transaction that would create it."""


@dataclass(frozen=True, slots=True)
class NewBatchFile:
    file_url: str
    file_path: str
    file_name: str
    title: str
    custom_prompt: str | None


class BatchStore:
    def __init__(self, db: Database, *, idempotency_ttl_seconds: int) -> None:
        self._db = db
        self._idempotency_ttl = idempotency_ttl_seconds

    async def create(
        self,
        *,
        user_id: str,
        auto_mode: str,
        files: Sequence[NewBatchFile],
        idempotency_key: str | None,
        respond: Responder,
        admit: Admission = lambda connection: None,
    ) -> tuple[dict[str, Any], str | None]:
        """Create a batch, or replay the first answer to the same ``Idempotency-Key``.

        Returns the response body and the new batch's id (``None`` for a replay). Checking
        the key, ``admit`` (not run for a replay) and creating the batch happen in one
        transaction, so neither a key nor a quota races with anything.
        """

        def work(connection: sqlite3.Connection) -> tuple[dict[str, Any], str | None]:
            if idempotency_key is not None:
                replay = self._replay(connection, user_id, idempotency_key)
                if replay is not None:
                    return replay, None
            admit(connection)
            batch_id = new_id()
            job_id = str(increment_counter(connection, "job"))
            _insert_batch(connection, batch_id, user_id, auto_mode, job_id, files)
            response = respond(batch_id, job_id)
            if idempotency_key is not None:
                connection.execute(
                    "INSERT OR REPLACE INTO idempotency (user_id, key, response, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (user_id, idempotency_key, json.dumps(response), time.time()),
                )
            return response, batch_id

        return await self._db.transaction(work)

    def _replay(
        self, connection: sqlite3.Connection, user_id: str, key: str
    ) -> dict[str, Any] | None:
        row = connection.execute(
            "SELECT response FROM idempotency WHERE user_id = ? AND key = ? AND created_at > ?",
            (user_id, key, time.time() - self._idempotency_ttl),
        ).fetchone()
        if row is None:
            return None
        response: dict[str, Any] = json.loads(row["response"])
        return response

    async def get(self, batch_id: str, *, user_id: str | None = None) -> BatchRecord | None:
        """The batch, or ``None`` when it does not exist or (with ``user_id``) is not theirs."""
        row = await self._db.run(
            lambda c: c.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
        )
        if row is None or (user_id is not None and row["user_id"] != user_id):
            return None
        return BatchRecord.from_row(row)

    async def files(self, batch_id: str) -> list[BatchFileRecord]:
        rows = await self._db.run(
            lambda c: c.execute(
                "SELECT * FROM batch_files WHERE batch_id = ? ORDER BY idx", (batch_id,)
            ).fetchall()
        )
        return [BatchFileRecord.from_row(row) for row in rows]

    async def set_status(
        self, batch_id: str, status: BatchState, *, error: str | None = None
    ) -> None:
        await self._db.run(
            lambda c: c.execute(
                "UPDATE batches SET status = ?, error = COALESCE(?, error), updated_at = ?"
                " WHERE id = ?",
                (status.value, error, utc_now(), batch_id),
            )
        )

    async def unfinished(self) -> list[BatchRecord]:
        """Batches a stop interrupted: pending or processing, oldest first."""
        rows = await self._db.run(
            lambda c: c.execute(
                "SELECT * FROM batches WHERE status IN (?, ?) ORDER BY created_at",
                (BatchState.PENDING.value, BatchState.PROCESSING.value),
            ).fetchall()
        )
        return [BatchRecord.from_row(row) for row in rows]


def _insert_batch(
    connection: sqlite3.Connection,
    batch_id: str,
    user_id: str,
    auto_mode: str,
    job_id: str,
    files: Sequence[NewBatchFile],
) -> None:
    now = utc_now()
    connection.execute(
        "INSERT INTO batches (id, user_id, status, auto_mode, job_id, total, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (batch_id, user_id, BatchState.PENDING.value, auto_mode, job_id, len(files), now, now),
    )
    connection.executemany(
        "INSERT INTO batch_files (batch_id, idx, file_url, file_path, file_name, title,"
        " custom_prompt) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (batch_id, i, f.file_url, f.file_path, f.file_name, f.title, f.custom_prompt)
            for i, f in enumerate(files)
        ],
    )
