"""The comparison matrix as an HTML table, for the report and the notebook widget alike.

One renderer, two hosts: the report puts each picture and clip in the file itself and shows marks
as text; the widget loads media on demand and shows mark buttons. What differs is handed in as a
:class:`MatrixParts`. Every text from outside (file names, settings, stories, errors, notes) is
escaped; a status is an icon *and* a word.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol

from batchkit.analysis.matrix import ComparisonMatrix, MatrixCell, MatrixColumn
from batchkit.tracker import FileStatus

__all__ = [
    "FILE_ICONS",
    "STEP_ICONS",
    "MatrixParts",
    "MediaItem",
    "cell_id",
    "escape",
    "matrix_table",
]

FILE_ICONS: Final = {
    FileStatus.PENDING: "○",
    FileStatus.UPLOADING: "⇡",
    FileStatus.UPLOADED: "◔",
    FileStatus.QUEUED: "◔",
    FileStatus.PROCESSING: "▶",
    FileStatus.COMPLETED: "✓",
    FileStatus.FAILED: "✗",
}
STEP_ICONS: Final = {
    "pending": "○",
    "running": "▶",
    "completed": "✓",
    "failed": "✗",
    "skipped": "–",
    "unconfirmed": "?",
}


def escape(text: object) -> str:
    """``text`` made safe to place in HTML, quotes included."""
    return html.escape(str(text), quote=True)


@dataclass(frozen=True, slots=True)
class MediaItem:
    """One picture or clip of a cell, with the words that stand for it."""

    kind: Literal["image", "audio"]
    path: Path
    label: str
    """``picture 2``, ``merged audio``..."""
    alt: str
    """The whole description: ``picture 2 of 3 of lighthouse.txt under 200 / comic``."""


class MatrixParts(Protocol):
    """What the host of a matrix table draws itself."""

    def media(self, item: MediaItem) -> str:
        """The HTML of one picture or clip."""
        ...

    def mark(self, cell: MatrixCell, cell_key: str, column: MatrixColumn) -> str:
        """The HTML of a cell's mark (buttons in the notebook, words in a report)."""
        ...


def cell_id(document: str, column: str) -> str:
    """A cell's id in the page: the same whatever the filters show."""
    digest = hashlib.sha256(f"{document}\0{column}".encode()).hexdigest()[:16]
    return f"bk-mx-{digest}"


def matrix_table(matrix: ComparisonMatrix, parts: MatrixParts, *, caption: str) -> str:
    """The matrix as a scrollable, captioned table: a header per run, a row per document."""
    head = "".join(_column_header(column) for column in matrix.columns)
    body = "".join(_row(matrix, document, parts) for document in matrix.documents)
    if not matrix.documents:
        span = len(matrix.columns) + 1
        body = f'<tr><td colspan="{span}" class="bk-mx-empty">No document to show.</td></tr>'
    return (
        f'<div class="bk-mx-scroll" role="region" aria-label="{escape(caption)}" tabindex="0">'
        f'<table class="bk-mx"><caption>{escape(caption)}</caption>'
        f'<thead><tr><th scope="col">Document</th>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _column_header(column: MatrixColumn) -> str:
    settings = "".join(
        f"<div><dt>{escape(name)}</dt><dd>{escape(_setting(value))}</dd></div>"
        for name, value in column.settings.items()
    )
    listed = f'<dl class="bk-mx-settings">{settings}</dl>' if settings else ""
    return (
        f'<th scope="col" class="bk-mx-column"><span class="bk-mx-label">{escape(column.label)}'
        f'</span>{listed}<span class="bk-mx-run">run {escape(column.key)}</span></th>'
    )


def _setting(value: object) -> str:
    return "—" if value is None else str(value)


def _row(matrix: ComparisonMatrix, document: str, parts: MatrixParts) -> str:
    failing, differs = matrix.failing(document), matrix.differs(document)
    badges = []
    if failing:
        badges.append('<span class="bk-mx-badge bk-mx-badge-failed">✗ failed somewhere</span>')
    if differs:
        badges.append('<span class="bk-mx-badge">≠ cells differ</span>')
    cells = "".join(
        _cell(document, column, cell, parts)
        for column, cell in zip(matrix.columns, matrix.row(document), strict=True)
    )
    return (
        f'<tr class="bk-mx-row" data-failing="{int(failing)}" data-differs="{int(differs)}">'
        f'<th scope="row" class="bk-mx-document"><span class="bk-file-name">{escape(document)}'
        f"</span>{''.join(badges)}</th>{cells}</tr>"
    )


def _cell(document: str, column: MatrixColumn, cell: MatrixCell | None, parts: MatrixParts) -> str:
    key = cell_id(document, column.key)
    if cell is None:
        return f'<td class="bk-mx-cell bk-mx-missing" id="{key}">not in this run</td>'
    status = cell.status
    time = "—" if cell.seconds is None else f"{cell.seconds:.1f} s"
    pieces = [
        f'<div class="bk-mx-head"><span class="bk-mx-status bk-mx-status-{status.value}">'
        f'<span aria-hidden="true">{FILE_ICONS[status]}</span> {escape(status.value)}</span>'
        f'<span class="bk-mx-time" title="from its upload to its end">{time}</span></div>',
        _steps(cell.steps),
        f'<p class="bk-mx-numbers">{escape(_numbers(cell))}</p>',
    ]
    if cell.excerpt:
        pieces.append(f'<p class="bk-mx-excerpt">{escape(cell.excerpt)}</p>')
    pieces.append(_media(cell, column, parts))
    if cell.error:
        pieces.append(
            f'<p class="bk-mx-error"><span aria-hidden="true">✗</span> {escape(cell.error)}</p>'
        )
    pieces.append(parts.mark(cell, key, column))
    kind = "failed" if cell.failed else status.value
    return f'<td class="bk-mx-cell bk-mx-{kind}" id="{key}">{"".join(pieces)}</td>'


def _steps(steps: Mapping[str, str]) -> str:
    items = []
    for step, shown in steps.items():
        word = "" if shown == "completed" else f" {escape(shown)}"
        hidden = ' <span class="bk-mx-sr">completed</span>' if shown == "completed" else ""
        items.append(
            f'<li class="bk-mx-step bk-mx-step-{escape(shown)}"><span aria-hidden="true">'
            f"{STEP_ICONS.get(shown, '·')}</span> {escape(step)}{word}{hidden}</li>"
        )
    return f'<ul class="bk-mx-steps" aria-label="steps">{"".join(items)}</ul>'


def _numbers(cell: MatrixCell) -> str:
    words = []
    if cell.images_chunks is not None:
        words.append(f"{cell.images_chunks} image chunks")
    if cell.audio_chunks is not None:
        words.append(f"{cell.audio_chunks} audio chunks")
    if cell.attempt > 1:
        words.append(f"attempt {cell.attempt}")
    return " · ".join(words) or "no chunks"


def _media(cell: MatrixCell, column: MatrixColumn, parts: MatrixParts) -> str:
    media = cell.media
    note = cell.media_note
    if media is None or (not media.images and not media.audio):
        return f'<p class="bk-mx-note">{escape(note or "no media")}</p>'
    under = f"{cell.document} under {column.label}"
    pictures = [
        MediaItem("image", path, f"picture {n}", f"picture {n} of {len(media.images)} of {under}")
        for n, path in enumerate(media.images, start=1)
    ]
    clips = [
        MediaItem("audio", path, label, f"{label} of {under}")
        for path, label in zip(media.audio, media.audio_labels, strict=True)
    ]
    images = "".join(parts.media(item) for item in pictures)
    audio = "".join(parts.media(item) for item in clips)
    return (f'<div class="bk-mx-images">{images}</div>' if images else "") + (
        f'<div class="bk-mx-audio">{audio}</div>' if audio else ""
    )
