"""The upload zone's list as drawn: a row per file, a summary line and the overall bar."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import ipywidgets as widgets

from batchkit.files import describe_size
from batchkit.widgets import render
from batchkit.widgets.throttle import set_changed
from batchkit.widgets.upload_rows import EntryState, FileEntry, FileRowView, ServerLeg

__all__ = ["FileListView"]


class FileListView:
    """Draws the entries it is given; rows are made and closed as entries come and go."""

    def __init__(self, on_remove: Callable[[FileEntry], object]) -> None:
        self._on_remove = on_remove
        self.rows: dict[int, FileRowView] = {}
        self.summary = widgets.HTML(value="")
        self.summary.add_class("bk-upload-summary")
        self.overall = widgets.FloatProgress(
            value=0.0,
            min=0.0,
            max=1.0,
            description="Overall",
            tooltip="All files, both legs",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="100%", max_width="48em"),
        )
        self.overall.add_class("bk-overall-progress")
        self.box = widgets.VBox([], layout=widgets.Layout(width="100%"))
        self.box.add_class("bk-file-list")

    def draw(
        self,
        entries: Sequence[FileEntry],
        legs: Mapping[str, ServerLeg] | None,
        *,
        disabled: bool = False,
    ) -> None:
        """Show ``entries`` and, once a run is followed, their server ``legs`` (by name)."""
        present = {entry.key for entry in entries}
        for key in [k for k in self.rows if k not in present]:
            self.rows.pop(key).close()
        for entry in entries:
            row = self.rows.get(entry.key)
            if row is None:
                row = self.rows[entry.key] = FileRowView(entry, self._on_remove)
            set_changed(row.remove, disabled=disabled)
            row.show(entry, None if legs is None else legs.get(entry.name))
        set_changed(self.box, children=tuple(self.rows[e.key].box for e in entries))
        self._draw_totals(entries, legs)

    def _draw_totals(
        self, entries: Sequence[FileEntry], legs: Mapping[str, ServerLeg] | None
    ) -> None:
        live = [e for e in entries if e.live]
        total = sum(e.size for e in live)
        kernel = sum(e.received for e in live) / total if total else 0.0
        words = [
            f"{sum(e.state is EntryState.ACCEPTED for e in live)} accepted",
            f"{len(entries) - len(live)} rejected",
            describe_size(total),
            f"in the kernel {render.percent(kernel)}",
        ]
        overall = kernel
        if legs is not None:
            sent = sum(e.size * legs[e.name].fraction for e in live if e.name in legs)
            overall = sent / total if total else 0.0
            words.append(f"on the server {render.percent(overall)}")
        set_changed(self.summary, value=f'<div role="status">{" · ".join(words)}</div>')
        set_changed(self.overall, value=overall)

    def close(self) -> None:
        for row in self.rows.values():
            row.close()
        self.rows.clear()
        for widget in (self.summary, self.overall, self.box):
            widget.close()
