"""Reaching the Story API behind a page that is already shown: import, start, log in, ask.

:func:`connect` is what :meth:`Workbench.open <batchkit.workbench.Workbench.open>` runs in the
background. It says each step before taking it (``say``), so the page's status line tells the
user what it waits for; the heavy imports (the client, the event stream, the tracker) run off the
event loop so the page keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from batchkit.config import Profile, ServerOptions

if TYPE_CHECKING:
    from batchkit.session import StoryService

__all__ = ["connect", "profile_from_environment"]


def profile_from_environment() -> Profile:
    """The profile ``$BATCHKIT_PROFILE`` names (reference by default)."""
    return Profile.named(os.environ.get("BATCHKIT_PROFILE") or "reference")


async def connect(
    url: str | None, *, pace: float, say: Callable[[str], object], **login: Any
) -> tuple[StoryService, ServerOptions]:
    """A logged-in service on ``url`` (or ``$BATCHKIT_URL``, else the embedded server) and the
    server's options. A service that cannot answer is closed before the error goes on."""
    embedded = url is None and not os.environ.get("BATCHKIT_URL")
    session = await asyncio.to_thread(importlib.import_module, "batchkit.session")
    if embedded:
        say("starting the embedded server and logging in")
    else:
        say(f"logging in to {url or os.environ.get('BATCHKIT_URL', '')}")
    service: StoryService = await session.open_service(url, pace=pace, **login)
    try:
        say("reading the server's choices")
        options = await service.client.options()
    except BaseException:
        await service.aclose()  # no page, no server left behind
        raise
    if service.embedded is not None:
        # A kernel shut down without close() still stops the server and deletes its data.
        atexit.register(service.embedded.stop)
    return service, options
