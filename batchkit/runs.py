"""Runs on disk: written as they happen, read back by replaying what happened.

A run's directory holds::

    events.jsonl    every fact, one JSON line each, appended and flushed as it arrives
    files.parquet   the per-file table when the run was saved (dtypes kept)
    files.csv       the same table, for people and spreadsheets
    config.json     the session's settings and the run's metadata

``events.jsonl`` is the truth: :func:`load_run` rebuilds the run by replaying it and checks the
result against ``files.parquet``. An :class:`EventLog` attached to a live run writes each fact the
moment it arrives, so a crash loses at most the line being written, and a half-written last line
is skipped on load. Nothing here ever writes a credential: the server URL loses its user, password
and query, and settings whose names look secret are redacted.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import pandas as pd
from pydantic import ValidationError

from batchkit import __version__
from batchkit.contract.redaction import redact_settings, redact_url
from batchkit.errors import RunError
from batchkit.tracker import FACT_ADAPTER, BatchRun, Fact, FilesPlanned, file_dtypes

__all__ = [
    "CONFIG_FILE",
    "EVENTS_FILE",
    "FILES_CSV",
    "FILES_PARQUET",
    "EventLog",
    "ReplayMismatchWarning",
    "list_runs",
    "load_run",
    "read_facts",
    "read_files",
    "save_run",
]

logger = logging.getLogger("batchkit.runs")

EVENTS_FILE: Final = "events.jsonl"
FILES_PARQUET: Final = "files.parquet"
FILES_CSV: Final = "files.csv"
CONFIG_FILE: Final = "config.json"


class ReplayMismatchWarning(UserWarning):
    """Replaying ``events.jsonl`` did not give the table saved in ``files.parquet``."""


class EventLog:
    """A run's ``events.jsonl``: appends each fact as one JSON line and flushes it at once.

    Opening a log whose last line was cut short by a crash drops that partial line first, so
    the file stays one valid fact per line.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_partial_tail(self.path)
        self._file = self.path.open("a", encoding="utf-8")

    @classmethod
    def in_directory(cls, directory: str | os.PathLike[str]) -> EventLog:
        """The log of the run saved in ``directory``."""
        return cls(Path(directory) / EVENTS_FILE)

    def __repr__(self) -> str:
        return f"<EventLog {self.path}{' closed' if self.closed else ''}>"

    @property
    def closed(self) -> bool:
        return self._file.closed

    def append_line(self, line: str) -> None:
        """Write one fact's JSON line (the run serialises each fact once) and flush it.

        A log closed when its run was saved opens again for a later fact (a regeneration)."""
        if self._file.closed:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(line + "\n")
        self._file.flush()

    def rewrite(self, facts: Iterable[Fact]) -> None:
        """Replace the whole log with ``facts`` (atomically), then go on appending."""
        self._file.close()
        _write_lines(self.path, facts)
        self._file = self.path.open("a", encoding="utf-8")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _drop_partial_tail(path: Path) -> None:
    """Cut the file back to its last newline (a crash can leave half a line)."""
    if not path.exists():
        return
    with path.open("r+b") as fh:
        end = fh.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            start = max(position - 65536, 0)
            fh.seek(start)
            block = fh.read(position - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            position = start
        else:
            keep = 0
        if keep != end:
            logger.warning("%s: dropped %d bytes of a line cut short", path, end - keep)
            fh.truncate(keep)


def _write_lines(path: Path, facts: Iterable[Fact]) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as fh:
        for fact in facts:
            fh.write(fact.model_dump_json() + "\n")
    partial.replace(path)


def read_facts(path: str | os.PathLike[str]) -> list[Fact]:
    """Every fact in an ``events.jsonl``; a last line cut short by a crash is skipped.

    Raises :class:`~batchkit.errors.RunError` when the file is missing or a complete line is
    not a fact.
    """
    source = Path(path)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise RunError(f"cannot read the run's log {source}: {exc.strerror or exc}") from exc
    *lines, tail = data.split(b"\n")
    if tail.strip():
        warnings.warn(
            f"{source}: the last line was cut short (a crash while writing?) and is skipped",
            RuntimeWarning,
            stacklevel=2,
        )
    facts: list[Fact] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            facts.append(FACT_ADAPTER.validate_json(line))
        except ValidationError as exc:
            raise RunError(f"{source}, line {number}: not a fact of a run ({exc})") from exc
    return facts


# ---------------------------------------------------------------- saving
def save_run(
    run: BatchRun,
    directory: str | os.PathLike[str],
    *,
    config: Mapping[str, Any] | None = None,
    server_url: str | None = None,
) -> Path:
    """Write ``run`` to ``directory`` (created if needed) and return it.

    ``events.jsonl`` is left as it is when the run's own :class:`EventLog` has been writing it
    and holds every fact; otherwise it is written from the run's facts. ``config`` is whatever
    settings the session ran with (secret-looking keys are redacted).
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    _save_events(run, target / EVENTS_FILE)
    frame = run.files
    partial = target / (FILES_PARQUET + ".partial")
    frame.to_parquet(partial, index=False)
    partial.replace(target / FILES_PARQUET)
    partial = target / (FILES_CSV + ".partial")
    frame.to_csv(partial, index=False)
    partial.replace(target / FILES_CSV)
    metadata = _metadata(run, config or {}, server_url)
    partial = target / (CONFIG_FILE + ".partial")
    partial.write_text(json.dumps(metadata, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    partial.replace(target / CONFIG_FILE)
    return target


def _save_events(run: BatchRun, path: Path) -> None:
    log = run.log
    if isinstance(log, EventLog) and log.path.resolve() == path.resolve():
        if log.closed or _count_lines(path) != run.fact_count:
            log.rewrite(run.facts)  # it was attached late, or lost a line: the run knows them all
        return
    _write_lines(path, run.facts)


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def _metadata(run: BatchRun, config: Mapping[str, Any], server_url: str | None) -> dict[str, Any]:
    snapshot = run.snapshot()
    return {
        "run_id": run.run_id,
        "created_at": run.created_at.isoformat(),
        "saved_at": datetime.now(UTC).isoformat(),
        "batchkit_version": __version__,
        "server_url": None if server_url is None else redact_url(server_url, keep_query=False),
        "batch_ids": list(run.batch_ids),
        "steps": [str(step) for step in run.plan.steps],
        "reportable_steps": [str(step) for step in run.plan.reportable_steps],
        "stall_timeout": run.stall_timeout,
        "facts": run.fact_count,
        "summary": {
            "files": snapshot.total,
            "completed": snapshot.completed,
            "failed": snapshot.failed,
            "done": snapshot.all_done,
        },
        "config": redact_settings(config),
    }


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


# ---------------------------------------------------------------- loading
def load_run(directory: str | os.PathLike[str], *, resume: bool = False) -> BatchRun:
    """Rebuild the run saved in ``directory`` by replaying its ``events.jsonl``.

    The replay up to the save is compared with ``files.parquet``; a difference is reported as a
    :class:`ReplayMismatchWarning` (the log wins). Facts logged after the save are folded too.
    With ``resume``, later facts are appended to the same log.
    """
    source = Path(directory)
    facts = read_facts(source / EVENTS_FILE)
    if not facts or not isinstance(facts[0], FilesPlanned):
        raise RunError(f"{source / EVENTS_FILE}: a run's log must start with its planned files")
    saved_facts = _saved_fact_count(source)
    run = BatchRun.replay(facts[:saved_facts] if saved_facts else facts)
    parquet = source / FILES_PARQUET
    if parquet.exists():
        _check_replay(run.files, read_files(parquet), parquet)
    if saved_facts:
        run.apply_many(facts[saved_facts:])
    if resume:
        run.attach_log(EventLog(source / EVENTS_FILE))
    return run


def read_files(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A saved ``files.parquet`` with the tracker's dtypes restored."""
    frame = pd.read_parquet(path)
    typed = frame.astype({k: v for k, v in file_dtypes().items() if k in frame.columns})
    return typed.copy(deep=True)  # Arrow hands back read-only buffers: give the user a table


def _saved_fact_count(directory: Path) -> int | None:
    config = directory / CONFIG_FILE
    if not config.exists():
        return None
    try:
        count = json.loads(config.read_text(encoding="utf-8")).get("facts")
    except (OSError, ValueError):
        return None
    return count if isinstance(count, int) and count > 0 else None


def _check_replay(replayed: pd.DataFrame, saved: pd.DataFrame, path: Path) -> None:
    try:
        pd.testing.assert_frame_equal(replayed, saved)
    except AssertionError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "they differ"
        warnings.warn(
            f"{path}: replaying events.jsonl gives a different table ({first}); "
            "the table from the log is used",
            ReplayMismatchWarning,
            stacklevel=3,
        )


def list_runs(root: str | os.PathLike[str]) -> pd.DataFrame:
    """One row per run directory under ``root``, oldest first (runs never saved included)."""
    base = Path(root)
    found = sorted(base.iterdir()) if base.is_dir() else []
    rows = [row for directory in found if (row := _run_row(directory)) is not None]
    frame = pd.DataFrame(rows, columns=list(_RUN_COLUMNS))
    frame = frame.astype(_RUN_COLUMNS)
    return frame.sort_values("created_at", kind="stable").reset_index(drop=True)


_RUN_COLUMNS: Final[dict[str, Any]] = {
    "run_id": "string",
    "created_at": "datetime64[ns, UTC]",
    "saved_at": "datetime64[ns, UTC]",
    "saved": "boolean",
    "files": "Int64",
    "completed": "Int64",
    "failed": "Int64",
    "batch_ids": "string",
    "steps": "string",
    "server_url": "string",
    "batchkit_version": "string",
    "path": "string",
}


def _run_row(directory: Path) -> tuple[object, ...] | None:
    config_path = directory / CONFIG_FILE
    if config_path.exists():
        try:
            meta = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            logger.warning("%s: unreadable, left out of the list of runs", config_path)
            return None
        summary = meta.get("summary", {})
        return (
            meta.get("run_id"),
            pd.Timestamp(meta.get("created_at")),
            pd.Timestamp(meta.get("saved_at")),
            True,
            summary.get("files"),
            summary.get("completed"),
            summary.get("failed"),
            ",".join(meta.get("batch_ids", [])),
            ",".join(meta.get("steps", [])),
            meta.get("server_url"),
            meta.get("batchkit_version"),
            str(directory),
        )
    return _unsaved_run_row(directory)


def _unsaved_run_row(directory: Path) -> tuple[object, ...] | None:
    """A run that logged facts but was never saved (it crashed, or is still going)."""
    events = directory / EVENTS_FILE
    if not events.exists():
        return None
    with events.open("rb") as fh:
        first = fh.readline()
    try:
        plan = FACT_ADAPTER.validate_json(first)
    except ValidationError:
        return None
    if not isinstance(plan, FilesPlanned):
        return None
    steps = ",".join(str(step) for step in plan.steps)
    created = pd.Timestamp(plan.received_at)
    unknown = None
    return (
        plan.run_id,
        created,
        pd.NaT,
        False,
        len(plan.files),
        unknown,
        unknown,
        "",
        steps,
        unknown,
        unknown,
        str(directory),
    )
