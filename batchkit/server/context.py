"""Everything a request handler or socket handler may use, made once per application."""

from __future__ import annotations

from dataclasses import dataclass

from batchkit.contract import BatchStatusResponse
from batchkit.server.accounts import Accounts
from batchkit.server.auth import TokenService
from batchkit.server.batch_store import BatchStore
from batchkit.server.database import Database
from batchkit.server.emitter import RoomEmitter
from batchkit.server.faults import FaultInjector
from batchkit.server.records import BatchRecord
from batchkit.server.runner import BatchRunner
from batchkit.server.settings import ServerSettings
from batchkit.server.storage import DataPaths
from batchkit.server.story_store import StoryStore
from batchkit.server.upload_store import UploadStore
from batchkit.server.uploads import UploadLimits
from batchkit.server.views import batch_status

__all__ = ["ServerContext"]


@dataclass(frozen=True, slots=True)
class ServerContext:
    settings: ServerSettings
    paths: DataPaths
    db: Database
    tokens: TokenService
    accounts: Accounts
    uploads: UploadStore
    batches: BatchStore
    stories: StoryStore
    emitter: RoomEmitter
    faults: FaultInjector
    runner: BatchRunner

    @property
    def upload_limits(self) -> UploadLimits:
        return UploadLimits(self.settings.max_files, self.settings.max_file_bytes)

    async def batch_status(self, batch: BatchRecord) -> BatchStatusResponse:
        """The batch's status as the database has it now."""
        files = await self.batches.files(batch.id)
        stories = {story.id: story for story in await self.stories.of_batch(batch.id)}
        return batch_status(batch, files, stories)
