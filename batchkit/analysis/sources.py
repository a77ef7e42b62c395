"""Where the runs analysed come from: a live :class:`~batchkit.tracker.BatchRun` or a saved one.

Every function of :mod:`batchkit.analysis` takes either, so a notebook can study the run it just
made and the runs saved last week the same way.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, TypeAlias

import pandas as pd

from batchkit.runs import CONFIG_FILE, EventLog, list_runs, load_run
from batchkit.tracker import BatchRun

__all__ = ["RunLike", "as_run", "load_runs", "run_directory", "run_metadata", "run_settings"]

RunLike: TypeAlias = BatchRun | str | os.PathLike[str]
"""A run, or the directory a run was saved to."""

_FOLDERS: Final[weakref.WeakKeyDictionary[BatchRun, Path]] = weakref.WeakKeyDictionary()
"""The folder each run loaded here came from (a loaded run does not know it itself)."""


def as_run(run: RunLike) -> BatchRun:
    """``run`` itself, or the run saved in that directory (replayed from its log)."""
    if isinstance(run, BatchRun):
        return run
    loaded = load_run(run)
    _FOLDERS[loaded] = Path(run)
    return loaded


def run_directory(run: RunLike) -> Path | None:
    """The folder ``run`` is saved in: the directory given, the one a run loaded by
    :func:`as_run`/:func:`load_runs` came from, or the one a session's run logs to; None for a
    run that lives only in memory (media and marks are kept in that folder)."""
    if not isinstance(run, BatchRun):
        return Path(run)
    known = _FOLDERS.get(run)
    if known is not None:
        return known
    log = run.log
    return log.path.parent if isinstance(log, EventLog) else None


def load_runs(root: str | os.PathLike[str]) -> dict[str, BatchRun]:
    """Every run saved under ``root``, oldest first, by run id (:func:`batchkit.runs.list_runs`)."""
    table = list_runs(root)
    return {str(row.run_id): as_run(str(row.path)) for row in table.itertuples(index=False)}


def run_settings(
    directories: Iterable[str | os.PathLike[str]], *, varied_only: bool = True
) -> pd.DataFrame:
    """The settings each saved run was made with, one row per run (indexed by run id).

    With ``varied_only`` (the default) only the settings that differ between the runs are kept:
    what a comparison of the runs is about.
    """
    rows: dict[str, dict[str, Any]] = {}
    for directory in directories:
        meta = run_metadata(directory)
        config = meta.get("config") or {}
        rows[str(meta.get("run_id") or Path(directory).name)] = {
            key: _cell(value) for key, value in config.items()
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "run"
    if varied_only and len(table) > 1:
        varied = [c for c in table.columns if table[c].astype(str).nunique(dropna=False) > 1]
        table = table[varied]
    return table


def run_metadata(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """A saved run's ``config.json`` (settings, server, versions, summary); ``{}`` if unreadable."""
    try:
        meta = json.loads((Path(directory) / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _cell(value: object) -> object:
    # Titles and prompts are mappings: keep a table cell flat and comparable.
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value
