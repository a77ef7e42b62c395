"""``GET /api/media/{storyId}/{name}``: a generated file (text, image, audio), to its owner."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from batchkit.server.routes.dependencies import Context, CurrentUser

__all__ = ["router"]

router = APIRouter(prefix="/api/media")

_MEDIA_TYPES = {".png": "image/png", ".wav": "audio/wav", ".txt": "text/plain; charset=utf-8"}


@router.get("/{story_id}/{name}")
async def media_file(story_id: str, name: str, context: Context, user: CurrentUser) -> FileResponse:
    story = await context.stories.get(story_id, user_id=user.id, with_content=False)
    path = context.paths.media_file(story_id, name)
    if story is None or path is None:
        raise HTTPException(status_code=404, detail=f"media {story_id}/{name} not found")
    known = {media.name for media in await context.stories.media(story_id)}
    if name not in known or not path.is_file():
        raise HTTPException(status_code=404, detail=f"media {story_id}/{name} not found")
    return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix])
