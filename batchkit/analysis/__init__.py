"""What the notebooks compute about runs, as tested code: pandas tables and matplotlib plots.

Every function takes a live :class:`~batchkit.tracker.BatchRun` or the directory of a saved run.

* timings: :func:`step_durations` (long form), :func:`duration_summary`, :func:`timeline`;
* outcomes: :func:`status_counts`, :func:`failure_table`;
* several runs: :func:`tuning_grid` (settings to try), :func:`compare_runs`, :func:`run_totals`,
  :func:`load_runs`, :func:`run_settings`;
* pictures: :func:`plot_timeline`, :func:`plot_step_durations`, :func:`plot_comparison`;
* files: :func:`export` (CSV, Parquet, Excel when openpyxl is installed).

Pure: no network and no widgets (media and galleries are the workbench's business).
"""

from batchkit.analysis.comparison import GridPoint, compare_runs, run_totals, tuning_grid
from batchkit.analysis.export import EXPORT_FORMATS, export
from batchkit.analysis.outcomes import failure_table, status_counts
from batchkit.analysis.plots import plot_comparison, plot_step_durations, plot_timeline
from batchkit.analysis.sources import RunLike, as_run, load_runs, run_settings
from batchkit.analysis.timings import STAGES, duration_summary, step_durations, timeline

__all__ = [
    "EXPORT_FORMATS",
    "STAGES",
    "GridPoint",
    "RunLike",
    "as_run",
    "compare_runs",
    "duration_summary",
    "export",
    "failure_table",
    "load_runs",
    "plot_comparison",
    "plot_step_durations",
    "plot_timeline",
    "run_settings",
    "run_totals",
    "status_counts",
    "step_durations",
    "timeline",
    "tuning_grid",
]
