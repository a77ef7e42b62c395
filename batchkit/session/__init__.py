"""Running and following batches: the layer that joins the client, the event stream and the tracker.

* :func:`open_service`: a logged-in client, starting the embedded reference server when no URL
  is given.
* :class:`BatchSession`: screen, plan, upload in groups of 10, create, and follow one run.
* :func:`attach`: follow again a batch started earlier (after a kernel restart).
"""

from batchkit.session.attach import attach
from batchkit.session.batch_session import BatchSession, DocumentLike, new_run
from batchkit.session.follower import Follower, FollowOptions
from batchkit.session.service import StoryService, open_service

__all__ = [
    "BatchSession",
    "DocumentLike",
    "FollowOptions",
    "Follower",
    "StoryService",
    "attach",
    "new_run",
    "open_service",
]
