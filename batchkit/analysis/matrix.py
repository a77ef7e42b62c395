"""The comparison matrix: documents down, runs across, each cell what one run made of one document.

Rows are documents (matched across runs by file name), columns are runs (the runs of a grid, or
any runs), and each :class:`MatrixCell` holds that file's status and per-step statuses, its
time, its chunks, the story's first lines, its pictures and its audio (as kept next to the run by
:func:`~batchkit.analysis.fetch_media`), and the mark a person gave it. Filters keep only the
documents that failed somewhere, or only those whose cells differ; marks are saved with the runs
(:mod:`~batchkit.analysis.marks`).

Building a matrix reads files only: :func:`comparison_matrix` never asks the server. Fetch the
media first (:func:`~batchkit.analysis.open_matrix` does both).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import pandas as pd

from batchkit.analysis.comparison import GridPoint
from batchkit.analysis.marks import Mark, Rating, run_marks, write_mark
from batchkit.analysis.media_store import StoryMedia, cached_media
from batchkit.analysis.sources import RunLike, as_run, run_directory, run_metadata
from batchkit.tracker import BatchRun, FileStatus

__all__ = ["ComparisonMatrix", "MatrixCell", "MatrixColumn", "RunsGiven", "comparison_matrix"]

EXCERPT_LINES: Final = 3
EXCERPT_CHARACTERS: Final = 200
_LEFT_OUT: Final = frozenset({"titles", "prompts"})  # per-file settings: not a column's settings


@dataclass(frozen=True, slots=True)
class MatrixColumn:
    """One run of the matrix: its id, its label, the settings that set it apart, its folder."""

    key: str
    label: str
    settings: Mapping[str, Any] = field(hash=False)
    directory: Path | None = None
    server_url: str | None = None


@dataclass(frozen=True, slots=True)
class MatrixCell:
    """What one run made of one document."""

    document: str
    column: str
    index: int
    """The file's row in its run."""
    status: FileStatus
    steps: Mapping[str, str] = field(hash=False)
    """Each enabled step's status (:class:`~batchkit.tracker.StepStatus` values), in order."""
    seconds: float | None = None
    images_chunks: int | None = None
    audio_chunks: int | None = None
    attempt: int = 1
    error: str | None = None
    story_id: str | None = None
    media: StoryMedia | None = None
    mark: Mark | None = None
    name: str = ""
    """The file's name in its run (``document`` adds `` (2)`` to a second file of that name)."""

    @property
    def failed(self) -> bool:
        return self.status is FileStatus.FAILED or "failed" in self.steps.values()

    @property
    def excerpt(self) -> str:
        """The story's first lines (at most 3 lines, 200 characters); ``""`` without a text."""
        text = (self.media.text if self.media else None) or ""
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        excerpt = "\n".join(lines[:EXCERPT_LINES])
        if len(excerpt) > EXCERPT_CHARACTERS:
            return excerpt[:EXCERPT_CHARACTERS].rstrip() + "…"
        return excerpt + ("…" if len(lines) > EXCERPT_LINES else "")

    @property
    def media_note(self) -> str | None:
        """Why the cell shows no pictures or sound, in words; None when it shows some."""
        if self.story_id is None:
            return "no story was made"
        if self.media is None:
            if not self.status.terminal:
                return "still running: media are fetched once the file has finished"
            return "media not fetched yet (open the matrix with a client to fetch them)"
        return self.media.note

    def outcome(self) -> tuple[object, ...]:
        """What "the cells differ" compares: status, step statuses, chunks, the story's text."""
        text = (self.media.text if self.media else None) or ""
        digest = hashlib.sha256(text.encode()).hexdigest() if text else None
        steps = tuple(self.steps.items())
        return (self.status, steps, self.images_chunks, self.audio_chunks, digest)


@dataclass(frozen=True, slots=True)
class ComparisonMatrix:
    """Documents × runs; see the module docstring. Immutable: filters and marks make new ones."""

    columns: tuple[MatrixColumn, ...]
    documents: tuple[str, ...]
    cells: Mapping[tuple[str, str], MatrixCell] = field(hash=False)
    shown_of: int = 0
    """How many documents the unfiltered matrix had."""

    def cell(self, document: str, column: str) -> MatrixCell | None:
        """The cell of ``document`` under run ``column`` (its key); None if the run lacks it."""
        return self.cells.get((document, column))

    def row(self, document: str) -> tuple[MatrixCell | None, ...]:
        return tuple(self.cell(document, column.key) for column in self.columns)

    def column(self, key: str) -> MatrixColumn:
        return next(column for column in self.columns if column.key == key)

    def failing(self, document: str) -> bool:
        """The document failed, or failed a step, under at least one run."""
        return any(cell is not None and cell.failed for cell in self.row(document))

    def differs(self, document: str) -> bool:
        """The document's cells differ: in outcome (see :meth:`MatrixCell.outcome`), or it is
        missing from a run."""
        row = self.row(document)
        return any(c is None for c in row) or len({c.outcome() for c in row if c}) > 1

    def filtered(
        self, *, only_failures: bool = False, only_differences: bool = False
    ) -> ComparisonMatrix:
        """The matrix with only the documents that failed somewhere and/or whose cells differ."""
        kept = tuple(
            document
            for document in self.documents
            if (not only_failures or self.failing(document))
            and (not only_differences or self.differs(document))
        )
        cells = {key: cell for key, cell in self.cells.items() if key[0] in kept}
        return ComparisonMatrix(self.columns, kept, cells, self.shown_of)

    def mark(
        self, document: str, column: str, rating: Rating | str | None, note: str = ""
    ) -> ComparisonMatrix:
        """Mark one cell (saved in its run's ``marks.json``); returns the matrix with the mark."""
        cell = self.cell(document, column)
        if cell is None:
            raise KeyError(f"no cell for {document!r} under run {column!r}")
        directory = self.column(column).directory
        if directory is None:
            raise KeyError(f"run {column!r} has no folder to keep marks in")
        saved = write_mark(directory, cell.index, cell.name or document, rating, note)
        cells = dict(self.cells)
        cells[(document, column)] = replace(cell, mark=saved)
        return replace(self, cells=cells)

    def frame(self) -> pd.DataFrame:
        """One row per cell: document, run, label, status, each step's status, seconds, chunks,
        pictures and clips kept, the excerpt, the media note, rating and note, then the settings
        that set the runs apart."""
        records = []
        for document in self.documents:
            for column, cell in zip(self.columns, self.row(document), strict=True):
                if cell is not None:
                    records.append(_record(column, cell))
        table = pd.DataFrame.from_records(records)
        if table.empty:
            return table
        return table.astype({"index": "Int64", "images_chunks": "Int64", "audio_chunks": "Int64"})


def _record(column: MatrixColumn, cell: MatrixCell) -> dict[str, object]:
    media = cell.media
    return {
        "document": cell.document,
        "run": column.key,
        "label": column.label,
        "index": cell.index,
        "status": str(cell.status),
        **{f"{step}_status": value for step, value in cell.steps.items()},
        "attempt": cell.attempt,
        "seconds": cell.seconds,
        "images_chunks": cell.images_chunks,
        "audio_chunks": cell.audio_chunks,
        "pictures": len(media.images) if media else 0,
        "clips": len(media.audio) if media else 0,
        "excerpt": cell.excerpt,
        "media_note": cell.media_note,
        "rating": None if cell.mark is None or cell.mark.rating is None else str(cell.mark.rating),
        "note": None if cell.mark is None else cell.mark.note,
        "error": cell.error,
        **dict(column.settings),
    }


RunsGiven = Mapping[str, RunLike] | Sequence[RunLike]


def comparison_matrix(runs: RunsGiven, grid: Iterable[GridPoint] | None = None) -> ComparisonMatrix:
    """The matrix of ``runs``: a mapping of label → run (as notebook 02 makes, or
    :func:`~batchkit.analysis.load_runs` gives), or a list of runs or run folders.

    Column labels are the mapping's keys, except a key that is only the run's id: then the
    values of the settings that differ between the runs, as :func:`tuning_grid` spells them.
    With ``grid``, a column's settings are its grid point's; else those that differ in the runs'
    ``config.json``. Reads files only (the media kept by :func:`fetch_media`, the marks).
    """
    given = list(runs.items()) if isinstance(runs, Mapping) else [(None, run) for run in runs]
    loaded = [(key, as_run(run), run_directory(run)) for key, run in given]
    points = {point.label: dict(point.settings) for point in grid or ()}
    varied = _varied_settings([directory for _, _, directory in loaded])
    columns: list[MatrixColumn] = []
    cells: dict[tuple[str, str], MatrixCell] = {}
    documents: dict[str, None] = {}
    for (key, run, directory), settings in zip(loaded, varied, strict=True):
        chosen = points.get(str(key), settings) if key is not None else settings
        label = _label(key, run, chosen)
        meta = run_metadata(directory) if directory is not None else {}
        columns.append(MatrixColumn(run.run_id, label, chosen, directory, meta.get("server_url")))
        for cell in _cells(run, directory):
            documents.setdefault(cell.document)
            cells[(cell.document, run.run_id)] = cell
    if len({column.key for column in columns}) != len(columns):
        raise ValueError("the same run is given twice")
    return ComparisonMatrix(tuple(columns), tuple(documents), cells, len(documents))


def _varied_settings(directories: Sequence[Path | None]) -> list[dict[str, Any]]:
    configs = [
        dict((run_metadata(d).get("config") or {}) if d is not None else {}) for d in directories
    ]
    names = [n for n in dict.fromkeys(k for c in configs for k in c) if n not in _LEFT_OUT]
    varied = [n for n in names if len({repr(c.get(n)) for c in configs}) > 1]
    return [{name: config.get(name) for name in varied} for config in configs]


def _label(key: str | None, run: BatchRun, settings: Mapping[str, Any]) -> str:
    if key is not None and key != run.run_id:
        return key
    spelt = " / ".join(str(value) for value in settings.values())
    return spelt or run.run_id


def _cells(run: BatchRun, directory: Path | None) -> list[MatrixCell]:
    files = run.files
    marks = run_marks(directory) if directory is not None else {}
    steps = [str(step) for step in run.steps]
    seen: dict[str, int] = {}
    cells = []
    for row in files.to_dict("records"):
        index = int(row["index"])
        name = str(row["name"])
        seen[name] = seen.get(name, 0) + 1
        document = name if seen[name] == 1 else f"{name} ({seen[name]})"
        story_id = None if pd.isna(row["story_id"]) else str(row["story_id"])
        attempt = 1 if pd.isna(row["attempt"]) else int(row["attempt"])
        media = None
        if story_id is not None and directory is not None:
            media = cached_media(directory, story_id, attempt)
        cells.append(
            MatrixCell(
                document=document,
                column=run.run_id,
                index=index,
                status=FileStatus(str(row["status"])),
                steps={step: str(row.get(f"{step}_status", "pending")) for step in steps},
                seconds=_number(row["elapsed_s"]),
                images_chunks=_count(row["images_chunks"]),
                audio_chunks=_count(row["audio_chunks"]),
                attempt=attempt,
                error=None if pd.isna(row["error"]) else str(row["error"]),
                story_id=story_id,
                media=media,
                mark=marks.get(index),
                name=name,
            )
        )
    return cells


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or value != value  # NaN != NaN


def _number(value: Any) -> float | None:
    return None if _missing(value) else float(value)


def _count(value: Any) -> int | None:
    return None if _missing(value) else int(value)
