"""Building facts stamped with the time they were received, for :class:`~batchkit.tracker.BatchRun`.

Each method makes one fact (``received_at`` now, unless given) and folds it with ``apply``. They
are the run's convenience API: the session, the event stream's handler and tests call these
rather than constructing the fact models by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from batchkit.contract.rest import BatchStatusResponse, StoryResponse
from batchkit.contract.wire import as_utc
from batchkit.tracker.facts import (
    BatchCreatedFact,
    BatchFailedFact,
    Fact,
    FollowStoppedFact,
    RegenerateFact,
    RegenerateUndoneFact,
    RetryFact,
    StatusFact,
    StoryFact,
    TickFact,
    UploadedFact,
    UploadFailedFact,
    UploadProgressFact,
)

__all__ = ["FactMaker", "stamp"]


def stamp(moment: datetime | None) -> datetime:
    """``moment`` in UTC, or now."""
    return datetime.now(UTC) if moment is None else as_utc(moment)


class FactMaker:
    """The ``mark_*``/``apply_*`` methods of a run; each builds one fact and applies it."""

    if TYPE_CHECKING:

        def apply(self, fact: Fact) -> bool: ...

    def apply_status(
        self, status: BatchStatusResponse, *, received_at: datetime | None = None
    ) -> bool:
        """Fold a batch status read over REST."""
        return self.apply(StatusFact(received_at=stamp(received_at), status=status))

    def apply_story(self, story: StoryResponse, *, received_at: datetime | None = None) -> bool:
        """Fold a story read over REST."""
        return self.apply(StoryFact(received_at=stamp(received_at), story=story))

    def mark_upload_progress(
        self, index: int, sent: int, total: int, *, received_at: datetime | None = None
    ) -> bool:
        fact = UploadProgressFact(
            received_at=stamp(received_at), index=index, sent=sent, total=total
        )
        return self.apply(fact)

    def mark_uploaded(
        self, index: int, file_url: str, *, received_at: datetime | None = None
    ) -> bool:
        return self.apply(
            UploadedFact(received_at=stamp(received_at), index=index, file_url=file_url)
        )

    def mark_upload_failed(
        self, index: int, error: str, *, received_at: datetime | None = None
    ) -> bool:
        return self.apply(
            UploadFailedFact(received_at=stamp(received_at), index=index, error=error)
        )

    def mark_batch_created(
        self,
        batch_id: str,
        indices: Sequence[int],
        job_id: str | int | None = None,
        *,
        received_at: datetime | None = None,
    ) -> bool:
        """Files ``indices`` (run rows, in the batch's input order) became batch ``batch_id``."""
        fact = BatchCreatedFact(
            received_at=stamp(received_at),
            batch_id=batch_id,
            indices=tuple(indices),
            job_id=None if job_id is None else str(job_id),
        )
        return self.apply(fact)

    def mark_batch_failed(
        self,
        indices: Sequence[int],
        error: str,
        batch_id: str | None = None,
        *,
        received_at: datetime | None = None,
    ) -> bool:
        """Creating a batch of files ``indices`` failed with ``error``."""
        fact = BatchFailedFact(
            received_at=stamp(received_at), indices=tuple(indices), error=error, batch_id=batch_id
        )
        return self.apply(fact)

    def mark_regenerate(self, index: int, *, received_at: datetime | None = None) -> bool:
        """File ``index``'s story is about to be generated again: a new attempt begins."""
        return self.apply(RegenerateFact(received_at=stamp(received_at), index=index))

    def mark_regenerate_undone(
        self, index: int, error: str, *, received_at: datetime | None = None
    ) -> bool:
        """The regeneration of file ``index`` was refused: back to the attempt before it."""
        return self.apply(
            RegenerateUndoneFact(received_at=stamp(received_at), index=index, error=error)
        )

    def mark_retry(self, indices: Sequence[int], *, received_at: datetime | None = None) -> bool:
        """Files ``indices`` are sent again: each starts a new attempt."""
        return self.apply(RetryFact(received_at=stamp(received_at), indices=tuple(indices)))

    def mark_stopped(
        self, reason: str, batch_id: str | None = None, *, received_at: datetime | None = None
    ) -> bool:
        """Following stopped for ``reason``: the unfinished files (of ``batch_id``) fail."""
        return self.apply(
            FollowStoppedFact(received_at=stamp(received_at), reason=reason, batch_id=batch_id)
        )

    def tick(self, now: datetime | None = None) -> bool:
        """Check the deadlines (stalled, silent files, failed batches) as of ``now``."""
        moment = stamp(now)
        return self.apply(TickFact(received_at=moment, now=moment))
