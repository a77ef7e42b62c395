"""The workbench's widgets: upload zone, file table, config form, notices, the task keeper.

Widgets take trackers, configs and callables; they never reach the network (the workbench
does that). Every callback goes through the one :class:`TaskKeeper` (on the page's loop,
whatever thread delivered it); every view draws through one throttled :class:`Flusher`,
escapes every text it shows, and carries CSS classes (``bk-...``) that browser tests select on.

* :func:`upload_zone` → :class:`UploadZone`: files from the browser (in chunks, by dialog or
  drop) or the kernel's disk, each checked.
* :class:`BatchView` (:func:`progress_view` for a run alone): the one file table, from choice to
  result, and the one overall bar.
* :func:`config_form` → :class:`ConfigForm`: every :class:`~batchkit.config.BatchConfig`
  setting, checked as typed, with presets.
* :class:`Notifier`, :func:`confirm`, :func:`ask`: notices where their cause is, questions.
* :class:`Disclosure`: a part folded behind a keyboard-operable button.
* :func:`matrix_view` → :class:`MatrixView`: a :class:`~batchkit.analysis.ComparisonMatrix`
  (documents × runs) with its pictures, sound, filters and marks.
"""

from batchkit.widgets.batch_view import BatchView, progress_view
from batchkit.widgets.chunked_upload import CHUNK_BYTES, ChunkedUpload
from batchkit.widgets.config_form import ConfigForm, config_form
from batchkit.widgets.disclosure import Disclosure
from batchkit.widgets.file_entries import EntryState, FileEntry, Source
from batchkit.widgets.file_rows import TableRow
from batchkit.widgets.live_html import LiveHTML
from batchkit.widgets.matrix import MatrixView, matrix_view
from batchkit.widgets.notify import Level, Notice, Notifier, ask, close_tree, confirm
from batchkit.widgets.tasks import TaskKeeper, describe_error
from batchkit.widgets.throttle import Flusher, set_changed
from batchkit.widgets.upload_zone import UploadZone, upload_zone

__all__ = [
    "CHUNK_BYTES",
    "BatchView",
    "ChunkedUpload",
    "ConfigForm",
    "Disclosure",
    "EntryState",
    "FileEntry",
    "Flusher",
    "Level",
    "LiveHTML",
    "MatrixView",
    "Notice",
    "Notifier",
    "Source",
    "TableRow",
    "TaskKeeper",
    "UploadZone",
    "ask",
    "close_tree",
    "config_form",
    "confirm",
    "describe_error",
    "matrix_view",
    "progress_view",
    "set_changed",
    "upload_zone",
]
