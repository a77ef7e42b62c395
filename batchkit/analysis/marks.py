"""Marks: a person's verdict on one document under one run's settings, kept with the run.

A mark is ``better`` or ``worse`` (or no rating), with a note. Each run keeps its marks in
``marks.json`` in its folder, one per file of the run (by its row), so the marks travel with
the run and come back as a table joined with the settings the run was made with
(:func:`read_marks`): the evidence for choosing the best settings.

``marks.json`` is written whole or not at all. One that cannot be read is never overwritten:
saving a mark then raises :class:`~batchkit.errors.RunError` naming the file, and nothing is lost.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final, Literal

import pandas as pd
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from batchkit.analysis.sources import RunLike, as_run, run_directory, run_settings
from batchkit.errors import ConfigError, RunError

__all__ = [
    "MARKS_FILE",
    "NOTE_MAX",
    "Mark",
    "Rating",
    "read_marks",
    "run_marks",
    "save_mark",
    "write_mark",
]

MARKS_FILE: Final = "marks.json"
NOTE_MAX: Final = 2000
"""The longest note a mark keeps, in characters."""

_COLUMNS: Final = {
    "run": "string",
    "label": "string",
    "index": "Int64",
    "document": "string",
    "rating": "string",
    "note": "string",
    "marked_at": "datetime64[ns, UTC]",
}


class Rating(StrEnum):
    """How a document came out under a run's settings, compared with the other runs."""

    BETTER = "better"
    WORSE = "worse"


@dataclass(frozen=True, slots=True)
class Mark:
    """One mark: which file of the run (``index``, ``document``), the rating, the note, when."""

    index: int
    document: str
    rating: Rating | None
    note: str
    marked_at: datetime


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    document: Annotated[str, Field(max_length=4096)]
    rating: Literal["better", "worse"] | None
    note: Annotated[str, Field(max_length=NOTE_MAX)]
    marked_at: AwareDatetime


class _MarksFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    marks: dict[int, _Record] = Field(default_factory=dict)


def _read(path: Path) -> _MarksFile:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return _MarksFile()
    except OSError as error:
        raise RunError(f"cannot read the marks in {path}: {error.strerror or error}") from error
    try:
        return _MarksFile.model_validate_json(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        raise RunError(
            f"{path} is not a marks file batchkit can read ({where}: {first['msg']}); "
            "it was left as it is"
        ) from error


def _folder(run: RunLike) -> Path:
    directory = run_directory(run)
    if directory is None:
        raise RunError("this run was never saved to a folder, so it has nowhere to keep marks")
    return directory


def run_marks(run: RunLike) -> dict[int, Mark]:
    """The marks of one run, by the file's row; empty when it has none."""
    records = _read(_folder(run) / MARKS_FILE).marks
    return {
        index: Mark(
            index,
            r.document,
            None if r.rating is None else Rating(r.rating),
            r.note,
            r.marked_at,
        )
        for index, r in sorted(records.items())
    }


def save_mark(run: RunLike, index: int, rating: Rating | str | None, note: str = "") -> Mark | None:
    """Mark file ``index`` of ``run`` ``better`` or ``worse`` (or neither) with ``note``; keep it
    in the run's ``marks.json``. No rating and an empty note remove the mark (returns None)."""
    names = as_run(run).files["name"].tolist()
    if not 0 <= index < len(names):
        raise ConfigError(f"the run has no file at row {index}", field="index")
    return write_mark(_folder(run), index, str(names[index]), rating, note)


def write_mark(
    directory: Path, index: int, document: str, rating: Rating | str | None, note: str = ""
) -> Mark | None:
    """:func:`save_mark` for a run folder whose file ``index`` is known to be ``document``
    (the matrix knows it, and need not replay the run)."""
    chosen = _rating(rating)
    text = note.strip()
    if len(text) > NOTE_MAX:
        raise ConfigError(
            f"is {len(text):,} characters long; the limit is {NOTE_MAX:,}", field="note"
        )
    path = directory / MARKS_FILE
    marks = _read(path)  # an unreadable file raises here, before anything is written
    if chosen is None and not text:
        marks.marks.pop(index, None)
        mark = None
    else:
        now = datetime.now(UTC)
        rated: Literal["better", "worse"] | None = None
        if chosen is not None:
            rated = "better" if chosen is Rating.BETTER else "worse"
        marks.marks[index] = _Record(document=document, rating=rated, note=text, marked_at=now)
        mark = Mark(index, document, chosen, text, now)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(marks.model_dump_json(indent=1) + "\n", encoding="utf-8")
    partial.replace(path)
    return mark


def _rating(rating: Rating | str | None) -> Rating | None:
    if rating is None or rating == "":
        return None
    try:
        return Rating(rating)
    except ValueError:
        raise ConfigError(
            f"{rating!r} is not a rating; use 'better', 'worse' or none", field="rating"
        ) from None


def read_marks(runs: Mapping[str, RunLike] | Iterable[RunLike]) -> pd.DataFrame:
    """Every mark of ``runs``, one row each: ``run`` (its id), ``label`` (the key it was given,
    else its id), ``index``, ``document``, ``rating``, ``note``, ``marked_at``, then the settings
    that differ between the runs (from each run's ``config.json``)."""
    pairs: list[tuple[str | None, RunLike]] = (
        [(str(key), run) for key, run in runs.items()]
        if isinstance(runs, Mapping)
        else [(None, run) for run in runs]
    )
    rows: list[tuple[object, ...]] = []
    folders: list[str | os.PathLike[str]] = []
    for key, run in pairs:
        run_id = as_run(run).run_id
        folders.append(_folder(run))
        for mark in run_marks(run).values():
            rating = None if mark.rating is None else mark.rating.value
            label = run_id if key is None else key
            rows.append(
                (run_id, label, mark.index, mark.document, rating, mark.note, mark.marked_at)
            )
    table = pd.DataFrame(rows, columns=list(_COLUMNS)).astype(_COLUMNS)
    settings = run_settings(folders) if folders else pd.DataFrame()
    if settings.empty or table.empty:
        return table
    return table.join(settings, on="run")
