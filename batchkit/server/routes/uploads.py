"""Uploads: ``POST .../batch-upload`` (both paths of the contract) and ``GET /uploads/...``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse

from batchkit.contract import UploadedFile, UploadResponse
from batchkit.server.records import UploadRecord
from batchkit.server.routes.dependencies import Context, CurrentUser, base_url
from batchkit.server.uploads import ReceivedFile, UploadRejected, receive_uploads
from batchkit.server.views import json_body

__all__ = ["UPLOAD_PATHS", "router"]

router = APIRouter()

UPLOAD_PATHS = ("/api/stories/batch-upload", "/api/file-upload/batch-upload")
"""Production serves the second path; the reference server answers on both."""


async def batch_upload(request: Request, context: Context, user: CurrentUser) -> JSONResponse:
    """Store up to ``max_files`` documents from the multipart field ``files``, in order.

    What is kept counts against the user's storage quota (413 past it); a full disk is 507.
    """
    async with context.quotas.uploading(user.id) as allowance:
        try:
            received = await receive_uploads(
                request.stream(),
                content_type=request.headers.get("content-type", ""),
                paths=context.paths,
                limits=context.upload_limits,
                allowance=allowance,
            )
        except UploadRejected as exc:
            raise HTTPException(status_code=exc.status, detail=exc.message) from None
        await _record(context, user.id, received)
    base = base_url(request)
    response = UploadResponse(
        files=[
            UploadedFile(
                file_url=f"{base}/{f.file_path}",
                file_name=f.file_name,
                file_size=f.file_size,
                file_path=f.file_path,
            )
            for f in received
        ],
        total_files=len(received),
        total_size=sum(f.file_size for f in received),
    )
    return JSONResponse(json_body(response), status_code=201)


async def _record(context: Context, user_id: str, received: list[ReceivedFile]) -> None:
    """Record the stored files; if that fails (a full database, say) they are deleted."""
    try:
        await context.uploads.add(
            [UploadRecord(f.file_path, user_id, f.file_name, f.file_size) for f in received]
        )
    except BaseException:
        for file in received:
            stored = context.paths.stored_file(file.file_path)
            if stored is not None:
                stored.unlink(missing_ok=True)
        raise


for _path in UPLOAD_PATHS:
    router.add_api_route(_path, batch_upload, methods=["POST"], status_code=201)


@router.get("/uploads/{file_path:path}")
async def uploaded_original(file_path: str, context: Context, user: CurrentUser) -> FileResponse:
    """An original, to its owner only (404 for anyone else, as for a file that is not there)."""
    relative = f"uploads/{file_path}"
    upload = await context.uploads.find(user.id, relative)
    stored = context.paths.stored_file(relative)
    if upload is None or stored is None or not stored.is_file():
        raise HTTPException(status_code=404, detail=f"{relative} not found")
    return FileResponse(stored, filename=upload.file_name)
