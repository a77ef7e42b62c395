"""Painting the moments that matter onto the page: the status line, a run's start and end.

:class:`RunDisplay` is the workbench's brush: it never starts or stops anything, it only shows.
Whatever changes per event is the throttled :class:`~batchkit.widgets.BatchView`'s; this draws
once per moment (a start, an end, a regeneration's end), in words that say what happened to
*that* action: the end of a regeneration speaks of the regenerated file, not of the old run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from batchkit.widgets import Notifier, set_changed
from batchkit.widgets.render import words_list
from batchkit.workbench.page import WorkbenchPage, header_html

if TYPE_CHECKING:
    from batchkit.tracker import BatchRun, RunSnapshot

__all__ = ["RunDisplay"]


class RunDisplay:
    """Shows what the workbench does; ``status`` is what the status line says."""

    def __init__(self, page: WorkbenchPage, notifier: Notifier) -> None:
        self._page, self._notifier = page, notifier
        self._url, self._where = "", ""
        self.status = ""

    def set_server(self, url: str, where: str) -> None:
        self._url, self._where = url, where
        self._paint()

    def set_status(self, status: str) -> None:
        self.status = status
        self._paint()

    def _paint(self) -> None:
        set_changed(self._page.header, html=header_html(self._url, self._where, self.status))

    def started(self, run: BatchRun, *, retried: int = 0) -> None:
        files = len(run.files)
        if retried:
            self.set_status(f"running: retrying {retried} of {files} files")
            self._notifier.info(f"retrying {retried} failed files", place="run")
            return
        self.set_status(f"running: {files} files")
        self._notifier.info(f"started a batch of {files} files", place="run")

    def finished(self, run: BatchRun) -> None:
        """The end of a run (or of following it): the status line and one notice."""
        snapshot = run.snapshot()
        if not snapshot.all_done:
            self.set_status(f"stopped: {snapshot.done} of {snapshot.total} files done")
            return
        if snapshot.failed == 0:
            self.set_status(f"done: all {snapshot.total} files completed")
            # The overview's outcome line says it beside the run: a notice would say it twice.
            self._notifier.success(f"all {snapshot.total} files completed", place="run", show=False)
            return
        self.set_status(f"done: {snapshot.completed} completed, {snapshot.failed} failed")
        # The reasons are in the table, once each: the notice only counts and says what next.
        self._notifier.warning(
            f"{snapshot.failed} of {snapshot.total} files failed: the table says why. "
            "“Retry failed” sends them again.",
            place="run",
        )

    def regenerated(self, snapshot: RunSnapshot, rows: list[int]) -> None:
        """The end of following regenerations of ``rows``: what became of those files."""
        done = [snapshot.files[i] for i in rows if i < len(snapshot.files)]
        ok = [row.name for row in done if str(row.status) == "completed"]
        bad = [row.name for row in done if str(row.status) == "failed"]
        if ok:
            self._notifier.success(f"generated again: {words_list(ok)}", place="stories")
        if bad:
            self._notifier.error(
                f"could not generate again: {words_list(bad)} (the table says why)",
                place="stories",
            )
        self.set_status(
            f"done: {snapshot.completed} completed, {snapshot.failed} failed"
            if snapshot.failed
            else f"done: all {snapshot.total} files completed"
        )

    def offer_stories(
        self,
        stories: list[tuple[str, int, str]],
        set_stories: Callable[[list[tuple[str, str]]], object],
    ) -> None:
        """List the completed stories to regenerate and to show."""
        page = self._page
        _offer(page.regenerate_file, [(name, index) for name, index, _ in stories])
        page.regenerate_box.layout.display = None if stories else "none"
        set_stories([(name, story_id) for name, _, story_id in stories])


def _offer(dropdown: object, options: list[tuple[str, int]]) -> None:
    """Set a dropdown's choices, keeping its choice if still offered, else the first one."""
    current = getattr(dropdown, "value", None)
    values = [value for _, value in options]
    if list(getattr(dropdown, "options", ())) != options:
        dropdown.options = options  # type: ignore[attr-defined]
    wanted = current if current in values else (values[0] if values else None)
    if getattr(dropdown, "value", None) != wanted:
        dropdown.value = wanted  # type: ignore[attr-defined]
