"""What the notebooks compute about runs, as tested code: pandas tables, plots, a matrix, a report.

Every function takes a live :class:`~batchkit.tracker.BatchRun` or the directory of a saved run.

* timings: :func:`step_durations` (long form), :func:`duration_summary`, :func:`timeline`;
* outcomes: :func:`status_counts`, :func:`failure_table`;
* several runs: :func:`tuning_grid` (settings to try), :func:`compare_runs`, :func:`run_totals`,
  :func:`load_runs`, :func:`run_settings`, :func:`run_directory`, :func:`run_metadata`;
* the comparison matrix (documents × runs, with each story's text, pictures and sound):
  :func:`open_matrix` (fetches the media once, then :func:`comparison_matrix`),
  :class:`ComparisonMatrix`, and marks kept with the runs: :func:`save_mark`,
  :func:`read_marks`; media kept next to the runs by :func:`fetch_media`;
* pictures: :func:`plot_timeline`, :func:`plot_step_durations`, :func:`plot_comparison`;
* files: :func:`export` (CSV, Parquet, Excel when openpyxl is installed) and :func:`report`
  (one self-contained HTML file that opens with no network and no kernel).

Only :func:`fetch_media` and :func:`open_matrix` use the network (through a
:class:`~batchkit.client.StoryClient`); no widgets here (:func:`batchkit.widgets.matrix_view`
shows a matrix).
"""

from batchkit.analysis.comparison import GridPoint, compare_runs, run_totals, tuning_grid
from batchkit.analysis.export import EXPORT_FORMATS, export
from batchkit.analysis.marks import (
    MARKS_FILE,
    NOTE_MAX,
    Mark,
    Rating,
    read_marks,
    run_marks,
    save_mark,
)
from batchkit.analysis.matrix import ComparisonMatrix, MatrixCell, MatrixColumn, comparison_matrix
from batchkit.analysis.media_fetch import MediaFetch, fetch_media, open_matrix
from batchkit.analysis.media_store import MEDIA_FOLDER, StoryMedia, cached_media
from batchkit.analysis.outcomes import failure_table, status_counts
from batchkit.analysis.plots import plot_comparison, plot_step_durations, plot_timeline
from batchkit.analysis.report_page import MEDIA_MODES, ReportMedia, report
from batchkit.analysis.sources import (
    RunLike,
    as_run,
    load_runs,
    run_directory,
    run_metadata,
    run_settings,
)
from batchkit.analysis.timings import STAGES, duration_summary, step_durations, timeline

__all__ = [
    "EXPORT_FORMATS",
    "MARKS_FILE",
    "MEDIA_FOLDER",
    "MEDIA_MODES",
    "NOTE_MAX",
    "STAGES",
    "ComparisonMatrix",
    "GridPoint",
    "Mark",
    "MatrixCell",
    "MatrixColumn",
    "MediaFetch",
    "Rating",
    "ReportMedia",
    "RunLike",
    "StoryMedia",
    "as_run",
    "cached_media",
    "compare_runs",
    "comparison_matrix",
    "duration_summary",
    "export",
    "failure_table",
    "fetch_media",
    "load_runs",
    "open_matrix",
    "plot_comparison",
    "plot_step_durations",
    "plot_timeline",
    "read_marks",
    "report",
    "run_directory",
    "run_marks",
    "run_metadata",
    "run_settings",
    "run_totals",
    "save_mark",
    "status_counts",
    "step_durations",
    "timeline",
    "tuning_grid",
]
