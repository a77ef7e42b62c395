"""The report's sections about runs: the overview, the comparison, the marks, and each run.

Each section is a string of HTML built from batchkit's own tables (escaped cell by cell) and
plots (SVG inside the page).
"""

from __future__ import annotations

import json
from typing import Any, Final

import pandas as pd

from batchkit.analysis.comparison import compare_runs
from batchkit.analysis.marks import read_marks
from batchkit.analysis.matrix import ComparisonMatrix, MatrixColumn
from batchkit.analysis.matrix_html import FILE_ICONS, STEP_ICONS, escape
from batchkit.analysis.outcomes import failure_table
from batchkit.analysis.plots import plot_comparison, plot_step_durations, plot_timeline
from batchkit.analysis.report_parts import figure, table
from batchkit.analysis.sources import run_metadata
from batchkit.analysis.timings import step_durations, timeline
from batchkit.tracker import BatchRun, FileStatus

__all__ = ["comparison_section", "marks_section", "run_section", "runs_overview"]

_STEPS: Final = ("story", "images", "audio", "merge")


def runs_overview(matrix: ComparisonMatrix, runs: list[BatchRun]) -> str:
    """One row per run: label, id, when, the server, the batches, and how its files ended."""
    rows = []
    for column, run in zip(matrix.columns, runs, strict=True):
        meta = run_metadata(column.directory) if column.directory else {}
        snapshot = run.snapshot()
        rows.append(
            {
                "label": column.label,
                "run": run.run_id,
                "made": run.created_at,
                "server": column.server_url or "—",
                "batches": ", ".join(run.batch_ids) or "—",
                "files": snapshot.total,
                "completed": snapshot.completed,
                "failed": snapshot.failed,
                "batchkit": meta.get("batchkit_version", "—"),
            }
        )
    notes = sorted({note for run in runs for note in run.snapshot().notes})
    listed = "".join(f"<li>{escape(note)}</li>" for note in notes)
    said = f'<div class="bk-notes"><ul>{listed}</ul></div>' if notes else ""
    return table(pd.DataFrame(rows), "The runs in this report") + said


def comparison_section(matrix: ComparisonMatrix, runs: list[BatchRun]) -> str:
    """The runs' totals side by side, their wall times, and every step duration by run."""
    labelled = {column.label: run for column, run in zip(matrix.columns, runs, strict=True)}
    totals = compare_runs(labelled)
    settings = pd.DataFrame.from_dict(
        {column.label: dict(column.settings) for column in matrix.columns}, orient="index"
    )
    if not settings.empty:
        totals = settings.reindex(totals.index).join(totals)
    seconds = {c: lambda v: f"{float(v):.2f}" for c in totals.columns if str(c).endswith("_s")}
    durations = pd.concat(
        [step_durations(run).assign(run=label) for label, run in labelled.items()],
        ignore_index=True,
    )
    bars = figure(
        lambda ax: plot_comparison(totals, "wall_s", ax=ax),
        (7.0, 1.0 + 0.4 * len(totals)),
        "Bar chart of each run's wall time in seconds; the numbers are in the table above.",
    )
    boxes = figure(
        lambda ax: plot_step_durations(durations, ax=ax),
        (max(5.0, 0.5 * durations.groupby(["run", "step"], observed=True).ngroups + 2), 4.0),
        "Box plots of the seconds each step took per file, for each run.",
    )
    return table(totals, "Totals of each run", index=True, formats=seconds) + bars + boxes


def marks_section(matrix: ComparisonMatrix, runs: list[BatchRun]) -> str:
    """Every mark, with the settings of its run ("" when nobody marked anything)."""
    labelled = {column.label: run for column, run in zip(matrix.columns, runs, strict=True)}
    if any(column.directory is None for column in matrix.columns):
        return ""
    marks = read_marks(labelled)
    if marks.empty:
        return ""
    return table(marks.drop(columns=["run"]), "Marks given in the matrix, with each run's settings")


def run_section(column: MatrixColumn, run: BatchRun) -> str:
    """One run: its settings, its files with their steps, its timeline, durations, failures."""
    meta = run_metadata(column.directory) if column.directory else {}
    settings = meta.get("config") or {}
    server = escape(column.server_url or "—")
    parts = [f'<p class="bk-meta">Run {escape(run.run_id)} · server {server}</p>']
    if settings:
        frame = pd.DataFrame(
            [(name, _setting(value)) for name, value in settings.items()],
            columns=["setting", "value"],
        )
        parts.append(table(frame, "The settings the run was made with"))
    parts.append(_files_table(run))
    lines = timeline(run)
    if not lines.empty:
        lanes = lines["index"].nunique()
        parts.append(
            figure(
                lambda ax: plot_timeline(lines, ax=ax),
                (9.0, 1.4 + 0.45 * lanes),
                f"Timeline of run {run.run_id}: one lane per file, one bar per stage from its own "
                "start to its own end; failed stages cross-hatched. The times are in the table.",
            )
        )
    durations = step_durations(run)
    if not durations.empty:
        parts.append(
            figure(
                lambda ax: plot_step_durations(durations, ax=ax),
                (6.0, 3.5),
                f"Box plots of the seconds each step of run {run.run_id} took per file.",
            )
        )
    failures = failure_table(run)
    parts.append(
        table(failures, "Files that failed") if not failures.empty else "<p>No file failed.</p>"
    )
    return "".join(parts)


def _setting(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else "—"
    return "—" if value is None else str(value)


def _files_table(run: BatchRun) -> str:
    files = run.files
    steps = [s for s in _STEPS if f"{s}_status" in files.columns]
    frame = pd.DataFrame(
        {
            "#": files["index"] + 1,
            "file": files["name"],
            "status": [_status(v) for v in files["status"].astype(str)],
            "attempt": files["attempt"] if "attempt" in files.columns else 1,
            **{step: [_step(v) for v in files[f"{step}_status"].astype(str)] for step in steps},
            "elapsed s": files["elapsed_s"],
            "image chunks": files["images_chunks"],
            "audio chunks": files["audio_chunks"],
            "error": files["error"],
        }
    )
    shown = ["status", *steps]
    return table(frame, "Each file and each of its steps", raw=shown)


def _status(value: str) -> str:
    status = FileStatus(value)
    return (
        f'<span class="bk-status-{status.value}"><span aria-hidden="true">'
        f"{FILE_ICONS[status]}</span> {escape(status.value)}</span>"
    )


def _step(value: str) -> str:
    icon = STEP_ICONS.get(value, "·")
    word = escape(value)
    return f'<span class="bk-status-{word}"><span aria-hidden="true">{icon}</span> {word}</span>'
