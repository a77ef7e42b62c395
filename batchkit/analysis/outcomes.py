"""What became of the files: counts by status and the table of failures."""

from __future__ import annotations

from typing import Final

import pandas as pd

from batchkit.analysis.sources import RunLike, as_run
from batchkit.tracker import FileStatus

__all__ = ["failure_table", "status_counts"]

_FAILURE_COLUMNS: Final = ["index", "file", "stage", "error", "batch_id", "story_id"]


def status_counts(run: RunLike) -> pd.Series:
    """How many files are in each status, every status listed (zeros included), in order."""
    statuses = as_run(run).files["status"]
    counts = statuses.value_counts().reindex([str(s) for s in FileStatus], fill_value=0)
    counts.index.name = "status"
    return counts.rename("files").astype("Int64")


def failure_table(run: RunLike) -> pd.DataFrame:
    """One row per failed file: ``index``, ``file``, ``stage``, ``error``, ``batch_id`` and
    ``story_id``.

    ``stage`` is where it failed: ``rejected`` (never left the machine: wrong type, too big,
    empty...), ``upload``, a pipeline step (``story``, ``images``, ``audio``, ``merge``), or
    ``batch`` (the batch around it failed, or the server went silent).
    """
    files = as_run(run).files
    failed = files[files["status"] == str(FileStatus.FAILED)]
    stages = [
        _stage(str(upload), None if pd.isna(step) else str(step))
        for upload, step in zip(failed["upload_status"], failed["step"], strict=True)
    ]
    table = pd.DataFrame(
        {
            "index": failed["index"],
            "file": failed["name"],
            "stage": pd.array(stages, dtype="string"),
            "error": failed["error"],
            "batch_id": failed["batch_id"],
            "story_id": failed["story_id"],
        }
    )
    return table[_FAILURE_COLUMNS].reset_index(drop=True)


def _stage(upload_status: str, step: str | None) -> str:
    if upload_status in ("rejected", "failed"):
        return "rejected" if upload_status == "rejected" else "upload"
    return step if step is not None else "batch"
