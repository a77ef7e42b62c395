"""The comparison matrix in a notebook: documents × runs, with pictures, sound and marks.

:func:`matrix_view` shows a :class:`~batchkit.analysis.ComparisonMatrix` (made by
:func:`~batchkit.analysis.open_matrix`) as one anywidget: the table is the analysis' own HTML
(:func:`~batchkit.analysis.matrix_html.matrix_table`, the same as in a report), pictures load as
they scroll in, a clip loads and plays when its button is pressed, and each cell can be marked
better or worse with a note, saved at once in its run's folder. Two filters keep only the
documents that failed somewhere, or whose cells differ.

The widget takes data and callables and never the network: the media come from files kept next to
the runs, through ``load_media``; marks go through ``save_mark``. Every callback is synchronous
(no event loop is involved, whatever thread ipykernel calls it on). Bytes travel only in message
buffers, on request, never in a synced trait: the saved notebook holds none.

Protocol (``type`` tells the messages apart):

* browser → kernel: ``media`` (id); ``mark`` (cell, rating: ``better``/``worse``/null, note).
* kernel → browser: ``media`` (id, mime) with one buffer, or ``media-failed`` (id, reason);
  ``marked`` (cell, rating, note, ok, reason).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import anywidget
import traitlets
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from batchkit.analysis.marks import NOTE_MAX
from batchkit.analysis.matrix import ComparisonMatrix, MatrixCell, MatrixColumn
from batchkit.analysis.matrix_html import MediaItem, escape, matrix_table
from batchkit.analysis.media_formats import Media, for_browser
from batchkit.errors import BatchkitError
from batchkit.widgets.assets import asset

__all__ = ["MatrixView", "matrix_view"]

logger = logging.getLogger("batchkit.widgets")

_ANALYSIS: Final = Path(__file__).parent.parent / "analysis"  # the report shares its CSS
MediaLoader = Callable[[MediaItem], Media]
MarkSaver = Callable[[ComparisonMatrix, str, str, str | None, str], ComparisonMatrix]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _MediaRequest(_Message):
    type: Literal["media"]
    id: Annotated[str, Field(min_length=1, max_length=40)]


class _MarkRequest(_Message):
    type: Literal["mark"]
    cell: Annotated[str, Field(min_length=1, max_length=40)]
    rating: Literal["better", "worse"] | None
    note: Annotated[str, Field(max_length=NOTE_MAX)] = ""


_REQUEST: Final[TypeAdapter[_MediaRequest | _MarkRequest]] = TypeAdapter(
    Annotated[_MediaRequest | _MarkRequest, Field(discriminator="type")]
)


def load_cached_media(item: MediaItem) -> Media:
    """The default ``load_media``: the kept file, made fit for the browser."""
    return for_browser(item.path.read_bytes(), item.kind)


def _save_mark(
    matrix: ComparisonMatrix, document: str, column: str, rating: str | None, note: str
) -> ComparisonMatrix:
    return matrix.mark(document, column, rating, note)


class MatrixView(anywidget.AnyWidget):
    """The comparison matrix, its filters and its marks (see the module docstring)."""

    _esm = asset("dom.js", "matrix.js")
    _css = asset("matrix.css", _ANALYSIS / "matrix.css")

    html = traitlets.Unicode("").tag(sync=True)
    """The table, as escaped HTML with no media bytes in it."""
    summary = traitlets.Unicode("").tag(sync=True)
    only_failures = traitlets.Bool(False).tag(sync=True)
    only_differences = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self,
        matrix: ComparisonMatrix,
        *,
        load_media: MediaLoader = load_cached_media,
        save_mark: MarkSaver = _save_mark,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._matrix = matrix
        self._load_media = load_media
        self._save_mark = save_mark
        self._media: dict[str, MediaItem] = {}
        self._cells: dict[str, tuple[str, str]] = {}
        self.add_class("bk-mx-widget")
        self.on_msg(self._on_browser_message)
        self.observe(self._refilter, names=["only_failures", "only_differences"])
        self._paint()

    @property
    def matrix(self) -> ComparisonMatrix:
        """The whole matrix (filters do not change it), with the marks given so far."""
        return self._matrix

    @property
    def shown(self) -> ComparisonMatrix:
        """What the filters leave on show."""
        return self._matrix.filtered(
            only_failures=self.only_failures, only_differences=self.only_differences
        )

    # ------------------------------------------------------------ drawing
    def _refilter(self, _change: object) -> None:
        self._paint()

    def _paint(self) -> None:
        shown = self.shown
        caption = "Each document (rows) under each run's settings (columns)"
        parts = _WidgetParts(self._media, self._cells)
        table = matrix_table(shown, parts, caption=caption)
        whole = self._matrix
        words = (
            f"Showing {len(shown.documents)} of {len(whole.documents)} documents "
            f"under {len(whole.columns)} runs"
        )
        if not shown.documents and whole.documents:
            words += " (no document matches the filters)"
        with self.hold_sync():
            self.html = table
            self.summary = words

    # ------------------------------------------------------------ the browser's requests
    def _on_browser_message(self, _widget: object, content: Any, _buffers: list[Any]) -> None:
        try:
            request = _REQUEST.validate_python(content)
        except ValidationError as error:
            logger.warning("ignored a malformed matrix message: %s", error)
            return
        if isinstance(request, _MediaRequest):
            self._send_media(request.id)
        else:
            self._mark(request)

    def _send_media(self, media_id: str) -> None:
        item = self._media.get(media_id)
        if item is None:  # only what this widget listed is ever read
            self.send({"type": "media-failed", "id": media_id, "reason": "unknown media"})
            return
        try:
            media = self._load_media(item)
        except OSError as error:
            reason = f"cannot read {item.label}: {error.strerror or error}"
            self.send({"type": "media-failed", "id": media_id, "reason": reason})
            return
        if not media.data:
            reason = f"{item.label} is too large to play here"
            self.send({"type": "media-failed", "id": media_id, "reason": reason})
            return
        self.send({"type": "media", "id": media_id, "mime": media.mime}, [media.data])

    def _mark(self, request: _MarkRequest) -> None:
        where = self._cells.get(request.cell)
        reply: dict[str, object] = {"type": "marked", "cell": request.cell}
        if where is None:
            self.send({**reply, "ok": False, "reason": "this cell is not in the matrix"})
            return
        try:
            self._matrix = self._save_mark(self._matrix, *where, request.rating, request.note)
        except (BatchkitError, KeyError, OSError) as error:
            self.send({**reply, "ok": False, "reason": f"not saved: {error}"})
            return
        cell = self._matrix.cell(*where)
        mark = cell.mark if cell is not None else None
        rating = mark.rating.value if mark is not None and mark.rating is not None else None
        note = mark.note if mark is not None else ""
        self._paint()  # first: the browser redraws, then hears that the mark was saved
        self.send({**reply, "ok": True, "rating": rating, "note": note, "reason": ""})


class _WidgetParts:
    """Pictures and clips by id (loaded on request), and mark buttons with a note."""

    def __init__(self, media: dict[str, MediaItem], cells: dict[str, tuple[str, str]]) -> None:
        self._media = media
        self._cells = cells

    def media(self, item: MediaItem) -> str:
        media_id = "m" + hashlib.sha256(str(item.path).encode()).hexdigest()[:20]
        self._media[media_id] = item
        if item.kind == "image":
            return (
                f'<img data-media="{media_id}" alt="{escape(item.alt)}" width="240" height="150">'
            )
        return (
            f'<button type="button" class="bk-mx-play" data-media="{media_id}" '
            f'aria-label="Play {escape(item.alt)}"><span aria-hidden="true">▶</span> '
            f"Play {escape(item.label)}</button>"
        )

    def mark(self, cell: MatrixCell, cell_key: str, column: MatrixColumn) -> str:
        self._cells[cell_key] = (cell.document, column.key)
        mark = cell.mark
        rating = mark.rating.value if mark is not None and mark.rating is not None else ""
        note = escape(mark.note) if mark is not None else ""
        name = escape(f"{cell.document} under {column.label}")
        buttons = "".join(
            f'<button type="button" class="bk-mx-rate bk-mx-rate-{value}" data-rating="{value}" '
            f'aria-pressed="{"true" if rating == value else "false"}">'
            f'<span aria-hidden="true">{icon}</span> {word}</button>'
            for value, icon, word in (("better", "▲", "Better"), ("worse", "▼", "Worse"))
        )
        return (
            f'<div class="bk-mx-mark" data-cell="{cell_key}">'
            f'<div class="bk-mx-rates" role="group" aria-label="Mark {name}">{buttons}</div>'
            f'<label class="bk-mx-note-label">Note <input type="text" class="bk-mx-note-input" '
            f'maxlength="{NOTE_MAX}" value="{note}" aria-label="Note on {name}"></label>'
            '<span class="bk-mx-saved" role="status"></span></div>'
        )


def matrix_view(
    matrix: ComparisonMatrix,
    *,
    load_media: MediaLoader = load_cached_media,
    save_mark: MarkSaver = _save_mark,
) -> MatrixView:
    """Show ``matrix`` with its filters and marks (see :class:`MatrixView`)."""
    return MatrixView(matrix, load_media=load_media, save_mark=save_mark)
