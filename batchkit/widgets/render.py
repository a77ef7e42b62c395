"""HTML for what the widgets show: escaped text, statuses as icon and word, the run's tables.

Pure functions of a :class:`~batchkit.tracker.RunSnapshot` or of plain values: no widgets here,
so a view's whole content is one string per part and one message per redraw. Every text that
comes from outside (a file name, a server's error) goes through :func:`escape`; a status is
always an icon *and* a word, never a colour alone.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Final

from batchkit.files import describe_size
from batchkit.tracker import FileRow, FileStatus, RunSnapshot

__all__ = [
    "STATUS_ICONS",
    "describe_duration",
    "error_panel",
    "escape",
    "file_table",
    "final_line",
    "mark",
    "percent",
    "size_and_type",
    "status_label",
    "stylesheet",
    "summary",
]

STATUS_ICONS: Final = {
    FileStatus.PENDING: "○",
    FileStatus.UPLOADING: "⇡",
    FileStatus.UPLOADED: "◔",
    FileStatus.QUEUED: "◔",
    FileStatus.PROCESSING: "▶",
    FileStatus.COMPLETED: "✓",
    FileStatus.FAILED: "✗",
}
_TABLE_HEAD: Final = (
    "<thead><tr>"
    '<th scope="col">#</th><th scope="col">File</th><th scope="col">Status</th>'
    '<th scope="col">Step</th><th scope="col">Step progress</th>'
    '<th scope="col">Elapsed</th><th scope="col">Error</th>'
    "</tr></thead>"
)


def escape(text: object) -> str:
    """``text`` made safe to place in HTML, quotes included."""
    return html.escape(str(text), quote=True)


def percent(fraction: float) -> str:
    """``0.423`` as ``"42%"``; never shows 100% before the end (``0.996`` is ``"99%"``)."""
    value = int(max(0.0, min(fraction, 1.0)) * 100)
    return f"{value}%"


def describe_duration(seconds: float | None) -> str:
    """``75.2`` as ``"1 min 15 s"``; ``None`` as ``"—"``."""
    if seconds is None:
        return "—"
    whole = round(max(seconds, 0.0))
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def mark(ok: bool, text: str) -> str:
    """A ✓ or ✗ followed by ``text`` (escaped): the meaning is in the words, not the colour."""
    icon, kind = ("✓", "ok") if ok else ("✗", "bad")
    return (
        f'<span class="bk-mark bk-mark-{kind}"><span aria-hidden="true">{icon}</span> '
        f"{escape(text)}</span>"
    )


def status_label(status: FileStatus, *, stalled: bool = False) -> str:
    """A file's status as its icon and its word (``✓ completed``)."""
    word = f"{status.value} (stalled)" if stalled else status.value
    return (
        f'<span class="bk-status bk-status-{status.value}">'
        f'<span aria-hidden="true">{STATUS_ICONS[status]}</span> {escape(word)}</span>'
    )


def _elapsed(row: FileRow, as_of: datetime) -> float | None:
    if row.started_at is None:
        return None
    end = row.finished_at or as_of
    return max((end - row.started_at).total_seconds(), 0.0)


def _table_row(row: FileRow, as_of: datetime) -> str:
    step = row.step.value if row.step is not None else "—"
    step_progress = percent(row.step_progress) if row.step_progress is not None else "—"
    cells = (
        str(row.index + 1),
        f'<span class="bk-file-name">{escape(row.name)}</span>',
        status_label(row.status, stalled=row.stalled),
        escape(step),
        step_progress,
        describe_duration(_elapsed(row, as_of)),
        escape(row.error) if row.error else "",
    )
    body = "".join(f"<td>{cell}</td>" for cell in cells)
    return f'<tr class="bk-row-{row.status.value}">{body}</tr>'


def file_table(snapshot: RunSnapshot) -> str:
    """Every file of the run as one table: status, step, step progress, elapsed, error."""
    rows = "".join(_table_row(row, snapshot.as_of) for row in snapshot.files)
    return (
        '<div class="bk-table-scroll"><table class="bk-table">'
        f"<caption>Files of run {escape(snapshot.run_id)}</caption>"
        f"{_TABLE_HEAD}<tbody>{rows}</tbody></table></div>"
    )


def final_line(snapshot: RunSnapshot) -> str:
    """The words of a finished run's outcome (empty while it runs)."""
    if not snapshot.all_done:
        return ""
    if snapshot.failed == 0:
        return mark(True, f"Done: all {snapshot.total} files completed")
    return mark(False, f"Done: {snapshot.failed} of {snapshot.total} files failed")


def summary(snapshot: RunSnapshot) -> str:
    """Percent done, the counts, the file and step in progress, and the time left."""
    counts = f"{snapshot.completed} completed · {snapshot.failed} failed · {snapshot.total} total"
    parts = [
        f'<span class="bk-percent">{percent(snapshot.progress)}</span>',
        f'<span class="bk-counts">{counts}</span>',
    ]
    if snapshot.in_progress:
        busy = [snapshot.files[i] for i in snapshot.in_progress]
        named = ", ".join(f"{row.name} ({row.step or 'upload'})" for row in busy)
        parts.append(f'<span class="bk-current">Now: {escape(named)}</span>')
    if not snapshot.all_done and snapshot.eta_s is not None:
        left = describe_duration(snapshot.eta_s)
        parts.append(f'<span class="bk-eta">About {left} left (estimate)</span>')
    parts.append(
        f'<span class="bk-elapsed">Elapsed: {describe_duration(snapshot.elapsed_s)}</span>'
    )
    if snapshot.stalled:
        parts.append(f'<span class="bk-stalled">{snapshot.stalled} stalled</span>')
    line = '<div class="bk-summary-line" role="status">' + " · ".join(parts) + "</div>"
    final = final_line(snapshot)
    return line + (f'<div class="bk-final-line">{final}</div>' if final else "")


def _failed(rows: Iterable[FileRow]) -> list[FileRow]:
    return [row for row in rows if row.status is FileStatus.FAILED]


def error_panel(snapshot: RunSnapshot) -> str:
    """The failed files and why, or an empty string when none failed."""
    failed = _failed(snapshot.files)
    if not failed:
        return ""
    items = "".join(
        f'<li><span class="bk-file-name">{escape(row.name)}</span>: '
        f"{escape(row.error or 'failed without a message')}</li>"
        for row in failed
    )
    return (
        f'<div class="bk-error-panel" role="alert"><strong>✗ {len(failed)} failed</strong>'
        f"<ul>{items}</ul></div>"
    )


def size_and_type(size: int, extension: str) -> str:
    """``"3.4 KiB · .docx"``."""
    return f"{describe_size(size)} · {escape(extension or 'no extension')}"


@cache
def stylesheet() -> str:
    """The widgets' shared CSS as a ``<style>`` element, for one HTML widget per page part."""
    css = (Path(__file__).parent / "batchkit.css").read_text(encoding="utf-8")
    return f"<style>{css}</style>"
