"""How long things took: each file's steps as durations (long form) and as a timeline.

Every time is batchkit's own clock (UTC, when the client learnt of it), so durations never mix
the server's clock with the client's. ``upload`` in a timeline is the kernel → server leg: from
the first bytes reported sent to the server's answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import pandas as pd

from batchkit.analysis.sources import RunLike, as_run
from batchkit.tracker import BatchRun

__all__ = ["STAGES", "duration_summary", "step_durations", "timeline"]

UPLOAD: Final = "upload"
STAGES: Final = (UPLOAD, "story", "images", "audio", "merge")
"""Every stage a timeline can show, in the order a file goes through them."""

_DURATION_COLUMNS: Final = {"index": "Int64", "file": "string", "seconds": "Float64"}
_TIMELINE_COLUMNS: Final = {
    "index": "Int64",
    "file": "string",
    "stage": "string",
    "start": "datetime64[ns, UTC]",
    "end": "datetime64[ns, UTC]",
    "start_s": "Float64",
    "end_s": "Float64",
    "outcome": "string",
}


def _stage_dtype(stages: tuple[str, ...]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(stages), ordered=True)


def step_durations(run: RunLike) -> pd.DataFrame:
    """One row per file and step it finished: ``index``, ``file``, ``step``, ``seconds``.

    Long form, ready for ``groupby("step")`` or a box plot; steps are an ordered categorical in
    pipeline order. A step that never finished (failed, or still running) has no row.
    """
    source = as_run(run)
    files = source.files
    steps = tuple(str(step) for step in source.steps)
    parts = [
        pd.DataFrame(
            {
                "index": files["index"],
                "file": files["name"],
                "step": step,
                "seconds": files[f"{step}_s"],
            }
        )
        for step in steps
    ]
    if not parts:
        return _empty_durations(steps)
    long = pd.concat(parts, ignore_index=True)
    long = long[long["seconds"].notna()].reset_index(drop=True)
    long = long.astype({**_DURATION_COLUMNS, "step": _stage_dtype(steps)})
    return long[["index", "file", "step", "seconds"]]


def _empty_durations(steps: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {name: pd.Series(dtype=dtype) for name, dtype in _DURATION_COLUMNS.items()}
    )
    frame["step"] = pd.Series(dtype=_stage_dtype(steps))
    return frame[["index", "file", "step", "seconds"]]


def duration_summary(run: RunLike) -> pd.DataFrame:
    """Per step: how many files finished it, and the median, mean and longest seconds."""
    durations = step_durations(run)
    grouped = durations.groupby("step", observed=False)["seconds"]
    summary = grouped.agg(["count", "median", "mean", "max"])
    return summary.rename(columns={"count": "files", "max": "longest"})


def timeline(run: RunLike) -> pd.DataFrame:
    """One row per file and stage it entered: upload, then each pipeline step.

    ``start``/``end`` are UTC times; ``start_s``/``end_s`` are seconds since the run was planned.
    ``outcome`` is ``done``, ``failed`` (the file failed in that stage; it ends when the failure
    was learnt) or ``running`` (it ends at the run's latest fact).
    """
    source = as_run(run)
    origin = source.created_at
    latest = source.snapshot().as_of
    rows = [*_upload_rows(source, latest), *_step_rows(source, latest)]
    stages = (UPLOAD, *(str(step) for step in source.steps))
    frame = pd.DataFrame(rows, columns=["index", "file", "stage", "start", "end", "outcome"])
    frame["start_s"] = [(start - origin).total_seconds() for start in frame["start"]]
    frame["end_s"] = [(end - origin).total_seconds() for end in frame["end"]]
    frame = frame.astype(_TIMELINE_COLUMNS)
    frame["stage"] = frame["stage"].astype(_stage_dtype(stages))
    ordered = frame.sort_values(["index", "stage", "start"], kind="stable")
    return ordered[list(_TIMELINE_COLUMNS)].reset_index(drop=True)


def _upload_rows(run: BatchRun, latest: datetime) -> list[tuple[object, ...]]:
    events = run.events
    names = run.files["name"].tolist()
    statuses = run.files["upload_status"].astype(str).tolist()
    sending = events[events["kind"] == "upload-progress"]
    answered = events[events["kind"].isin(["uploaded", "upload-failed"])]
    starts = _first_by_file(sending["index"].tolist(), sending["received_at"].tolist())
    ends = _first_by_file(answered["index"].tolist(), answered["received_at"].tolist())
    rows: list[tuple[object, ...]] = []
    for row, start in sorted(starts.items()):
        end = ends.get(row)
        outcome = "running" if end is None else "failed" if statuses[row] == "failed" else "done"
        rows.append((row, names[row], UPLOAD, start, end or latest, outcome))
    return rows


def _first_by_file(indices: list[object], moments: list[object]) -> dict[int, datetime]:
    first: dict[int, datetime] = {}
    for index, value in zip(indices, moments, strict=True):
        moment = _moment(value)
        if isinstance(index, int) and moment is not None:
            first[index] = min(first.get(index, moment), moment)
    return first


def _step_rows(run: BatchRun, latest: datetime) -> list[tuple[object, ...]]:
    files = run.files
    names = files["name"].tolist()
    failed = (files["status"] == "failed").tolist()
    finished = [_moment(value) for value in files["finished_at"].tolist()]
    rows: list[tuple[object, ...]] = []
    for step in (str(step) for step in run.steps):
        starts = files[f"{step}_started_at"].tolist()
        ends = files[f"{step}_finished_at"].tolist()
        for row, (began, ended) in enumerate(zip(starts, ends, strict=True)):
            start, end = _moment(began), _moment(ended)
            if start is None:
                continue
            outcome = "done"
            if end is None:
                outcome = "failed" if failed[row] else "running"
                end = (finished[row] if failed[row] else None) or latest
            rows.append((row, names[row], step, start, end, outcome))
    return rows


def _moment(value: object) -> datetime | None:
    """A table cell as a datetime (pandas' Timestamp is one), or None for a missing time."""
    if isinstance(value, datetime) and not pd.isna(value):
        return value
    return None
