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
from batchkit.tracker import BatchRun, StepStatus
from batchkit.tracker.state import step_named

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
    Each stage runs from its own start to its own end. ``outcome`` follows the step's
    ``<step>_status``: ``done`` (it ends when the server confirmed it), ``failed`` or
    ``unconfirmed`` (it ends at the last event about that step: a stage the run gave up on, when
    the server went silent, say, is not drawn on to the moment it was given up), or ``running``
    (it ends at the run's latest fact). An upload that was never answered is ``running`` too.
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
    file_ends = [_moment(value) for value in files["finished_at"].tolist()]
    last_words = _last_words(run)
    rows: list[tuple[object, ...]] = []
    for step in (str(step) for step in run.steps):
        starts = files[f"{step}_started_at"].tolist()
        ends = files[f"{step}_finished_at"].tolist()
        shown = files[f"{step}_status"].astype("string").tolist()
        for row, (began, ended) in enumerate(zip(starts, ends, strict=True)):
            start = _moment(began)
            if start is None:
                continue
            outcome = _OUTCOMES.get(str(shown[row]), "running")
            end = _moment(ended) if outcome == "done" else None
            if end is None and outcome != "running":
                # Its own end: the last word about this step, not when its file was given up.
                heard = last_words.get((row, step))
                end = heard if heard is not None and heard >= start else file_ends[row]
            rows.append((row, names[row], step, start, end or latest, outcome))
    return rows


_OUTCOMES: Final = {
    str(StepStatus.COMPLETED): "done",
    str(StepStatus.FAILED): "failed",
    str(StepStatus.UNCONFIRMED): "unconfirmed",
}
"""A step's ``<step>_status`` as a timeline outcome; any other (running, pending) is running."""


def _last_words(run: BatchRun) -> dict[tuple[int, str], datetime]:
    """When each file last heard an event about each step of its current story (this attempt:
    events before the step's start are dropped by the caller)."""
    events = run.events
    events = events[(events["kind"] == "event") & events["index"].notna()]
    stories = run.files["story_id"].tolist()
    heard: dict[tuple[int, str], datetime] = {}
    columns = ("index", "story_id", "step", "received_at")
    for index, story_id, name, received in zip(*(events[c].tolist() for c in columns), strict=True):
        step = step_named(None if pd.isna(name) else str(name))
        moment = _moment(received)
        row = int(index)
        if step is None or moment is None or not 0 <= row < len(stories):
            continue
        if not pd.isna(story_id) and not pd.isna(stories[row]) and story_id != stories[row]:
            continue  # another story of the same file (a duplicate production made)
        key = (row, str(step))
        if key not in heard or moment > heard[key]:
            heard[key] = moment
    return heard


def _moment(value: object) -> datetime | None:
    """A table cell as a datetime (pandas' Timestamp is one), or None for a missing time."""
    if isinstance(value, datetime) and not pd.isna(value):
        return value
    return None
