"""The workbench: the batch processing page of a notebook, on one Story API.

``wb = await Workbench.open()`` shows the page at once, and logs in to ``$BATCHKIT_URL`` (or
starts the embedded reference server) behind it; ``wb`` shows it. Choose documents, adjust the
settings, press Start, and follow each file; ``wb.run`` and ``wb.files`` hold the run for the
next cells. From code: ``wb.add_files(paths)``, ``await wb.start()``, ``await wb.wait()``.
"""

from batchkit.workbench.media import MediaPanel
from batchkit.workbench.offers import RetryOffer, completed_stories, retry_offer, uploads_over
from batchkit.workbench.readable import make_readable, readable_frame
from batchkit.workbench.settings import DEFAULT_PACE, embedded_pace
from batchkit.workbench.workbench import Workbench

__all__ = [
    "DEFAULT_PACE",
    "MediaPanel",
    "RetryOffer",
    "Workbench",
    "completed_stories",
    "embedded_pace",
    "make_readable",
    "readable_frame",
    "retry_offer",
    "uploads_over",
]
