"""Runs side by side: a grid of settings to try, and one row of totals per run.

``tuning_grid`` spells out every combination of a few settings as validated
:class:`~batchkit.config.BatchConfig` objects; ``compare_runs`` puts the runs made with them in one
table (files, outcomes, wall time, median step durations, chunks), with the settings that were
varied as its first columns.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pandas as pd

from batchkit.analysis.sources import RunLike, as_run
from batchkit.config import BatchConfig
from batchkit.contract.limits import PipelineStep
from batchkit.errors import ConfigError
from batchkit.tracker import BatchRun, FileStatus

__all__ = ["GridPoint", "compare_runs", "run_totals", "tuning_grid"]

WORDS_PER_CHUNK: Final = "words_per_chunk"
"""A grid axis that sets words per chunk for images and audio alike."""


@dataclass(frozen=True, slots=True)
class GridPoint:
    """One combination of a grid: a short label, the settings varied, and the whole config."""

    label: str
    settings: Mapping[str, Any] = field(hash=False)
    config: BatchConfig = field(hash=False)


def tuning_grid(base: BatchConfig | None = None, **axes: Sequence[Any]) -> list[GridPoint]:
    """Every combination of ``axes`` (setting name → values to try) applied to ``base``.

    Axis names are :class:`~batchkit.config.BatchConfig` fields, or ``words_per_chunk`` for both
    ``words_per_chunk_image`` and ``words_per_chunk_audio``. Each combination is validated: a bad
    value raises :class:`~batchkit.errors.ConfigError` before anything runs. Labels join the
    values with `` / `` in axis order, e.g. ``"200 / comic / Kore"``.
    """
    start = base or BatchConfig()
    for name, values in axes.items():
        if isinstance(values, str) or not values:
            raise ConfigError("give a non-empty list of values to try", field=name)
    names = list(axes)
    points: list[GridPoint] = []
    for values in itertools.product(*axes.values()):
        settings = dict(zip(names, values, strict=True))
        label = " / ".join(str(value) for value in values)
        points.append(GridPoint(label, settings, start.replace(**_expand(settings))))
    labels = [point.label for point in points]
    if len(set(labels)) != len(labels):
        raise ConfigError("two combinations of the grid have the same label", field="axes")
    return points


def _expand(settings: Mapping[str, Any]) -> dict[str, Any]:
    changes = dict(settings)
    if WORDS_PER_CHUNK in changes:
        words = changes.pop(WORDS_PER_CHUNK)
        changes.update(words_per_chunk_image=words, words_per_chunk_audio=words)
    return changes


def run_totals(run: RunLike) -> dict[str, Any]:
    """One run in numbers: files, completed, failed, wall time, median step durations, chunks.

    ``wall_s`` runs from when the run was planned to when its last file finished (NaN until one
    has); ``<step>_median_s`` is the median over the files that finished that step.
    """
    source = as_run(run)
    files = source.files
    totals: dict[str, Any] = {
        "files": len(files),
        "completed": int((files["status"] == str(FileStatus.COMPLETED)).sum()),
        "failed": int((files["status"] == str(FileStatus.FAILED)).sum()),
        "wall_s": _wall_seconds(source),
    }
    for step in PipelineStep:
        seconds = files[f"{step}_s"].dropna()
        totals[f"{step}_median_s"] = float(seconds.median()) if len(seconds) else float("nan")
    totals["images_chunks"] = int(files["images_chunks"].fillna(0).sum())
    totals["audio_chunks"] = int(files["audio_chunks"].fillna(0).sum())
    return totals


def _wall_seconds(run: BatchRun) -> float:
    finished = run.files["finished_at"].dropna()
    if finished.empty:
        return float("nan")
    return float((finished.max() - run.created_at).total_seconds())


def compare_runs(
    runs: Mapping[str, RunLike], grid: Iterable[GridPoint] | None = None
) -> pd.DataFrame:
    """One row per run (indexed by its label): :func:`run_totals`, with the settings varied by
    ``grid`` (matched on label) as the first columns."""
    rows = {label: run_totals(run) for label, run in runs.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "run"
    if grid is not None:
        settings = pd.DataFrame.from_dict(
            {point.label: dict(point.settings) for point in grid}, orient="index"
        )
        table = settings.reindex(table.index).join(table)
    counts = {"files": "Int64", "completed": "Int64", "failed": "Int64"}
    return table.astype({**counts, "images_chunks": "Int64", "audio_chunks": "Int64"})
