"""The workbench: the batch processing page of a notebook, on one Story API.

``wb = await Workbench.open()`` logs in to ``$BATCHKIT_URL`` (or starts the embedded reference
server) and builds the page; ``wb`` shows it. Choose documents, adjust the settings, press
Start, and follow each file; ``wb.run`` and ``wb.files`` hold the run for the next cells.
From code: ``wb.add_files(paths)``, ``await wb.start()``, ``await wb.wait()``.
"""

from batchkit.workbench.media import MediaPanel, media_format
from batchkit.workbench.offers import completed_stories, retryable, uploads_over
from batchkit.workbench.settings import DEFAULT_PACE, embedded_pace
from batchkit.workbench.tasks import TaskKeeper, describe_error
from batchkit.workbench.workbench import Workbench

__all__ = [
    "DEFAULT_PACE",
    "MediaPanel",
    "TaskKeeper",
    "Workbench",
    "completed_stories",
    "describe_error",
    "embedded_pace",
    "media_format",
    "retryable",
    "uploads_over",
]
