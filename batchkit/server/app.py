"""The ASGI application: FastAPI for ``/api`` and ``/uploads``, python-socketio beside it.

The database is opened, the configured users are created (and the removed ones refused) and
interrupted work is resumed during ASGI startup; at shutdown socket clients are dropped,
pipelines interrupted (their state stays in the database) and the database closed. Every HTTP
request goes through :class:`~batchkit.server.request_limits.RequestLimits` first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import socketio
from fastapi import FastAPI

from batchkit.contract.redaction import redact_tokens_in_logs
from batchkit.server.accounts import Accounts
from batchkit.server.auth import TokenService, load_or_create_secret
from batchkit.server.batch_store import BatchStore
from batchkit.server.context import ServerContext
from batchkit.server.database import Database
from batchkit.server.emitter import RoomEmitter
from batchkit.server.faults import FaultInjector
from batchkit.server.http_errors import install_error_handlers
from batchkit.server.login_limits import LoginLimiter
from batchkit.server.pipeline import PipelineServices
from batchkit.server.quotas import UserQuotas
from batchkit.server.request_limits import BodyLimit, RequestLimits
from batchkit.server.routes import auth, batches, media, stories, uploads
from batchkit.server.runner import BatchRunner
from batchkit.server.settings import ServerSettings
from batchkit.server.sockets import SocketGateway, create_socket_server
from batchkit.server.storage import DataPaths
from batchkit.server.story_store import StoryStore
from batchkit.server.upload_store import UploadStore
from batchkit.server.uploads import UploadLimits
from batchkit.server.work_limits import StoryLimits
from batchkit.server.worker_pool import PoolSettings, WorkerPool

__all__ = ["ServerApplication", "build_application", "create_app"]

ASGIApp = Any
"""An ASGI callable (socketio.ASGIApp is untyped)."""


@dataclass(frozen=True, slots=True)
class ServerApplication:
    """The ASGI app and the parts of it that a launcher controls at run time."""

    asgi: ASGIApp
    context: ServerContext
    sockets: SocketGateway


def _build_context(settings: ServerSettings, sio: socketio.AsyncServer) -> ServerContext:
    paths = DataPaths(settings.data_dir)
    paths.make_dirs()
    paths.remove_partial_uploads()
    db = Database(paths.database)
    secret = settings.jwt_secret or load_or_create_secret(settings.data_dir)
    story_store = StoryStore(db)
    batch_store = BatchStore(db, idempotency_ttl_seconds=settings.idempotency_ttl_seconds)
    emitter = RoomEmitter(db, sio)
    faults = FaultInjector(settings.fail_rates, settings.seed)
    services = PipelineServices(
        jobs=WorkerPool(
            PoolSettings(
                size=settings.workers,
                data_dir=paths.root.resolve(),
                cpu_seconds=settings.job_cpu_seconds,
                memory_bytes=settings.job_memory_bytes,
                wall_seconds=settings.job_wall_seconds,
            )
        ),
        limits=StoryLimits(
            max_words=settings.max_story_words,
            max_chunks_per_step=settings.max_chunks_per_step,
            max_media_bytes=settings.max_media_bytes_per_story,
        ),
        stories=story_store,
        emitter=emitter,
        faults=faults,
        paths=paths,
        pace=settings.pace,
    )
    runner = BatchRunner(
        services, batch_store, workers=settings.workers, resume=settings.resume_interrupted
    )
    return ServerContext(
        settings=settings,
        paths=paths,
        db=db,
        tokens=TokenService(secret, settings.token_ttl_seconds),
        accounts=Accounts(db, hash_workers=settings.password_hash_workers),
        uploads=UploadStore(db),
        batches=batch_store,
        stories=story_store,
        emitter=emitter,
        faults=faults,
        runner=runner,
        quotas=UserQuotas(db, settings),
        logins=LoginLimiter(
            per_user=settings.login_failures_per_user,
            per_address=settings.login_failures_per_address,
            window=settings.login_window_seconds,
        ),
    )


def _lifespan(context: ServerContext, gateway: SocketGateway, sio: socketio.AsyncServer) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await context.db.open()
        try:
            await context.accounts.remove_users(context.settings.removed_users)
            await context.accounts.ensure_users(context.settings.users)
            await context.runner.resume_interrupted()
            context.runner.warm_up()
            yield
        finally:
            await gateway.drop_all()
            await context.runner.shutdown()
            await sio.shutdown()
            context.accounts.close()
            await context.db.close()

    return lifespan


# uvicorn's access log is off in batchkit.server.serving, but on for anyone who gives it a handler.
_LOGGERS_THAT_SEE_TOKENS = ("uvicorn.error", "uvicorn.access", "engineio.server", "socketio.server")


def _limit_requests(asgi: ASGIApp, settings: ServerSettings) -> ASGIApp:
    """Every route's body limit: the uploads' from their own limits, the JSON one elsewhere."""
    upload = UploadLimits(settings.max_files, settings.max_file_bytes)
    upload_limit = BodyLimit(
        upload.max_request_bytes,
        f"{settings.max_files} files of {upload.describe_size()} and their multipart framing",
        what="the upload request",
    )
    return RequestLimits(
        asgi,
        default=BodyLimit(settings.max_json_body_bytes, "max_json_body_bytes"),
        limits=dict.fromkeys(uploads.UPLOAD_PATHS, upload_limit),
        idle_timeout=settings.body_idle_timeout_seconds,
        deadline=settings.body_deadline_seconds,
    )


def build_application(settings: ServerSettings) -> ServerApplication:
    """Everything of one server, not started yet (the ASGI lifespan starts it)."""
    redact_tokens_in_logs(_LOGGERS_THAT_SEE_TOKENS)
    sio = create_socket_server(settings.max_socket_message_bytes)
    context = _build_context(settings, sio)
    gateway = SocketGateway(sio, context)
    api = FastAPI(
        title="batchkit reference Story API",
        lifespan=_lifespan(context, gateway, sio),
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    api.state.context = context
    install_error_handlers(api)
    for module in (auth, uploads, batches, stories, media):
        api.include_router(module.router)
    asgi = _limit_requests(socketio.ASGIApp(sio, other_asgi_app=api), settings)
    return ServerApplication(asgi, context, gateway)


def create_app(settings: ServerSettings) -> ASGIApp:
    """The reference server as one ASGI application (for uvicorn, or for tests)."""
    return build_application(settings).asgi
