"""A Story API to work with: the one named by the user, or the embedded reference server.

This is the one place where the client side starts ``batchkit.server``: when no URL is given
(argument or ``BATCHKIT_URL``), batchkit starts the reference server on a free loopback port, as
the notebooks and the headless CLI promise.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

from batchkit.client import StoryClient
from batchkit.config import Profile

if TYPE_CHECKING:
    from batchkit.server import EmbeddedServer

__all__ = ["StoryService", "open_service"]


@dataclass(slots=True)
class StoryService:
    """A logged-in :class:`StoryClient`, and the embedded server when batchkit started one."""

    client: StoryClient
    embedded: EmbeddedServer | None = None

    @property
    def url(self) -> str:
        return self.client.base_url

    async def aclose(self) -> None:
        """Close the client; stop the embedded server, if this service started it."""
        await self.client.aclose()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def open_service(
    url: str | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    profile: str | Profile | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    pace: float = 0.0,
    workers: int = 2,
) -> StoryService:
    """Connect to ``url`` (or ``BATCHKIT_URL``) and log in; without either, start the embedded
    reference server (data in ``data_dir``, a temporary directory by default) and log in to it.
    """
    embedded: EmbeddedServer | None = None
    if url is None and not os.environ.get("BATCHKIT_URL"):
        from batchkit.server import start_embedded_server  # only when it is wanted

        directory = Path(data_dir) if data_dir is not None else None
        embedded = await asyncio.to_thread(
            start_embedded_server, data_dir=directory, pace=pace, workers=workers
        )
        url = embedded.url
        username, password = embedded.credentials.username, embedded.credentials.password
        token, profile = None, "reference"
    client = StoryClient(url, username=username, password=password, token=token, profile=profile)
    # Log in now, so wrong credentials fail here and not half-way through a run.
    has_token = token is not None or bool(os.environ.get("BATCHKIT_TOKEN"))
    try:
        if embedded is not None or not has_token:
            await client.login()
    except BaseException:
        await client.aclose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        raise
    return StoryService(client, embedded)
