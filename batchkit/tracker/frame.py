"""The live per-file DataFrame and the table of facts received.

:class:`FileFrame` owns one preallocated DataFrame (one row per planned file, typed columns) and
keeps it true by writing only the cells that changed, in place, with ``DataFrame.iat``: the frame
object never changes, so whoever holds it sees every update. (Under copy-on-write a cell write
copies a column only when someone else shares it, such as a lazy slice a user took: that slice
keeps its old values, as a copy should, and the run's frame gets the new ones.)

Each cell write costs pandas 10–25 µs, several times what folding an event costs, and the live
socket path delivers events one per turn of the event loop. So while a loop runs, the cells of
the rows that changed are written at the end of the loop's turn, and no more often than every
:data:`WRITE_INTERVAL` seconds: a burst of events costs a few writes, not one per event. A row
that reached a final state, a read of ``BatchRun.files``, or a caller without a running loop
gets the cells written at once.

Every time is UTC, as batchkit received the fact (one clock, so durations never mix the server's
clock with the client's); every fraction is 0.0–1.0. Strings are stored in pandas' nullable
``string`` dtype with Python storage, which writes a cell in place (Arrow storage would rebuild
the column for each cell).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

import pandas as pd

from batchkit.contract.limits import PipelineStep
from batchkit.tracker.facts import (
    BatchCreatedFact,
    BatchFailedFact,
    EventFact,
    Fact,
    FilesPlanned,
    RegenerateFact,
    StatusFact,
    StoryFact,
    UploadedFact,
    UploadFailedFact,
    UploadProgressFact,
)
from batchkit.tracker.state import (
    STEP_ORDER,
    BatchTrack,
    FileStatus,
    FileTrack,
    StepStatus,
    UploadStatus,
)
from batchkit.tracker.view import describe

__all__ = [
    "BATCH_COLUMNS",
    "EVENT_COLUMNS",
    "FILE_COLUMNS",
    "WRITE_INTERVAL",
    "FileFrame",
    "batches_frame",
    "events_frame",
    "file_dtypes",
]

_STRING: Final = pd.StringDtype("python")
_TIME: Final = "datetime64[ns, UTC]"


def _categories(values: Iterable[str]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype([str(v) for v in values])


FILE_COLUMNS: Final[tuple[tuple[str, Any], ...]] = (
    ("index", "Int64"),
    ("name", _STRING),
    ("size", "Int64"),
    ("batch_id", _STRING),
    ("batch_index", "Int64"),
    ("file_url", _STRING),
    ("story_id", _STRING),
    ("upload_status", _categories(UploadStatus)),
    ("upload_sent", "Int64"),
    ("upload_progress", "Float64"),
    ("status", _categories(FileStatus)),
    ("attempt", "Int64"),
    *((f"{step}_status", _categories(StepStatus)) for step in STEP_ORDER),
    ("step", _categories(PipelineStep)),
    ("step_progress", "Float64"),
    ("completed_steps", _STRING),
    ("error", _STRING),
    ("stalled", "boolean"),
    ("started_at", _TIME),
    ("finished_at", _TIME),
    ("elapsed_s", "Float64"),
    *(
        (f"{step}_{part}", dtype)
        for step in STEP_ORDER
        for part, dtype in (("started_at", _TIME), ("finished_at", _TIME), ("s", "Float64"))
    ),
    ("images_chunks", "Int64"),
    ("audio_chunks", "Int64"),
    ("last_event_at", _TIME),
)
"""The per-file columns, in order, with their dtypes. ``<step>_status`` says where each step is
(:class:`~batchkit.tracker.machine.StepStatus`); ``completed_steps`` lists only the steps the
server has confirmed; ``attempt`` is 1, plus one per regeneration or retry."""

EVENT_COLUMNS: Final[tuple[tuple[str, Any], ...]] = (
    ("received_at", _TIME),
    ("kind", _STRING),
    ("event", _STRING),
    ("outcome", _STRING),
    ("index", "Int64"),
    ("batch_id", _STRING),
    ("story_id", _STRING),
    ("step", _STRING),
    ("progress", "Float64"),
    ("seq", "Int64"),
)
"""The columns of ``BatchRun.events``: one row per fact received."""

BATCH_COLUMNS: Final[tuple[tuple[str, Any], ...]] = (
    ("batch_id", _STRING),
    ("job_id", _STRING),
    ("files", "Int64"),
    ("state", _STRING),
    ("error", _STRING),
)
"""The columns of ``BatchRun.batches``: one row per batch created."""

_STALLABLE: Final = frozenset({FileStatus.UPLOADING, FileStatus.PROCESSING})

WRITE_INTERVAL: Final = 0.1
"""While an event loop runs, the per-file frame is written at most this often (seconds).

Reading ``BatchRun.files`` always writes what is pending first, so only a reference held from an
earlier read waits this long: as long as a view, which draws from snapshots at most 10 times a
second, waits anyway. On a live burst the writes are still a large cost per event: in place, a
write of a row's two changed cells costs ~0.6–1.5 ms, so at 50 ms they took 6–15 µs per event of
a 10,000-event burst (``python -m benchmarks.socket_path``); at 100 ms, half that."""


def file_dtypes() -> dict[str, Any]:
    """Column name → dtype of the per-file frame (to restore dtypes after a file round trip)."""
    return dict(FILE_COLUMNS)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


def _upload_progress(track: FileTrack, upload: UploadStatus) -> float | None:
    if upload is UploadStatus.UPLOADED:
        return 1.0
    if upload is UploadStatus.REJECTED:
        return None
    if not track.upload_total:
        return 0.0
    return min(track.upload_sent / track.upload_total, 1.0)


def row_values(track: FileTrack) -> tuple[object, ...]:
    """One file's row, in :data:`FILE_COLUMNS` order."""
    view = describe(track)
    status, lead, failure, shown = view.status, view.lead, view.failure, view.steps
    per_step: list[object] = []
    for name in STEP_ORDER:
        began = None if lead is None else lead.step_started.get(name)
        ended = None if lead is None else lead.step_finished.get(name)
        per_step += (began, ended, _seconds(began, ended))
    started = None if lead is None else lead.started_at
    chunks = {} if lead is None else lead.chunks
    return (
        track.index,
        track.name,
        track.size,
        track.batch_id,
        track.batch_index,
        track.file_url,
        None if lead is None else lead.story_id,
        view.upload.value,
        track.upload_sent,
        _upload_progress(track, view.upload),
        status.value,
        track.attempt,
        *(shown[name].value for name in STEP_ORDER),
        None if view.step is None else view.step.value,
        view.step_progress,
        ",".join(s.value for s in STEP_ORDER if shown[s] is StepStatus.COMPLETED),
        None if failure is None else failure[1],
        track.stalled and status in _STALLABLE,
        started,
        view.finished_at,
        _seconds(started, view.finished_at),
        *per_step,
        chunks.get(PipelineStep.IMAGES),
        chunks.get(PipelineStep.AUDIO),
        track.last_event_at,
    )


def _frame(rows: Sequence[Sequence[object]], columns: tuple[tuple[str, Any], ...]) -> pd.DataFrame:
    data = {
        name: pd.array([row[i] for row in rows], dtype=dtype)
        for i, (name, dtype) in enumerate(columns)
    }
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


class FileFrame:
    """The per-file DataFrame, written cell by cell as tracks change."""

    def __init__(self, tracks: Sequence[FileTrack]) -> None:
        self._tracks = tracks
        self._written = [row_values(track) for track in tracks]
        self.frame = _frame(self._written, FILE_COLUMNS)
        self._pending: set[int] = set()
        self._scheduled: tuple[asyncio.AbstractEventLoop, asyncio.Handle] | None = None
        self._written_at = -WRITE_INTERVAL

    @property
    def pending(self) -> bool:
        """Rows changed whose cells are still to be written."""
        return bool(self._pending)

    def update(self, rows: Iterable[int], *, at_once: bool = False) -> None:
        """Write the changed cells of ``rows``: at once when ``at_once`` or when no event loop
        runs, else at the end of this turn of the loop (at most every :data:`WRITE_INTERVAL`)."""
        self._pending.update(rows)
        try:
            loop = None if at_once else asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self.flush()
        elif self._pending and (self._scheduled is None or self._scheduled[0] is not loop):
            wait = self._written_at + WRITE_INTERVAL - time.monotonic()
            handle = loop.call_later(wait, self.flush) if wait > 0 else loop.call_soon(self.flush)
            self._scheduled = (loop, handle)

    def flush(self) -> bool:
        """Write every pending row's changed cells now; True when any cell changed."""
        if self._scheduled is not None:
            self._scheduled[1].cancel()
            self._scheduled = None
        if not self._pending:
            return False
        rows, self._pending = sorted(self._pending), set()
        self._written_at = time.monotonic()
        return self._sync(rows)

    def _sync(self, rows: Iterable[int]) -> bool:
        frame = self.frame
        wrote = False
        for row in rows:
            new = row_values(self._tracks[row])
            old = self._written[row]
            if new == old:
                continue
            for column, value in enumerate(new):
                if value != old[column]:
                    cell: Any = value
                    frame.iat[row, column] = cell
            self._written[row] = new
            wrote = True
        return wrote


def _describe(fact: Fact) -> tuple[object, ...]:
    """``event, batch_id, story_id, step, progress, seq`` of one fact, where it has them."""
    if isinstance(fact, EventFact):
        # A model's fields live in its __dict__; getattr() on a field an event lacks would go
        # through pydantic's slow fallback, once per event.
        fields: dict[str, Any] = fact.event.__dict__
        progress = fields.get("progress")
        return (
            str(fields["event"]),
            fields.get("batch_id"),
            fields.get("story_id"),
            fields.get("step"),
            None if progress is None else progress / 100.0,
            fields.get("seq"),
        )
    if isinstance(fact, StatusFact):
        status = fact.status
        return (None, status.batch_id, None, None, status.progress / 100.0, None)
    if isinstance(fact, StoryFact):
        return (None, None, fact.story.id, None, None, None)
    if isinstance(fact, UploadProgressFact):
        return (None, None, None, None, fact.sent / fact.total if fact.total else None, None)
    if isinstance(fact, BatchCreatedFact | BatchFailedFact):
        return (None, fact.batch_id, None, None, None, None)
    return (None, None, None, None, None, None)


def _index_of(fact: Fact, row: int | None) -> int | None:
    if isinstance(fact, UploadProgressFact | UploadedFact | UploadFailedFact | RegenerateFact):
        return fact.index
    return None if isinstance(fact, FilesPlanned) else row


def event_row(fact: Fact, outcome: str, row: int | None) -> tuple[object, ...]:
    """A fact's row of the events table: when, what, what it did, which file it was about."""
    name, *rest = _describe(fact)
    return (fact.received_at, fact.kind, name, outcome, _index_of(fact, row), *rest)


def events_frame(rows: Sequence[tuple[object, ...]]) -> pd.DataFrame:
    """The events table from rows made by :func:`event_row`."""
    return _frame(list(rows), EVENT_COLUMNS)


def batches_frame(batches: Iterable[BatchTrack]) -> pd.DataFrame:
    """One row per batch: id, job id, how many files, the state the server last gave, error."""
    rows = [(b.batch_id, b.job_id, len(b.rows), str(b.state), b.error) for b in batches]
    return _frame(rows, BATCH_COLUMNS)
