"""The workbench's widgets: upload zone, config form, progress view, notices.

Widgets take trackers, configs and callables; they never reach the network (the workbench
does that). Every view draws through one throttled :class:`Flusher`, escapes every text it
shows, and carries CSS classes (``bk-...``) that browser tests select on.

* :func:`upload_zone` → :class:`UploadZone`: files from the browser (in chunks, by dialog or
  drop) or the kernel's disk, checked and listed with both legs of their upload.
* :func:`config_form` → :class:`ConfigForm`: every :class:`~batchkit.config.BatchConfig`
  setting, validated inline, with presets.
* :func:`progress_view` → :class:`ProgressView`: a run's progress, at most ``max_rate``
  redraws a second, the final state at once.
* :class:`Notifier`, :func:`confirm`, :class:`Busy`: notices, confirmations, busy buttons.
* :func:`matrix_view` → :class:`MatrixView`: a :class:`~batchkit.analysis.ComparisonMatrix`
  (documents × runs) with its pictures, sound, filters and marks.
"""

from batchkit.widgets.chunked_upload import CHUNK_BYTES, ChunkedUpload
from batchkit.widgets.config_form import ConfigForm, config_form
from batchkit.widgets.matrix import MatrixView, matrix_view
from batchkit.widgets.notify import Busy, Level, Notice, Notifier, ask, close_tree, confirm
from batchkit.widgets.progress_view import ProgressView, progress_view
from batchkit.widgets.throttle import Flusher, set_changed
from batchkit.widgets.upload_rows import EntryState, FileEntry, Source
from batchkit.widgets.upload_zone import UploadZone, upload_zone

__all__ = [
    "CHUNK_BYTES",
    "Busy",
    "ChunkedUpload",
    "ConfigForm",
    "EntryState",
    "FileEntry",
    "Flusher",
    "Level",
    "MatrixView",
    "Notice",
    "Notifier",
    "ProgressView",
    "Source",
    "UploadZone",
    "ask",
    "close_tree",
    "config_form",
    "confirm",
    "matrix_view",
    "progress_view",
    "set_changed",
    "upload_zone",
]
