"""Batches: ``POST /api/stories/batch-create`` and ``GET /api/stories/batch/{id}/status``."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Header, HTTPException
from fastapi.responses import JSONResponse

from batchkit.contract import BatchCreateData, BatchCreateRequest, BatchCreateResponse
from batchkit.server.batch_store import NewBatchFile
from batchkit.server.records import UserRecord
from batchkit.server.routes.dependencies import Context, CurrentUser
from batchkit.server.views import json_body

__all__ = ["router"]

router = APIRouter(prefix="/api/stories")

_IDEMPOTENCY_KEY_MAX = 255


def _stored_path(file_url: str) -> str:
    """The ``filePath`` inside a ``fileUrl`` (any host: the same server has several names)."""
    return unquote(urlsplit(file_url).path).lstrip("/")


async def _batch_files(
    body: BatchCreateRequest, user: UserRecord, context: Context
) -> list[NewBatchFile]:
    """The inputs, each checked to be an upload of this user; 400 naming every one that is not."""
    paths = [_stored_path(story.file_url) for story in body.stories]
    uploads = await context.uploads.find_many(user.id, paths)
    problems = [
        f"stories.{i}.fileUrl: {story.file_url!r} is not a file you uploaded to this server"
        for i, (story, path) in enumerate(zip(body.stories, paths, strict=True))
        if path not in uploads
    ]
    if problems:
        raise HTTPException(status_code=400, detail=problems)
    return [
        NewBatchFile(
            file_url=story.file_url,
            file_path=path,
            file_name=uploads[path].file_name,
            title=(story.title or "").strip() or f"Story {i + 1}",
            custom_prompt=story.custom_prompt,
        )
        for i, (story, path) in enumerate(zip(body.stories, paths, strict=True))
    ]


def _check_key(key: str | None) -> str | None:
    if key is not None and not (0 < len(key.strip()) <= _IDEMPOTENCY_KEY_MAX):
        raise HTTPException(
            status_code=400,
            detail=f"Idempotency-Key must be 1 to {_IDEMPOTENCY_KEY_MAX} characters",
        )
    return key


@router.post("/batch-create", status_code=201)
async def create_batch(
    body: BatchCreateRequest,
    context: Context,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Create a batch and start it; with the same ``Idempotency-Key``, replay the first answer.

    The user's quotas (stories in flight, batches per minute) are checked as it is created.
    """
    if len(body.stories) > context.settings.max_stories:
        raise HTTPException(
            status_code=400,
            detail=f"stories: at most {context.settings.max_stories} stories per batch",
        )
    files = await _batch_files(body, user, context)

    def respond(batch_id: str, job_id: str) -> dict[str, Any]:
        data = BatchCreateData(
            batch_id=batch_id,
            total_stories=len(files),
            auto_mode=body.auto_mode.enabled,
            job_id=job_id,
        )
        message = f"Batch of {len(files)} stories created"
        return json_body(BatchCreateResponse(success=True, message=message, data=data))

    response, batch_id = await context.batches.create(
        user_id=user.id,
        auto_mode=body.auto_mode.model_dump_json(by_alias=True, exclude_none=True),
        files=files,
        idempotency_key=_check_key(idempotency_key),
        respond=respond,
        admit=context.quotas.admit_batch(user.id, len(files)),
    )
    if batch_id is not None:
        context.runner.start_batch(batch_id)
    return JSONResponse(response, status_code=201)


@router.get("/batch/{batch_id}/status")
async def batch_status(batch_id: str, context: Context, user: CurrentUser) -> JSONResponse:
    """The batch's status from the database, with the EXT per-file ``results``."""
    batch = await context.batches.get(batch_id, user_id=user.id)
    if batch is None:
        raise HTTPException(status_code=404, detail=f"batch {batch_id} not found")
    return JSONResponse(json_body(await context.batch_status(batch)))
