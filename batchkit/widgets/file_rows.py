"""The rows of the page's one file table: each chosen file joined to its row of the run shown.

Pure functions from the zone's entries and a run's snapshot to frozen :class:`TableRow` values
(no widgets), so what a row says is tested without a page. An entry is joined to the run row
the page recorded for it when the run started (by the entry's key, never by name: a file added
later with the name of an earlier one is a new file). A run shown without a zone (a run
followed again, a benchmark) gives one row per run row.

The upload's two legs (browser → kernel, kernel → server) are one progress: a browser file's
first half is its way to the kernel, the second its way to the server; a file from the kernel's
disk has only the second leg, so it fills the whole bar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from batchkit.contract.limits import PipelineStep
from batchkit.widgets.file_entries import EntryState, FileEntry, Source

if TYPE_CHECKING:
    from batchkit.tracker import FileRow, RunSnapshot

__all__ = ["RunJoin", "StepCell", "TableRow", "UploadCell", "error_words", "table_rows"]


@dataclass(frozen=True, slots=True)
class UploadCell:
    """One file's upload as one bar: ``fraction`` (None: no bar), its ``words`` and ``state``
    (``kernel``, ``ready``, ``waiting``, ``sending``, ``done``, ``failed``, ``not-sent``)."""

    fraction: float | None
    words: str
    state: str


@dataclass(frozen=True, slots=True)
class StepCell:
    """One step of one file: its state (a ``StepStatus`` value) and, running, how far it is."""

    step: PipelineStep
    state: str
    progress: float | None = None


@dataclass(frozen=True, slots=True)
class TableRow:
    """One row of the file table, as it is drawn."""

    key: str
    name: str
    size: int | None
    extension: str
    origin: str
    """``browser``, ``disk`` or "" (known only from the run)."""
    check: str
    """``receiving``, ``accepted``, ``rejected`` or ``withdrawn`` (removed after its run)."""
    check_reason: str | None
    """Why the file was rejected (shown once: in the check)."""
    upload: UploadCell
    removable: bool
    status: str | None
    """The file's status in the run shown (a ``FileStatus`` value); None when not sent."""
    stalled: bool = False
    steps: tuple[StepCell, ...] = ()
    attempt: int = 1
    elapsed_s: float | None = None
    error: str | None = None
    """Why the run failed the file (shown once: in its own column)."""
    run_index: int | None = None


@dataclass(frozen=True, slots=True)
class RunJoin:
    """The run shown, and how to read it: its snapshot, the entry keys of its rows (row ``i``
    is ``keys[i]``; empty when no zone chose them), and each uploading row's fraction sent."""

    snapshot: RunSnapshot
    keys: tuple[int, ...] = ()
    upload_fractions: Mapping[int, float] | None = None


def error_words(name: str, error: str | None) -> str | None:
    """``error`` for the row of file ``name``: the row names the file, so a message that starts
    with the name ("rain.txt: injected fault") loses that prefix."""
    if not error:
        return None
    for prefix in (f"{name}: ", f"{name} "):
        if error.startswith(prefix) and len(error) > len(prefix):
            return error[len(prefix) :]
    return error


def _entry_upload(entry: FileEntry, *, run_exists: bool) -> UploadCell:
    if entry.state is EntryState.REJECTED:
        return UploadCell(None, "not sent", "not-sent")
    if entry.source is Source.DISK:
        return UploadCell(0.0, "on the kernel's disk", "ready")
    if entry.state is EntryState.RECEIVING:
        fraction = entry.kernel_fraction
        return UploadCell(fraction / 2, f"to the kernel {_percent(fraction)}", "kernel")
    words = "in the kernel · not sent yet" if run_exists else "in the kernel"
    return UploadCell(0.5, words, "ready")


def _run_upload(row: FileRow, entry: FileEntry | None, fraction: float | None) -> UploadCell:
    status = str(row.upload_status)
    first_half = entry is not None and entry.source is Source.BROWSER
    start, share = (0.5, 0.5) if first_half else (0.0, 1.0)
    if status == "uploaded":
        return UploadCell(1.0, "on the server", "done")
    if status == "rejected":
        return UploadCell(None, "not sent", "not-sent")
    if status == "failed":
        return UploadCell(start, "upload failed", "failed")
    if status == "uploading":
        sent = fraction or 0.0
        return UploadCell(start + share * sent, f"to the server {_percent(sent)}", "sending")
    return UploadCell(start, "waiting to be sent", "waiting")


def _percent(fraction: float) -> str:
    return f"{int(max(0.0, min(fraction, 1.0)) * 100)}%"


def _elapsed(row: FileRow, as_of: datetime) -> float | None:
    if row.started_at is None:
        return None
    end = row.finished_at or as_of
    return max((end - row.started_at).total_seconds(), 0.0)


def _step_cells(row: FileRow) -> tuple[StepCell, ...]:
    cells = []
    for step, state in row.steps.items():
        running = str(state) == "running" and row.step is step
        cells.append(StepCell(step, str(state), row.step_progress if running else None))
    return tuple(cells)


def _entry_row(entry: FileEntry, *, removable: bool, run_exists: bool) -> TableRow:
    return TableRow(
        key=f"e{entry.key}",
        name=entry.name,
        size=entry.size,
        extension=entry.extension,
        origin=entry.source.value,
        check="withdrawn" if entry.withdrawn else entry.state.value,
        check_reason=entry.reason if entry.state is EntryState.REJECTED else None,
        upload=_entry_upload(entry, run_exists=run_exists),
        removable=removable and entry.chosen,
        status=None,
    )


def _joined_row(
    row: FileRow, entry: FileEntry | None, join: RunJoin, *, removable: bool
) -> TableRow:
    fractions = join.upload_fractions or {}
    rejected_by_run = str(row.upload_status) == "rejected"
    name = entry.name if entry is not None else row.name
    check = "rejected" if rejected_by_run else "accepted"
    if entry is not None and entry.withdrawn:
        check = "withdrawn"
    error = error_words(name, row.error)
    return TableRow(
        key=f"e{entry.key}" if entry is not None else f"r{row.index}",
        name=name,
        size=entry.size if entry is not None else None,
        extension=_extension(name),
        origin=entry.source.value if entry is not None else "",
        check=check,
        check_reason=error if rejected_by_run else None,
        upload=_run_upload(row, entry, fractions.get(row.index)),
        removable=removable and entry is not None and entry.chosen,
        status=str(row.status),
        stalled=row.stalled,
        steps=_step_cells(row),
        attempt=row.attempt,
        elapsed_s=_elapsed(row, join.snapshot.as_of),
        error=None if rejected_by_run else error,
        run_index=row.index,
    )


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


RowCache = dict[int, tuple[tuple[object, ...], TableRow]]
"""Rows made at the last drawing, by run row, with what each was made from: a redraw after
one event remakes one row, not every row of a large run."""


def _made_of(
    row: FileRow, entry: FileEntry | None, join: RunJoin, removable: bool
) -> tuple[object, ...]:
    """Everything a joined row is made from (the time only while the file is running)."""
    fractions = join.upload_fractions or {}
    running = row.started_at is not None and row.finished_at is None
    return (
        row, entry, removable, fractions.get(row.index),
        join.snapshot.as_of if running else None,
    )  # fmt: skip


def table_rows(
    entries: Sequence[FileEntry],
    join: RunJoin | None,
    *,
    removable: bool = True,
    cache: RowCache | None = None,
) -> list[TableRow]:
    """Every row of the table, in the order the files were chosen.

    ``removable``: whether files may be removed now at all (not while their upload runs).
    ``cache``: the rows of the last drawing; it is emptied and filled with this one's.
    """
    if join is None:
        return [_entry_row(e, removable=removable, run_exists=False) for e in entries]
    previous, fresh = dict(cache or {}), cache if cache is not None else {}
    fresh.clear()

    def joined(row: FileRow, entry: FileEntry | None, can_remove: bool) -> TableRow:
        made_of = _made_of(row, entry, join, can_remove)
        found = previous.get(row.index)
        # Compared, not hashed: equal rows compare field by field and stop at the first change.
        if found is not None and found[0] == made_of:
            made = found[1]
        else:
            made = _joined_row(row, entry, join, removable=can_remove)
        fresh[row.index] = (made_of, made)
        return made

    rows = join.snapshot.files
    if not entries:
        return [joined(row, None, False) for row in rows]
    by_key = {key: rows[index] for index, key in enumerate(join.keys) if index < len(rows)}
    table = []
    for entry in entries:
        row = by_key.get(entry.key) if entry.sent else None
        if row is None:
            table.append(_entry_row(entry, removable=removable, run_exists=True))
        else:
            table.append(joined(row, entry, removable))
    return table
