"""Following the page's current run: the list locked while its files upload, its end painted.

:class:`RunWatch` holds the task that waits for the run (kept by the page's task keeper, so a
failure is painted), locks the upload list while the run reads its files, and when the run (or
a regeneration in it) ends, says how it ended, in the words of what was asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from batchkit.widgets import TaskKeeper, UploadZone
from batchkit.workbench.display import RunDisplay
from batchkit.workbench.offers import uploads_over

if TYPE_CHECKING:
    from batchkit.session import BatchSession
    from batchkit.tracker import BatchRun

__all__ = ["UPLOADING", "RunWatch"]

UPLOADING = "the files are being sent to the server"


class RunWatch:
    """Follows ``current()``'s run for the page; ``regenerating`` holds the rows asked again."""

    def __init__(
        self,
        keeper: TaskKeeper,
        zone: UploadZone,
        display: RunDisplay,
        current: Callable[[], BatchSession | None],
        refresh: Callable[[], object],
    ) -> None:
        self._keeper, self._zone, self._display = keeper, zone, display
        self._current, self._refresh = current, refresh
        self.task: asyncio.Task[None] | None = None
        self.regenerating: set[int] = set()

    @property
    def following(self) -> bool:
        return self.task is not None and not self.task.done()

    def watch(self, session: BatchSession) -> None:
        """Wait for ``session``'s run in the background, and paint its end."""
        task = self._keeper.spawn(self._follow(session), failure="the batch stopped")
        assert isinstance(task, asyncio.Task)  # called on the page's thread
        self.task = task

    def lock_while_uploading(self, run: BatchRun) -> None:
        """The files are read while they upload: no removing them until then."""
        self._zone.lock(UPLOADING)

        def check(changed: BatchRun) -> None:
            if uploads_over(changed.snapshot()):
                unsubscribe()
                session = self._current()
                if session is not None and session.run is changed:
                    self._zone.unlock()

        unsubscribe = run.subscribe(check)
        check(run)

    async def _follow(self, session: BatchSession) -> None:
        try:
            await session.wait()
        finally:
            if session is self._current():
                self._finished(session.run)

    def _finished(self, run: BatchRun) -> None:
        if self._zone.lock_reason == UPLOADING:
            self._zone.unlock()
        if self.regenerating:
            rows, self.regenerating = sorted(self.regenerating), set()
            self._display.regenerated(run.snapshot(), rows)
        else:
            self._display.finished(run)
        self._refresh()
