"""The ``uploads`` table: which stored original belongs to whom."""

from __future__ import annotations

from collections.abc import Sequence

from batchkit.server.database import Database
from batchkit.server.records import UploadRecord, utc_now

__all__ = ["UploadStore"]


class UploadStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, uploads: Sequence[UploadRecord]) -> None:
        now = utc_now()
        rows = [(u.file_path, u.user_id, u.file_name, u.file_size, now) for u in uploads]
        await self._db.transaction(
            lambda c: c.executemany(
                "INSERT INTO uploads (file_path, user_id, file_name, file_size, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        )

    async def find(self, user_id: str, file_path: str) -> UploadRecord | None:
        """The caller's upload stored at ``file_path``; ``None`` if absent or someone else's."""
        row = await self._db.run(
            lambda c: c.execute(
                "SELECT * FROM uploads WHERE file_path = ? AND user_id = ?", (file_path, user_id)
            ).fetchone()
        )
        return UploadRecord.from_row(row) if row else None

    async def find_many(self, user_id: str, file_paths: Sequence[str]) -> dict[str, UploadRecord]:
        """The caller's uploads among ``file_paths``, by path."""
        found: dict[str, UploadRecord] = {}
        for path in dict.fromkeys(file_paths):
            upload = await self.find(user_id, path)
            if upload is not None:
                found[path] = upload
        return found
