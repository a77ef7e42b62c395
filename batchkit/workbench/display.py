"""Painting runs onto the page: the header, the progress view, a run's end, what comes next.

:class:`RunDisplay` is the workbench's brush: it never starts or stops anything, it only shows.
Everything it draws for a run either comes from the throttled progress view (many events) or is
drawn once per moment that matters (a start, an end, a regeneration): it never redraws per event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batchkit.tracker import BatchRun, RunSnapshot
from batchkit.widgets import Notifier, ProgressView, UploadZone, progress_view
from batchkit.workbench.media import MediaPanel
from batchkit.workbench.offers import completed_stories, uploads_over
from batchkit.workbench.page import WorkbenchPage, header_html

__all__ = ["RunDisplay"]


class RunDisplay:
    """Shows the current run on ``page``; ``status`` is what the header says."""

    def __init__(
        self,
        page: WorkbenchPage,
        zone: UploadZone,
        media: MediaPanel,
        notifier: Notifier,
        *,
        url: str,
        where: str,
    ) -> None:
        self._page, self._zone, self._media, self._notifier = page, zone, media, notifier
        self._url, self._where = url, where
        self._view: ProgressView | None = None
        self.status = ""

    def set_status(self, status: str) -> None:
        self.status = status
        self._page.header.value = header_html(self._url, self._where, status)

    def show(self, run: BatchRun, *, is_current: Callable[[BatchRun], bool]) -> None:
        """A new run: its progress view, its uploads in the zone, no media from the last one."""
        self.drop_view()
        self._view = progress_view(
            run, on_error=lambda error: self._notifier.error(f"the progress view failed: {error}")
        )
        self._page.progress_slot.children = (self._view.widget,)
        self._zone.follow(run)
        self._media.clear()
        self._lock_zone_until_uploaded(run, is_current)
        self.set_status(f"running: {len(run.files)} files")
        self._notifier.info(f"started a batch of {len(run.files)} files")

    def _lock_zone_until_uploaded(
        self, run: BatchRun, is_current: Callable[[BatchRun], bool]
    ) -> None:
        """The zone's files are read while they upload: no removing them until then."""
        self._zone.disabled = True

        def check(changed: BatchRun) -> None:
            if uploads_over(changed.snapshot()):
                unsubscribe()
                if is_current(changed):
                    self._zone.disabled = False

        unsubscribe = run.subscribe(check)
        check(run)

    def finished(self, run: BatchRun) -> None:
        """The end of a run (or of following it): the header and one notice."""
        snapshot = run.snapshot()
        self._zone.disabled = False
        if not snapshot.all_done:
            self.set_status(f"stopped: {snapshot.done} of {snapshot.total} files done")
        elif snapshot.failed == 0:
            self.set_status(f"done: all {snapshot.total} files completed")
            self._notifier.success(f"all {snapshot.total} files completed")
        else:
            self.set_status(f"done: {snapshot.completed} completed, {snapshot.failed} failed")
            self._notifier.error(
                f"{snapshot.failed} of {snapshot.total} files failed (see the errors above); "
                "'Retry failed' runs the ones that were accepted again"
            )

    def offer(self, snapshot: RunSnapshot | None, *, can_retry: bool) -> None:
        """Enable what makes sense now, and list the stories to regenerate or show."""
        stories = completed_stories(snapshot) if snapshot is not None else []
        page = self._page
        page.retry.disabled = not can_retry
        _offer(page.regenerate_file, [(name, index) for name, index, _ in stories])
        page.regenerate.disabled = not stories
        self._media.set_stories([(name, story_id) for name, _, story_id in stories])

    def drop_view(self) -> None:
        """Remove the progress view (it stops following its run)."""
        if self._view is not None:
            self._view.close()
            self._view.widget.close()
            self._view = None
        self._page.progress_slot.children = ()


def _offer(dropdown: Any, options: list[tuple[str, int]]) -> None:
    """Set a dropdown's choices, keeping its choice if still offered, else the first one."""
    current = dropdown.value
    values = [value for _, value in options]
    if list(dropdown.options) != options:
        dropdown.options = options
    dropdown.value = current if current in values else (values[0] if values else None)
