"""Everything a request handler or socket handler may use, made once per application."""

from __future__ import annotations

from dataclasses import dataclass

from batchkit.contract import BatchStatusResponse
from batchkit.errors import AuthError
from batchkit.server.accounts import Accounts
from batchkit.server.auth import TokenService
from batchkit.server.batch_store import BatchStore
from batchkit.server.database import Database
from batchkit.server.emitter import RoomEmitter
from batchkit.server.faults import FaultInjector
from batchkit.server.login_limits import LoginLimiter
from batchkit.server.quotas import UserQuotas
from batchkit.server.records import BatchRecord, UserRecord
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
    quotas: UserQuotas
    logins: LoginLimiter

    @property
    def upload_limits(self) -> UploadLimits:
        return UploadLimits(self.settings.max_files, self.settings.max_file_bytes)

    async def user_of_token(self, token: str) -> UserRecord:
        """The user an access token stands for; :class:`AuthError` saying why when none does."""
        claims = self.tokens.claims(token)
        user = await self.accounts.get(claims.user_id)
        if user is None:
            raise AuthError("the token's user does not exist on this server", status=401)
        if user.removed:
            raise AuthError("the token's user has been removed from this server", status=401)
        if claims.generation != user.token_generation:
            raise AuthError(
                "the token was revoked (its user's password changed); log in again", status=401
            )
        return user

    async def batch_status(self, batch: BatchRecord) -> BatchStatusResponse:
        """The batch's status as the database has it now."""
        files = await self.batches.files(batch.id)
        stories = {s.id: s for s in await self.stories.of_batch(batch.id, with_content=False)}
        return batch_status(batch, files, stories)
