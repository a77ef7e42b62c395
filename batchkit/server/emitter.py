"""Sends events to rooms, numbering them: EXT ``seq`` grows by one per event within a room.

The last number of every room is kept in the database before the event leaves, so numbering
goes on where it stopped after a restart, and a client can tell a duplicate from a gap.
:func:`emit_progress_burst` is a benchmark and test hook that sends many events on demand.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from typing import Protocol

from batchkit.contract import AutoModeProgress, EventModel, story_room
from batchkit.server.database import Database

__all__ = ["EventSink", "RoomEmitter", "emit_progress_burst"]


class EventSink(Protocol):
    """Where numbered events go (a ``socketio.AsyncServer`` has this ``emit``)."""

    async def emit(self, event: str, data: object, *, to: str) -> None: ...


class RoomEmitter:
    def __init__(self, db: Database, sink: EventSink) -> None:
        self._db = db
        self._sink = sink
        self._seqs: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def emit(self, room: str, event: EventModel) -> int:
        """Send ``event`` to ``room`` with the room's next ``seq``; returns that number."""
        lock = self._locks.setdefault(room, asyncio.Lock())
        # One event at a time per room, so numbers leave in the order they were given.
        async with lock:
            last = self._seqs.get(room)
            if last is None:
                last = await self._db.run(lambda c: _load_seq(c, room))
            seq = last + 1
            await self._db.run(lambda c: _store_seq(c, room, seq))
            self._seqs[room] = seq
            numbered = event.model_copy(update={"seq": seq})
            await self._sink.emit(numbered.event, numbered.payload(), to=room)
        return seq


async def emit_progress_burst(
    emitter: RoomEmitter, story_id: str, count: int, rate: float | None = None
) -> None:
    """Benchmark and test hook: ``count`` ``auto-mode-progress`` events for ``story_id``.

    They go to the story's room through :meth:`RoomEmitter.emit`, numbered like any other event,
    with progress rising to 100; as fast as the server can, or paced to ``rate`` events a second
    (each sent at its due time, so a late one does not delay the rest).
    """
    if count < 0:
        raise ValueError(f"a burst needs a count of 0 or more, not {count}")
    if rate is not None and rate <= 0:
        raise ValueError(f"a paced burst needs a rate above 0, not {rate}")
    room = story_room(story_id)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for number in range(1, count + 1):
        if rate is not None:
            due = started + (number - 1) / rate
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)  # pacing to a rate, not synchronisation
        event = AutoModeProgress(
            story_id=story_id,
            step="images",
            progress=100.0 * number / count,
            message=f"burst event {number} of {count}",
            timestamp=datetime.now(UTC),
        )
        await emitter.emit(room, event)


def _load_seq(connection: sqlite3.Connection, room: str) -> int:
    row = connection.execute("SELECT seq FROM room_seqs WHERE room = ?", (room,)).fetchone()
    return int(row["seq"]) if row else 0


def _store_seq(connection: sqlite3.Connection, room: str, seq: int) -> None:
    connection.execute(
        "INSERT INTO room_seqs (room, seq) VALUES (?, ?)"
        " ON CONFLICT(room) DO UPDATE SET seq = excluded.seq",
        (room, seq),
    )
