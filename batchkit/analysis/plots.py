"""Matplotlib pictures of the analysis tables: a timeline, duration distributions, comparisons.

Each function draws on ``ax`` when given, else on a new figure from ``pyplot`` (shown inline in
a notebook), and returns the axes. Nothing here picks a backend, so it works under Agg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import pandas as pd

from batchkit.analysis.timings import STAGES

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# matplotlib is imported where a plot is drawn: it costs ~0.6 s, and the rest of
# batchkit.analysis (tables, export) needs none of it.

__all__ = ["plot_comparison", "plot_step_durations", "plot_timeline"]

STAGE_COLOURS: Final = {
    "upload": "#8c8c8c",
    "story": "#4c72b0",
    "images": "#dd8452",
    "audio": "#55a868",
    "merge": "#8172b3",
}
_HATCH: Final = {"done": "", "failed": "xx", "running": "..", "unconfirmed": "//"}


def _axes(ax: Axes | None, width: float, height: float) -> Axes:
    if ax is not None:
        return ax
    from matplotlib import pyplot as plt

    _, created = plt.subplots(figsize=(width, height))
    return created


def plot_timeline(timeline: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """One lane per file, one bar per stage (:func:`~batchkit.analysis.timeline`'s table).

    Failed stages are cross-hatched and outlined in red, running ones dotted, unconfirmed ones
    striped: the outcome never rests on colour alone.
    """
    files = timeline.drop_duplicates("index").sort_values("index")
    lanes = {int(index): lane for lane, index in enumerate(files["index"])}
    target = _axes(ax, 9.0, 1.2 + 0.45 * max(len(lanes), 1))
    columns = ("index", "stage", "start_s", "end_s", "outcome")
    for index, stage, start, end, outcome in zip(
        *(timeline[c].tolist() for c in columns), strict=True
    ):
        target.broken_barh(
            [(float(start), max(float(end) - float(start), 1e-3))],
            (lanes[int(index)] - 0.35, 0.7),
            facecolors=STAGE_COLOURS.get(str(stage), "#cccccc"),
            edgecolor="#c0392b" if outcome == "failed" else "none",
            hatch=_HATCH.get(outcome, ""),
        )
    target.set_yticks(range(len(lanes)), [str(name) for name in files["file"]])
    target.invert_yaxis()
    target.set_xlabel("seconds since the run was planned")
    target.set_title("What each file did, and when")
    present = [s for s in STAGES if s in set(timeline["stage"].astype(str))]
    from matplotlib.patches import Patch

    legend = [Patch(facecolor=STAGE_COLOURS[s], label=s) for s in present]
    if legend:
        target.legend(
            handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small"
        )
    return target


def plot_step_durations(durations: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """A box per step, each file's duration as a dot (:func:`~batchkit.analysis.step_durations`'s
    table; add a ``run`` column to compare runs, and each box is one run's step)."""
    keys = ["run", "step"] if "run" in durations.columns else ["step"]
    groups = [
        (" · ".join(str(k) for k in (key if isinstance(key, tuple) else (key,))), values)
        for key, values in durations.groupby(keys, observed=True, sort=True)["seconds"]
    ]
    target = _axes(ax, max(4.0, 0.9 * len(groups) + 2), 3.5)
    if not groups:
        target.set_title("No step has finished yet")
        return target
    data = [values.astype(float).to_numpy() for _, values in groups]
    target.boxplot(data, tick_labels=[label for label, _ in groups], showfliers=False)
    for position, values in enumerate(data, start=1):
        target.plot([position] * len(values), values, "o", alpha=0.5, markersize=4, color="k")
    target.set_ylabel("seconds")
    target.set_title("Time per step, per file")
    target.tick_params(axis="x", labelrotation=30 if len(groups) > 4 else 0)
    return target


def plot_comparison(table: pd.DataFrame, column: str = "wall_s", ax: Axes | None = None) -> Axes:
    """One horizontal bar per run of :func:`~batchkit.analysis.compare_runs`'s ``column``."""
    values = pd.to_numeric(table[column], errors="coerce").astype(float)
    target = _axes(ax, 7.0, 1.0 + 0.4 * max(len(values), 1))
    labels = [str(label) for label in table.index]
    target.barh(labels, values.fillna(0.0).to_numpy(), color="#4c72b0")
    target.invert_yaxis()
    if not (values.fillna(0.0) > 0).any():
        target.set_xlim(0.0, 1.0)  # all zero (no failures, say): an axis that reads as such
    if values.dropna().apply(float.is_integer).all():
        from matplotlib.ticker import MaxNLocator

        target.xaxis.set_major_locator(MaxNLocator(integer=True))
    target.set_xlabel(column)
    target.set_title(f"{column} by run")
    return target
