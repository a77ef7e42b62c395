"""What the page offers from a run's rows: files to retry, stories to regenerate or show.

Pure functions of a :class:`~batchkit.tracker.RunSnapshot`, so the rules are tested without a
widget: a rejected file is never retried (it would be rejected again; fix it first), and only a
completed file with a story on the server can be regenerated or shown.
"""

from __future__ import annotations

from collections.abc import Sequence

from batchkit.files import Document
from batchkit.tracker import FileStatus, RunSnapshot, UploadStatus

__all__ = ["completed_stories", "retryable", "uploads_over"]

_SENDING = frozenset({UploadStatus.PENDING, UploadStatus.UPLOADING})


def retryable(snapshot: RunSnapshot, documents: Sequence[Document]) -> list[Document]:
    """The documents of the failed files that were accepted (row ``i`` is ``documents[i]``)."""
    return [
        documents[row.index]
        for row in snapshot.files
        if row.status is FileStatus.FAILED
        and row.upload_status is not UploadStatus.REJECTED
        and row.index < len(documents)
    ]


def completed_stories(snapshot: RunSnapshot) -> list[tuple[str, int, str]]:
    """``(file name, row, story id)`` of every completed file, in row order."""
    return [
        (row.name, row.index, row.story_id)
        for row in snapshot.files
        if row.status is FileStatus.COMPLETED and row.story_id
    ]


def uploads_over(snapshot: RunSnapshot) -> bool:
    """True once no file is waiting to be sent or being sent (kernel → server)."""
    return all(row.upload_status not in _SENDING for row in snapshot.files)
