"""Per-user quotas: bytes of uploads kept, stories in flight, batches created per minute.

Each refusal is a :class:`LimitReached` that names the setting. Waiting helps with stories in
flight (they finish) and with batches per minute (the minute passes): those are 429 with
``Retry-After``. It does not help with storage, or with a batch larger than the whole
allowance: those are 413.

Stored bytes are counted in memory, loaded once per user from the ``uploads`` table and kept
up to date by every upload this server receives, so two uploads of one user at once both see
each other's bytes as they arrive. The other two are counted in the database, inside the
transaction that creates the batch, so two requests cannot both take the last place.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

from batchkit.contract import BatchState, FileState
from batchkit.server.database import Database
from batchkit.server.http_errors import LimitReached
from batchkit.server.request_limits import describe_bytes
from batchkit.server.settings import ServerSettings

__all__ = ["Allowance", "UserQuotas"]

_WINDOW = timedelta(minutes=1)
_IN_FLIGHT_RETRY_SECONDS = 10.0
"""When to ask again once the stories in flight are at the limit: a guess, stories take seconds."""
_UNFINISHED_STORIES = (FileState.PENDING.value, FileState.PROCESSING.value)
_UNFINISHED_BATCHES = (BatchState.PENDING.value, BatchState.PROCESSING.value)


class Allowance:
    """What one upload request may still store for its user (thread-safe: parsing is threaded)."""

    def __init__(self, quotas: UserQuotas, user_id: str) -> None:
        self._quotas = quotas
        self._user_id = user_id
        self.charged = 0

    def charge(self, size: int) -> str | None:
        """Count ``size`` more bytes; the refusal's message once the quota is passed."""
        self.charged += size
        return self._quotas.charge(self._user_id, size)


class UserQuotas:
    """The quotas of every user of one server."""

    def __init__(self, db: Database, settings: ServerSettings) -> None:
        self._db = db
        self._max_stored = settings.max_user_stored_bytes
        self._max_in_flight = settings.max_user_stories_in_flight
        self._max_per_minute = settings.max_user_batches_per_minute
        self._stored: dict[str, int] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ stored bytes
    @asynccontextmanager
    async def uploading(self, user_id: str) -> AsyncIterator[Allowance]:
        """An allowance for one upload: what it stores stays counted unless the block raises."""
        if user_id not in self._stored:
            stored = await self._db.run(lambda c: _stored_bytes(c, user_id))
            self._stored.setdefault(user_id, stored)
        if self._stored[user_id] >= self._max_stored:
            raise LimitReached(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self._storage_refusal(user_id))
        allowance = Allowance(self, user_id)
        try:
            yield allowance
        except BaseException:
            with self._lock:
                self._stored[user_id] -= allowance.charged
            raise

    def charge(self, user_id: str, size: int) -> str | None:
        with self._lock:
            self._stored[user_id] += size
            over = self._stored[user_id] > self._max_stored
        return self._storage_refusal(user_id) if over else None

    def _storage_refusal(self, user_id: str) -> str:
        return (
            f"storage quota: each user may keep {describe_bytes(self._max_stored)} of uploads"
            " (max_user_stored_bytes); this upload would pass it and was not kept"
        )

    # ------------------------------------------------------------ work
    def admit_batch(self, user_id: str, stories: int) -> Callable[[sqlite3.Connection], None]:
        """A check to run in the transaction that creates a batch of ``stories``."""

        def check(connection: sqlite3.Connection) -> None:
            self._check_in_flight(connection, user_id, stories)
            self._check_rate(connection, user_id)

        return check

    async def admit_story(self, user_id: str) -> None:
        """Refuse one more story (a regeneration) when the user's stories in flight are full."""
        await self._db.run(lambda c: self._check_in_flight(c, user_id, 1))

    def _check_in_flight(self, connection: sqlite3.Connection, user_id: str, more: int) -> None:
        limit = self._max_in_flight
        if more > limit:
            raise LimitReached(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"{more} stories are more than one user may have in flight at once ({limit},"
                " max_user_stories_in_flight); send them in smaller batches",
            )
        in_flight = _stories_in_flight(connection, user_id)
        if in_flight + more > limit:
            raise LimitReached(
                HTTPStatus.TOO_MANY_REQUESTS,
                f"you have {in_flight} stories pending or processing and may have {limit} at"
                f" once (max_user_stories_in_flight); {more} more must wait until some finish",
                retry_after=_IN_FLIGHT_RETRY_SECONDS,
            )

    def _check_rate(self, connection: sqlite3.Connection, user_id: str) -> None:
        now = datetime.now(UTC)
        cutoff = (now - _WINDOW).isoformat(timespec="milliseconds")
        rows = connection.execute(
            "SELECT created_at FROM batches WHERE user_id = ? AND created_at > ?"
            " ORDER BY created_at LIMIT ?",
            (user_id, cutoff, self._max_per_minute),
        ).fetchall()
        if len(rows) < self._max_per_minute:
            return
        oldest = datetime.fromisoformat(rows[0]["created_at"])
        raise LimitReached(
            HTTPStatus.TOO_MANY_REQUESTS,
            f"you have created {len(rows)} batches in the last minute and may create"
            f" {self._max_per_minute} (max_user_batches_per_minute)",
            retry_after=(oldest + _WINDOW - now).total_seconds(),
        )


def _stored_bytes(connection: sqlite3.Connection, user_id: str) -> int:
    row = connection.execute(
        "SELECT COALESCE(SUM(file_size), 0) FROM uploads WHERE user_id = ?", (user_id,)
    ).fetchone()
    return int(row[0])


def _stories_in_flight(connection: sqlite3.Connection, user_id: str) -> int:
    """Stories pending or processing, and the inputs of unfinished batches not yet made into one."""
    row = connection.execute(
        "SELECT (SELECT COUNT(*) FROM stories WHERE user_id = ? AND state IN (?, ?))"
        " + (SELECT COUNT(*) FROM batch_files AS f JOIN batches AS b ON b.id = f.batch_id"
        "    WHERE b.user_id = ? AND f.story_id IS NULL AND b.status IN (?, ?))",
        (user_id, *_UNFINISHED_STORIES, user_id, *_UNFINISHED_BATCHES),
    ).fetchone()
    return int(row[0])
