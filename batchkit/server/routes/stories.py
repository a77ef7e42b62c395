"""Stories: ``GET /api/stories/options`` (EXT), ``GET /api/stories/{id}`` and ``.../generate``.

``/options`` is declared before ``/{story_id}`` so that it is not taken for a story id (the
production bug the contract describes).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from batchkit.contract import (
    AUDIO_VOICES,
    CUSTOM_PROMPT_MAX,
    TITLE_MAX,
    WORDS_PER_CHUNK_MAX,
    WORDS_PER_CHUNK_MIN,
    GenerateRequest,
    GenerateResponse,
    ImageStyle,
    ModelVoice,
    OptionLimits,
    OptionsResponse,
    WordRange,
)
from batchkit.server.plan import PipelinePlan
from batchkit.server.records import StoryRecord, UserRecord
from batchkit.server.routes.dependencies import Context, CurrentUser, base_url
from batchkit.server.runner import StoryBusy
from batchkit.server.views import json_body, story_view

__all__ = ["router"]

router = APIRouter(prefix="/api/stories")


@router.get("/options")
async def options(context: Context, user: CurrentUser) -> JSONResponse:
    """The enumerations and limits this server accepts."""
    settings = context.settings
    response = OptionsResponse(
        image_styles=[style.value for style in ImageStyle],
        audio_voices=list(AUDIO_VOICES),
        model_voices=[voice.value for voice in ModelVoice],
        limits=OptionLimits(
            max_files=settings.max_files,
            max_file_bytes=settings.max_file_bytes,
            max_stories=settings.max_stories,
            word_per_chunk=WordRange(min=WORDS_PER_CHUNK_MIN, max=WORDS_PER_CHUNK_MAX),
            custom_prompt_max=CUSTOM_PROMPT_MAX,
            title_max=TITLE_MAX,
        ),
    )
    return JSONResponse(json_body(response))


async def _owned_story(story_id: str, user: UserRecord, context: Context) -> StoryRecord:
    """The caller's story, without its text (404 for anyone else's)."""
    story = await context.stories.get(story_id, user_id=user.id, with_content=False)
    if story is None:
        raise HTTPException(status_code=404, detail=f"story {story_id} not found")
    return story


@router.get("/{story_id}")
async def get_story(
    story_id: str, request: Request, context: Context, user: CurrentUser
) -> JSONResponse:
    """The story; its text in ``generatedContent`` up to ``max_story_content_chars`` characters.

    A longer text is left out (EXT ``generatedContentOmitted``), so that one request cannot cost
    the server a copy of a huge story: ``files.generatedFile`` streams the whole of it.
    """
    story = await _owned_story(story_id, user, context)
    media = await context.stories.media(story.id)
    content = await context.stories.content(
        story.id, max_chars=context.settings.max_story_content_chars
    )
    return JSONResponse(json_body(story_view(story, media, base_url(request), content)))


@router.post("/{story_id}/generate", status_code=201)
async def generate(
    story_id: str, body: GenerateRequest, context: Context, user: CurrentUser
) -> JSONResponse:
    """Run the story's whole pipeline again (its events are sent again); 409 while it runs."""
    story = await _owned_story(story_id, user, context)
    await context.quotas.admit_story(user.id)
    auto_mode = (
        body.auto_mode.model_dump_json(by_alias=True, exclude_none=True)
        if body.auto_mode is not None
        else story.auto_mode
    )
    job_id = await context.stories.next_job_id()
    try:
        await context.runner.regenerate(
            story, custom_prompt=body.custom_prompt, auto_mode=auto_mode
        )
    except StoryBusy:
        raise HTTPException(
            status_code=409,
            detail=f"story {story_id} is being processed; generate it again once it has ended",
        ) from None
    response = GenerateResponse(
        message=f"Generation of story {story_id} started",
        job_id=job_id,
        auto_mode=PipelinePlan.from_json(auto_mode).enabled,
    )
    return JSONResponse(json_body(response), status_code=201)
