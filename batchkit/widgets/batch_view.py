"""The page's one file table and its one overall bar, drawn together by one throttled flusher.

:class:`BatchView` shows the upload zone's files from the moment they are chosen and, once a
run starts, each file's run row beside it (joined by the zone's entry key): the same rows
before, during and after the run. Above the table's rows the overall bar is drawn from the
*same* snapshot, so the two never disagree. The zone's and the run's changes only mark the view
dirty (urgent for a file added, checked or removed, and for a run that is done); the
:class:`~batchkit.widgets.throttle.Flusher` draws at most ``max_rate`` times a second, sending
only the values that changed. A live region says, in words, when a file finishes and when the
run ends, never on an ordinary redraw.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from batchkit.widgets import render
from batchkit.widgets.file_entries import EntryState
from batchkit.widgets.file_rows import RowCache, RunJoin, TableRow, table_rows
from batchkit.widgets.live_html import LiveHTML
from batchkit.widgets.notify import close_tree
from batchkit.widgets.table_html import HtmlCache, TableText, table_html
from batchkit.widgets.tasks import TaskKeeper
from batchkit.widgets.throttle import Flusher, set_changed

if TYPE_CHECKING:
    from batchkit.tracker import BatchRun, RunSnapshot
    from batchkit.widgets.upload_zone import UploadZone

__all__ = ["BatchView", "progress_view"]

_EMPTY = "No documents chosen yet: drop them on the zone above, or press “Choose files…”."
_uids = itertools.count(1)


def _in_progress(snapshot: RunSnapshot, join: RunJoin) -> tuple[str, ...]:
    """Every file uploading or processing, named, with its step and how far it is."""
    fractions = join.upload_fractions or {}
    named = []
    for index in snapshot.in_progress:
        row = snapshot.files[index]
        if str(row.status) == "uploading" or row.step is None:
            sent = render.percent(fractions.get(row.index, 0.0))
            named.append(f"{row.name} (sending {sent})")
        else:
            done = render.percent(row.step_progress or 0.0)
            named.append(f"{row.name} ({render.STEP_LABELS[row.step]} {done})")
    return tuple(named)


def _upload_fractions(run: BatchRun, snapshot: RunSnapshot) -> dict[int, float]:
    """Each uploading row's fraction sent (the snapshot's rows do not carry it; the frame does)."""
    if not any(str(row.upload_status) == "uploading" for row in snapshot.files):
        return {}
    column = run.files["upload_progress"].tolist()
    return {i: float(v) for i, v in enumerate(column) if isinstance(v, float)}


class BatchView:
    """The file table and the overall bar of ``zone``'s files and the run they started.

    Without a zone it shows a run's rows alone (:func:`progress_view`). ``table`` and
    ``overview`` are the two widgets to place; ``widget`` holds both, stacked.
    """

    def __init__(
        self,
        zone: UploadZone | None = None,
        *,
        run: BatchRun | None = None,
        max_rate: float = 10.0,
        keeper: TaskKeeper | None = None,
        on_error: Callable[[Exception], object] | None = None,
    ) -> None:
        self._zone = zone
        self._keeper = keeper or (zone.keeper if zone is not None else TaskKeeper())
        self._run: BatchRun | None = None
        self._keys: tuple[int, ...] = ()
        self._unsubscribe: list[Callable[[], None]] = []
        self._run_unsubscribe: Callable[[], None] | None = None
        self._drawn: RunSnapshot | None = None
        self._rows: list[TableRow] = []
        self._row_cache: RowCache = {}
        self._html_cache: HtmlCache = {}
        self._uid = f"bk-table-{next(_uids)}"
        self.table = LiveHTML(keeper=self._keeper)
        self.table.add_class("bk-file-table")
        self.table.on_action(self._pressed)
        self.overview = LiveHTML(keeper=self._keeper)
        self.overview.add_class("bk-overview")
        # A live region that stays in place (LiveHTML changes its text, not the element), so a
        # screen reader says each new sentence; it changes only when a file finishes.
        self.announcer = LiveHTML(keeper=self._keeper)
        self.announcer.add_class("bk-announcer")
        self.widget = widgets.VBox(
            [self.overview, self.announcer, self.table], layout=widgets.Layout(width="100%")
        )
        self.widget.add_class("bk-progress")
        if zone is not None:
            self._unsubscribe.append(zone.on_change(lambda _: self._dirty(urgent=True)))
            self._unsubscribe.append(zone.on_progress(lambda _: self._dirty()))
        if run is not None:
            self._follow(run, ())
        self._draw()
        self._flusher = Flusher(self._draw, max_rate=max_rate, on_error=on_error)

    # ------------------------------------------------------------ what it shows
    @property
    def run(self) -> BatchRun | None:
        return self._run

    @property
    def drawn(self) -> RunSnapshot | None:
        """The run's snapshot the widgets show now (None before a run)."""
        return self._drawn

    @property
    def rows(self) -> list[TableRow]:
        """The table's rows as drawn."""
        return list(self._rows)

    def row(self, name: str) -> TableRow:
        """The (last) row of the file named ``name``."""
        for row in reversed(self._rows):
            if row.name == name:
                return row
        raise KeyError(name)

    @property
    def redraws(self) -> int:
        return self._flusher.redraws

    @property
    def flusher(self) -> Flusher:
        return self._flusher

    @property
    def html(self) -> dict[str, str]:
        """The HTML shown now: ``overview``, ``table`` and ``announcement`` (text)."""
        return {
            "overview": str(self.overview.html),
            "table": str(self.table.html),
            "announcement": str(self.announcer.html),
        }

    # ------------------------------------------------------------ following
    def show_run(self, run: BatchRun, keys: Sequence[int] = ()) -> None:
        """Show ``run``, whose row ``i`` is the zone's entry ``keys[i]``."""
        self._follow(run, tuple(keys))
        self._dirty(urgent=True)

    def forget_run(self) -> None:
        """Stop showing a run (the table goes back to the zone's files)."""
        if self._run_unsubscribe is not None:
            self._run_unsubscribe()
        self._run, self._keys, self._run_unsubscribe = None, (), None
        self._drawn = None
        self._dirty(urgent=True)

    def _follow(self, run: BatchRun, keys: tuple[int, ...]) -> None:
        if self._run_unsubscribe is not None:
            self._run_unsubscribe()
        self._run, self._keys = run, keys
        self._drawn = None
        self._run_unsubscribe = run.subscribe(lambda changed: self._dirty(urgent=changed.done))

    def _dirty(self, *, urgent: bool = False) -> None:
        # Once per change of the zone or the run: mark, never draw (the flusher draws).
        flusher = getattr(self, "_flusher", None)
        if flusher is not None:
            flusher.mark_dirty(urgent=urgent)

    def _pressed(self, action: str, key: str) -> None:
        if action == "remove" and self._zone is not None and key.startswith("e"):
            self._zone.remove_key(int(key[1:]))

    def flush(self) -> bool:
        """Draw any change now, whatever the throttle says; True if it drew."""
        return self._flusher.flush()

    async def settled(self) -> None:
        """Return once every change so far has been drawn."""
        await self._flusher.settled()

    def close(self) -> None:
        """Stop following the zone and the run, and close the widgets."""
        self.stop()
        close_tree(self.widget)

    # ------------------------------------------------------------ drawing
    def _draw(self) -> None:
        run = self._run
        self.show(run.snapshot() if run is not None else None)

    def _join(self, snapshot: RunSnapshot | None) -> RunJoin | None:
        if snapshot is None or self._run is None:
            return None
        return RunJoin(snapshot, self._keys, _upload_fractions(self._run, snapshot))

    def html_of(self, snapshot: RunSnapshot | None) -> dict[str, str]:
        """What the view shows for ``snapshot`` with the zone as it is now (pure)."""
        join = self._join(snapshot)
        rows = self._table_rows(join)
        return self._parts(rows, join)

    def _table_rows(self, join: RunJoin | None) -> list[TableRow]:
        entries = self._zone.entries if self._zone is not None else ()
        removable = self._zone is not None and not self._zone.disabled
        return table_rows(entries, join, removable=removable, cache=self._row_cache)

    def _parts(self, rows: list[TableRow], join: RunJoin | None) -> dict[str, str]:
        locked = self._zone.lock_reason if self._zone is not None else ""
        steps = frozenset(s.value for s in join.snapshot.step_counts) if join else frozenset()
        text = TableText(self._caption(rows, join), _EMPTY, locked, self._uid, steps)
        table = table_html(rows, text, run_exists=join is not None, cache=self._html_cache)
        parts = {"table": table}
        if join is None:
            parts.update(overview="", announcement="")
            return parts
        snapshot = join.snapshot
        overview = render.Overview(snapshot, _in_progress(snapshot, join))
        said = render.escape(render.announcement(snapshot))
        parts.update(
            overview=render.overview_html(overview),
            announcement=f'<p class="bk-sr-only" role="status" data-key="said">{said}</p>',
        )
        return parts

    def _caption(self, rows: list[TableRow], join: RunJoin | None) -> str:
        entries = self._zone.entries if self._zone is not None else ()
        chosen = [e for e in entries if e.chosen and (join is None or not e.sent)]
        counts = Counter(e.state for e in chosen)
        summary = render.choice_summary(
            [
                ("ready", counts[EntryState.ACCEPTED]),
                ("arriving", counts[EntryState.RECEIVING]),
                ("rejected", counts[EntryState.REJECTED]),
            ],
            sum(e.size for e in chosen if e.state is not EntryState.REJECTED),
        )
        if join is None:
            return f"Files: {summary}" if summary else "Files"
        files = len(join.snapshot.files)
        caption = f"This run: {files} file{'s' if files != 1 else ''}"
        return f"{caption} · new in the list: {summary}" if summary else caption

    def show(self, snapshot: RunSnapshot | None) -> None:
        """Put ``snapshot`` (and the zone's files) on the widgets, sending only what changed."""
        join = self._join(snapshot)
        rows = self._table_rows(join)
        parts = self._parts(rows, join)
        set_changed(self.table, html=parts["table"])
        set_changed(self.overview, html=parts["overview"])
        set_changed(self.announcer, html=parts["announcement"])
        self._rows = rows
        self._drawn = snapshot

    def stop(self) -> None:
        """Stop following the zone and the run; the widgets keep what they show."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self._run_unsubscribe is not None:
            self._run_unsubscribe()
            self._run_unsubscribe = None
        self._flusher.close()


def progress_view(
    run: BatchRun,
    *,
    max_rate: float = 10.0,
    on_error: Callable[[Exception], object] | None = None,
    keeper: Any = None,
) -> BatchView:
    """A view of ``run``'s files and progress alone, redrawn at most ``max_rate`` times a second."""
    return BatchView(run=run, max_rate=max_rate, on_error=on_error, keeper=keeper)
