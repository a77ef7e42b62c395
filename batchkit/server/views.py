"""Records as the contract shows them: batch status (2.3), one story (2.5), a room's story (3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from batchkit.contract import (
    BatchState,
    BatchStatusResponse,
    FileResult,
    FileState,
    MediaAudio,
    MediaImage,
    MergedAudio,
    PipelineStep,
    RoomStory,
    StoryFiles,
    StoryFlags,
    StoryMedia,
    StoryMetadata,
    StoryResponse,
)
from batchkit.server.plan import PipelinePlan
from batchkit.server.records import (
    BatchFileRecord,
    BatchRecord,
    MediaKind,
    MediaRecord,
    StoryRecord,
    parse_time,
)
from batchkit.server.story_store import StoryContent

__all__ = ["batch_status", "json_body", "media_url", "room_story", "story_view"]


def json_body(model: BaseModel) -> dict[str, Any]:
    """A response body: camelCase, with ``null`` kept where the contract says ``|null``."""
    return model.model_dump(mode="json", by_alias=True)


def media_url(base_url: str, story_id: str, name: str) -> str:
    return f"{base_url}/api/media/{story_id}/{name}"


def _time(text: str) -> datetime:
    return parse_time(text) or datetime.now(UTC)


def _file_progress(story: StoryRecord | None) -> float:
    """0-100 for one input: finished counts whole, a running step counts in part."""
    if story is None:
        return 0.0
    if story.finished:
        return 100.0
    steps = len(PipelinePlan.from_json(story.auto_mode).steps)
    done = len(story.completed_steps) + (story.step_progress / 100 if story.step else 0.0)
    return min(100.0, 100.0 * done / steps)


def _file_result(
    batch: BatchRecord, file: BatchFileRecord, story: StoryRecord | None
) -> FileResult:
    if story is None:
        # A batch that ended before this input's record was made failed it with the batch.
        ended = batch.status in {BatchState.FAILED, BatchState.CANCELLED}
        return FileResult(
            index=file.index,
            file_url=file.file_url,
            file_name=file.file_name,
            status=FileState.FAILED if ended else FileState.PENDING,
            error=batch.error if ended else None,
        )
    return FileResult(
        index=file.index,
        file_url=file.file_url,
        file_name=file.file_name,
        story_id=story.id,
        status=story.state,
        step=story.step,
        step_progress=story.step_progress,
        completed_steps=list(story.completed_steps),
        error=story.error,
        started_at=parse_time(story.started_at),
        completed_at=parse_time(story.completed_at),
        processing_time=story.processing_time,
    )


def batch_status(
    batch: BatchRecord,
    files: Sequence[BatchFileRecord],
    stories: Mapping[str, StoryRecord],
) -> BatchStatusResponse:
    """The status of a batch, counted from its stories' pipelines as the database has them."""
    by_file = [stories.get(f.story_id) if f.story_id else None for f in files]
    results = [_file_result(batch, f, s) for f, s in zip(files, by_file, strict=True)]
    completed = sum(r.status is FileState.COMPLETED for r in results)
    failed = sum(r.status is FileState.FAILED for r in results)
    total = len(files)
    progress = sum(_file_progress(s) for s in by_file) / total if total else 100.0
    if batch.status in {BatchState.COMPLETED, BatchState.FAILED}:
        progress = 100.0
    return BatchStatusResponse(
        batch_id=batch.id,
        status=batch.status,
        total_stories=total,
        completed_stories=completed,
        failed_stories=failed,
        progress=round(progress, 2),
        story_ids=[s.id for s in by_file if s is not None],
        errors=[f"Story {r.index + 1}: {r.error}" for r in results if r.error],
        results=results,
    )


def story_flags(story: StoryRecord) -> StoryFlags:
    done = set(story.completed_steps)
    return StoryFlags(
        story_generated=PipelineStep.STORY in done,
        images_generated=PipelineStep.IMAGES in done,
        audio_generated=PipelineStep.AUDIO in done,
        audio_merged=PipelineStep.MERGE in done,
    )


def _story_media(story_id: str, media: Sequence[MediaRecord], base_url: str) -> StoryMedia:
    def url(item: MediaRecord) -> str:
        return media_url(base_url, story_id, item.name)

    merged = next((m for m in media if m.kind is MediaKind.MERGED_AUDIO), None)
    return StoryMedia(
        images=[
            MediaImage(index=m.index, url=url(m), style=m.style, prompt=m.prompt)
            for m in media
            if m.kind is MediaKind.IMAGE
        ],
        audio=[
            MediaAudio(index=m.index, url=url(m), duration_sec=m.duration)
            for m in media
            if m.kind is MediaKind.AUDIO
        ],
        merged_audio=MergedAudio(url=url(merged), duration_sec=merged.duration) if merged else None,
    )


def story_view(
    story: StoryRecord, media: Sequence[MediaRecord], base_url: str, content: StoryContent
) -> StoryResponse:
    """``GET /api/stories/{id}`` with the EXT ``media``, ``status.audioMerged`` and the length
    of the text (left out when ``content`` says it is too long)."""
    text_file = next((m for m in media if m.kind is MediaKind.STORY_TEXT), None)
    return StoryResponse(
        id=story.id,
        title=story.title,
        generated_content=content.text,
        generated_content_length=content.chars,
        generated_content_omitted=content.omitted,
        custom_prompt=story.custom_prompt,
        status=story_flags(story),
        metadata=StoryMetadata(
            original_word_count=story.original_word_count,
            generated_word_count=story.generated_word_count,
            processing_time=story.processing_time,
        ),
        files=StoryFiles(
            original_file=story.file_url,
            generated_file=media_url(base_url, story.id, text_file.name) if text_file else None,
        ),
        created_at=_time(story.created_at),
        updated_at=_time(story.updated_at),
        media=_story_media(story.id, media, base_url),
    )


def room_story(story: StoryRecord) -> RoomStory:
    """The story as ``joined-story-room`` describes it."""
    return RoomStory(
        id=story.id,
        title=story.title,
        status=story_flags(story),
        created_at=_time(story.created_at),
        updated_at=_time(story.updated_at),
    )
