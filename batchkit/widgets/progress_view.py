"""``progress_view(run)``: a run's progress, drawn from snapshots by one throttled flusher.

The run's subscriber only marks the view dirty (and urgent when the run is done); the
:class:`~batchkit.widgets.throttle.Flusher` takes one snapshot per redraw and assigns only the
values that changed: the bar, one summary line, one HTML table for every file, one error panel.
However many events arrive, the view sends at most ``max_rate`` redraws a second of messages,
and the final state is drawn as soon as the run is done.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from batchkit.tracker import BatchRun, RunSnapshot
from batchkit.widgets import render
from batchkit.widgets.throttle import Flusher, set_changed

__all__ = ["ProgressView", "progress_view"]

_FINAL_CLASSES = ("bk-final-ok", "bk-final-failed")


class ProgressView:
    """A live view of one :class:`~batchkit.tracker.BatchRun`.

    ``widget`` is what to display; ``redraws`` counts the redraws after the first drawing;
    ``drawn`` is the snapshot shown now. :meth:`close` stops following the run.
    """

    def __init__(
        self,
        run: BatchRun,
        *,
        max_rate: float = 10.0,
        on_error: Callable[[Exception], object] | None = None,
    ) -> None:
        self._run = run
        self._drawn: RunSnapshot | None = None
        self._bar = widgets.FloatProgress(
            value=0.0,
            min=0.0,
            max=1.0,
            description="Overall",
            tooltip="Overall progress",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="100%", max_width="48em"),
        )
        self._bar.add_class("bk-progress-bar")
        self._summary = widgets.HTML(value="")
        self._summary.add_class("bk-progress-summary")
        self._table = widgets.HTML(value="")
        self._table.add_class("bk-progress-table")
        self._errors = widgets.HTML(value="")
        self._errors.add_class("bk-progress-errors")
        self.widget = widgets.VBox(
            [
                widgets.HTML(render.stylesheet()),
                self._bar,
                self._summary,
                self._table,
                self._errors,
            ],
            layout=widgets.Layout(width="100%", min_width="16em"),
        )
        self.widget.add_class("bk-progress")
        self._draw()
        self._flusher = Flusher(self._draw, max_rate=max_rate, on_error=on_error)
        self._unsubscribe = run.subscribe(self._changed)

    # ------------------------------------------------------------ what it shows
    @property
    def run(self) -> BatchRun:
        return self._run

    @property
    def drawn(self) -> RunSnapshot | None:
        """The snapshot the widgets show now."""
        return self._drawn

    @property
    def redraws(self) -> int:
        """Redraws done since the view first drew itself."""
        return self._flusher.redraws

    @property
    def flusher(self) -> Flusher:
        return self._flusher

    @property
    def html(self) -> dict[str, str]:
        """The HTML shown now, by part: ``summary``, ``table`` and ``errors``."""
        return {
            "summary": str(self._summary.value),
            "table": str(self._table.value),
            "errors": str(self._errors.value),
        }

    # ------------------------------------------------------------ following the run
    def _changed(self, run: BatchRun) -> None:
        # Runs once per change of the run: mark, never draw (the flusher draws).
        self._flusher.mark_dirty(urgent=run.done)

    def flush(self) -> bool:
        """Draw any change now, whatever the throttle says; True if it drew."""
        return self._flusher.flush()

    async def settled(self) -> None:
        """Return once every change of the run so far has been drawn."""
        await self._flusher.settled()

    def close(self) -> None:
        """Stop following the run; the widgets keep the last state drawn."""
        self._unsubscribe()
        self._flusher.close()

    # ------------------------------------------------------------ drawing
    def _draw(self) -> None:
        snapshot = self._run.snapshot()
        if self._drawn is not None and self._drawn == snapshot:
            return
        self.show(snapshot)

    def show(self, snapshot: RunSnapshot) -> None:
        """Put ``snapshot`` on the widgets, sending only the values that changed."""
        final_style = ""
        if snapshot.all_done:
            final_style = "success" if snapshot.failed == 0 else "danger"
        set_changed(self._bar, value=snapshot.progress, bar_style=final_style)
        set_changed(self._summary, value=render.summary(snapshot))
        set_changed(self._table, value=render.file_table(snapshot))
        set_changed(self._errors, value=render.error_panel(snapshot))
        self._show_final_class(snapshot)
        self._drawn = snapshot

    def _show_final_class(self, snapshot: RunSnapshot) -> None:
        wanted = ""
        if snapshot.all_done:
            wanted = _FINAL_CLASSES[0] if snapshot.failed == 0 else _FINAL_CLASSES[1]
        classes = list(self.widget._dom_classes)
        kept = [c for c in classes if c not in _FINAL_CLASSES]
        new = [*kept, wanted] if wanted else kept
        if new != classes:
            self.widget._dom_classes = tuple(new)


def progress_view(
    run: BatchRun,
    *,
    max_rate: float = 10.0,
    on_error: Callable[[Exception], object] | None = None,
) -> ProgressView:
    """A view of ``run``'s progress, redrawn at most ``max_rate`` times a second."""
    return ProgressView(run, max_rate=max_rate, on_error=on_error)
