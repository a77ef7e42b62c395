"""Uploads: ``POST .../batch-upload`` (both paths of the contract) and ``GET /uploads/...``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse

from batchkit.contract import UploadedFile, UploadResponse
from batchkit.server.records import UploadRecord
from batchkit.server.routes.dependencies import Context, CurrentUser, base_url
from batchkit.server.uploads import UploadRejected, receive_uploads
from batchkit.server.views import json_body

__all__ = ["router"]

router = APIRouter()


async def batch_upload(request: Request, context: Context, user: CurrentUser) -> JSONResponse:
    """Store up to ``max_files`` documents from the multipart field ``files``, in order."""
    try:
        received = await receive_uploads(
            request.stream(),
            content_type=request.headers.get("content-type", ""),
            content_length=request.headers.get("content-length"),
            paths=context.paths,
            limits=context.upload_limits,
        )
    except UploadRejected as exc:
        raise HTTPException(status_code=exc.status, detail=exc.message) from None
    await context.uploads.add(
        [UploadRecord(f.file_path, user.id, f.file_name, f.file_size) for f in received]
    )
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


# Production serves the second path; the reference server answers on both.
for _path in ("/api/stories/batch-upload", "/api/file-upload/batch-upload"):
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
