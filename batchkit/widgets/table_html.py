"""The page's one file table as HTML: a real ``<table>`` that becomes cards on a narrow page.

Each row has a stable ``data-key`` (the browser keeps a row's elements, and the keyboard focus
in it, when only another row changed), its cells a ``data-label`` (the card layout writes them
before each value), and its remove button a ``data-action`` the table widget reports to the
kernel. The upload's one bar is a ``role=progressbar`` with its values and its words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from batchkit.widgets.file_rows import StepCell, TableRow, UploadCell
from batchkit.widgets.render import (
    STEP_LABELS,
    describe_duration,
    escape,
    size_and_type,
    status_label,
)

__all__ = ["HtmlCache", "TableText", "table_html"]

_CHECKS: Final = {
    "receiving": ("…", "arriving"),
    "accepted": ("✓", "accepted"),
    "rejected": ("✗", "rejected"),
    "withdrawn": ("–", "removed from the list"),
}
_CHIPS: Final = {  # by the tracker's StepStatus values
    "pending": ("○", "waiting"),
    "running": ("▶", "running"),
    "completed": ("✓", "completed"),
    "failed": ("✗", "failed"),
    "skipped": ("–", "not run"),
    "unconfirmed": ("?", "not confirmed by this server"),
}
_ORIGINS: Final = {"browser": "from the browser", "disk": "from the kernel's disk"}


class TableText:
    """The words around the rows: the caption, what an empty table says, why removal is off,
    and which steps the run enabled (the chips shown)."""

    def __init__(
        self,
        caption: str,
        empty: str,
        locked: str = "",
        uid: str = "t",
        steps: frozenset[str] = frozenset(),
    ) -> None:
        self.caption, self.empty, self.locked, self.uid = caption, empty, locked, uid
        self.steps = steps


def _check(row: TableRow) -> str:
    icon, word = _CHECKS.get(row.check, ("•", row.check))
    reason = f": {escape(row.check_reason)}" if row.check_reason else ""
    return (
        f'<span class="bk-check bk-check-{escape(row.check)}">'
        f'<span aria-hidden="true">{icon}</span> {word}{reason}</span>'
    )


def _meter(upload: UploadCell, name: str) -> str:
    words = f'<span class="bk-meter-words">{escape(upload.words)}</span>'
    if upload.fraction is None:
        return words
    value = round(100 * max(0.0, min(upload.fraction, 1.0)))
    return (
        f'<div class="bk-meter bk-meter-{escape(upload.state)}" role="progressbar" '
        f'aria-label="Upload of {escape(name)}" aria-valuemin="0" aria-valuemax="100" '
        f'aria-valuenow="{value}" aria-valuetext="{escape(upload.words)}">'
        f'<span class="bk-meter-fill" style="width:{value}%"></span></div>{words}'
    )


def _status(row: TableRow, run_exists: bool) -> str:
    if row.status is None:
        if row.check == "rejected":
            return '<span class="bk-status bk-status-none">—</span>'
        word = "new: not in this run" if run_exists else "ready to start"
        if row.check == "receiving":
            word = "arriving"
        return f'<span class="bk-status bk-status-none">{word}</span>'
    attempt = f' <span class="bk-attempt">attempt {row.attempt}</span>' if row.attempt > 1 else ""
    return status_label(row.status, stalled=row.stalled) + attempt


def _chip(cell: StepCell) -> str:
    icon, word = _CHIPS.get(cell.state, ("•", cell.state))
    state = escape(cell.state)
    progress = ""
    if cell.progress is not None:
        progress = f" {int(100 * max(0.0, min(cell.progress, 1.0)))}%"
    return (
        f'<li class="bk-chip bk-chip-{state}"><span aria-hidden="true">{icon}</span> '
        f'{STEP_LABELS[cell.step]}<span class="bk-sr-only">: {word}</span>{progress}</li>'
    )


def _chips(row: TableRow, enabled: frozenset[str]) -> str:
    shown = [cell for cell in row.steps if cell.step.value in enabled]
    if not shown:
        return "—"
    return f'<ul class="bk-chips">{"".join(_chip(cell) for cell in shown)}</ul>'


def _remove(row: TableRow, text: TableText) -> str:
    if row.check == "withdrawn" or not row.key.startswith("e"):
        return ""
    label = f"Remove {escape(row.name)} from the list"
    off = "" if row.removable else f' aria-disabled="true" aria-describedby="{text.uid}-locked"'
    return (
        f'<button type="button" class="bk-remove" data-action="remove" '
        f'data-key="{escape(row.key)}" data-focus-key="remove-{escape(row.key)}" '
        f'aria-label="{label}" title="{label}"{off}>'
        '<span aria-hidden="true">×</span></button>'
    )


def _cell(label: str, content: str, css: str = "") -> str:
    extra = f' class="{css}"' if css else ""
    return f'<td data-label="{label}"{extra}>{content}</td>'


def _row(number: int, row: TableRow, text: TableText, run_exists: bool) -> str:
    origin = _ORIGINS.get(row.origin)
    meta = size_and_type(row.size, row.extension) + (f" · {origin}" if origin else "")
    cells = [
        _cell("#", str(number), "bk-col-number"),
        f'<th scope="row" data-label="File" class="bk-col-file">'
        f'<span class="bk-file-name">{escape(row.name)}</span> '
        f'<span class="bk-file-meta">{meta}</span></th>',
        _cell("Check", _check(row)),
        _cell("Upload", _meter(row.upload, row.name), "bk-col-upload"),
    ]
    if run_exists:
        error = escape(row.error) if row.error else ""
        cells += [
            _cell("Status", _status(row, run_exists)),
            _cell("Steps", _chips(row, text.steps), "bk-col-steps"),
            _cell("Time", describe_duration(row.elapsed_s), "bk-col-time"),
            _cell("Error", error, "bk-col-error" + (" bk-has-error" if error else "")),
        ]
    else:
        cells.append(_cell("Status", _status(row, run_exists)))
    cells.append(f'<td class="bk-col-remove">{_remove(row, text)}</td>')
    status = row.status or "none"
    classes = f"bk-row bk-row-{escape(status)} bk-row-check-{escape(row.check)}"
    return f'<tr data-key="{escape(row.key)}" class="{classes}">{"".join(cells)}</tr>'


HtmlCache = dict[str, tuple[int, TableRow, bool, str, frozenset[str]]]
"""Each row's place, row and markup at the last drawing: an unchanged row is not written again."""


def table_html(
    rows: Sequence[TableRow],
    text: TableText,
    *,
    run_exists: bool,
    cache: HtmlCache | None = None,
) -> str:
    """The whole table (or what an empty one says), with the note on why removal is off.

    ``cache``: the rows' markup of the last drawing; it is emptied and filled with this one's.
    """
    note = ""
    if text.locked:
        note = f'<p class="bk-table-note" id="{text.uid}-locked">{escape(text.locked)}</p>'
    if not rows:
        return (
            f'<div class="bk-table-wrap"><p class="bk-table-empty">{escape(text.empty)}</p></div>'
        )
    heads = ["#", "File", "Check", "Upload", "Status"]
    if run_exists:
        heads += ["Steps", "Time", "Error"]
    head = "".join(f'<th scope="col">{h}</th>' for h in heads)
    head += '<th scope="col"><span class="bk-sr-only">Remove</span></th>'
    previous, fresh = dict(cache or {}), cache if cache is not None else {}
    fresh.clear()
    parts = []
    for number, row in enumerate(rows, start=1):
        found = previous.get(row.key)
        if (
            found is not None
            and found[:3] == (number, row, run_exists)
            and not text.steps ^ found[4]
        ):
            markup = found[3]  # a row from the rows' cache is the same object: compared at once
        else:
            markup = _row(number, row, text, run_exists)
        fresh[row.key] = (number, row, run_exists, markup, text.steps)
        parts.append(markup)
    body = "".join(parts)
    return (
        '<div class="bk-table-wrap">'
        f'<table class="bk-table"><caption>{escape(text.caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}</div>"
    )
