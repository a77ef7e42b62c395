"""Request and response bodies of the REST endpoints (section 2 of the contract)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool

from batchkit.contract.limits import (
    AUDIO_VOICES,
    CHUNK_PROMPT_MAX,
    CUSTOM_PROMPT_MAX,
    MAX_STORIES,
    TITLE_MAX,
    WORDS_PER_CHUNK_MAX,
    WORDS_PER_CHUNK_MIN,
    BatchState,
    FileState,
    ImageStyle,
    ModelVoice,
    PipelineStep,
)
from batchkit.contract.wire import JsonNumber, RequestModel, ServerTime, WireModel

__all__ = [
    "AudioVoice",
    "AutoModeConfig",
    "BatchCreateData",
    "BatchCreateRequest",
    "BatchCreateResponse",
    "BatchStatusResponse",
    "ErrorBody",
    "FileResult",
    "GenerateRequest",
    "GenerateResponse",
    "LoginRequest",
    "LoginResponse",
    "MediaAudio",
    "MediaImage",
    "MergedAudio",
    "OptionLimits",
    "OptionsResponse",
    "StoryFiles",
    "StoryFlags",
    "StoryInput",
    "StoryMedia",
    "StoryMetadata",
    "StoryResponse",
    "UploadResponse",
    "UploadedFile",
    "UserInfo",
    "WordRange",
]

AudioVoice = Literal[AUDIO_VOICES]  # type: ignore[valid-type]
ChunkWords = Annotated[JsonNumber, Field(ge=WORDS_PER_CHUNK_MIN, le=WORDS_PER_CHUNK_MAX)]


# ---------------------------------------------------------------- auth (1)
class LoginRequest(RequestModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class UserInfo(WireModel):
    id: str = Field(alias="_id")
    username: str
    email: str = ""
    full_name: str = ""
    role: str = "user"


class LoginResponse(WireModel):
    access_token: str = Field(repr=False)
    refresh_token: str = Field(repr=False)
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name, not a secret
    expires_in: int | str
    expires_at: str | int | None = None
    user: UserInfo


class ErrorBody(WireModel):
    """Every HTTP error: ``message`` is a string or a list of strings."""

    status_code: int
    message: str | list[str]
    error: str = ""

    def text(self) -> str:
        """``message`` as one human sentence."""
        return "; ".join(self.message) if isinstance(self.message, list) else self.message


# ---------------------------------------------------------------- upload (2.1)
class UploadedFile(WireModel):
    file_url: str
    file_name: str
    file_size: int
    file_path: str


class UploadResponse(WireModel):
    files: list[UploadedFile]
    total_files: int
    total_size: int


# ---------------------------------------------------------------- batch create (2.2)
class AutoModeConfig(RequestModel):
    """``autoMode``: ``enabled`` is required; every other field falls back to the server default."""

    enabled: StrictBool
    generate_story: StrictBool | None = None
    generate_images: StrictBool | None = None
    generate_audio: StrictBool | None = None
    merge_audio: StrictBool | None = None
    audio_voice: AudioVoice | None = None
    model_voice: ModelVoice | None = None
    word_per_chunk_image: ChunkWords | None = None
    word_per_chunk_audio: ChunkWords | None = None
    custom_prompt_image: str | None = Field(default=None, max_length=CHUNK_PROMPT_MAX)
    custom_prompt_audio: str | None = Field(default=None, max_length=CHUNK_PROMPT_MAX)
    image_style: ImageStyle | None = None


class StoryInput(RequestModel):
    title: str | None = Field(default=None, max_length=TITLE_MAX)
    custom_prompt: str | None = Field(default=None, max_length=CUSTOM_PROMPT_MAX)
    file_url: str = Field(min_length=1, max_length=2048)


class BatchCreateRequest(RequestModel):
    stories: list[StoryInput] = Field(min_length=1, max_length=MAX_STORIES)
    auto_mode: AutoModeConfig


class BatchCreateData(WireModel):
    batch_id: str
    total_stories: int
    auto_mode: bool
    job_id: str | int


class BatchCreateResponse(WireModel):
    """The only envelope of the API: ``{success, message, data}``."""

    success: bool
    message: str
    data: BatchCreateData


# ---------------------------------------------------------------- batch status (2.3)
class FileResult(WireModel):
    """EXT: one input file of a batch, in input order."""

    index: int
    file_url: str
    file_name: str
    story_id: str | None = None
    status: FileState
    step: PipelineStep | None = None
    step_progress: float = 0.0
    completed_steps: list[PipelineStep] = Field(default_factory=list)
    error: str | None = None
    started_at: ServerTime | None = None
    completed_at: ServerTime | None = None
    processing_time: float = 0.0


class BatchStatusResponse(WireModel):
    batch_id: str
    status: BatchState
    total_stories: int
    completed_stories: int
    failed_stories: int
    progress: float
    story_ids: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    results: list[FileResult] | None = None


# ---------------------------------------------------------------- generate (2.4)
class GenerateRequest(RequestModel):
    custom_prompt: str = Field(min_length=1, max_length=CUSTOM_PROMPT_MAX)
    auto_mode: AutoModeConfig | None = None


class GenerateResponse(WireModel):
    message: str
    job_id: str | int
    auto_mode: bool


# ---------------------------------------------------------------- one story (2.5)
class StoryFlags(WireModel):
    story_generated: bool = False
    images_generated: bool = False
    audio_generated: bool = False
    audio_merged: bool | None = None


class StoryMetadata(WireModel):
    original_word_count: int = 0
    generated_word_count: int = 0
    processing_time: float = 0.0


class StoryFiles(WireModel):
    original_file: str
    generated_file: str | None = None


class MediaImage(WireModel):
    index: int
    url: str
    style: str
    prompt: str


class MediaAudio(WireModel):
    index: int
    url: str
    duration_sec: float


class MergedAudio(WireModel):
    url: str
    duration_sec: float


class StoryMedia(WireModel):
    images: list[MediaImage] = Field(default_factory=list)
    audio: list[MediaAudio] = Field(default_factory=list)
    merged_audio: MergedAudio | None = None


class StoryResponse(WireModel):
    id: str = Field(alias="_id")
    title: str
    generated_content: str | None = Field(default=None, repr=False)
    generated_content_length: int | None = None
    """EXT: characters of the whole story text (``None``: no text yet)."""
    generated_content_omitted: bool = False
    """EXT: the text is longer than the server returns here; ``files.generatedFile`` has it."""
    custom_prompt: str | None = None
    status: StoryFlags
    metadata: StoryMetadata = Field(default_factory=StoryMetadata)
    files: StoryFiles
    created_at: ServerTime
    updated_at: ServerTime
    media: StoryMedia | None = None


# ---------------------------------------------------------------- options (2.6, EXT)
class WordRange(WireModel):
    min: int
    max: int


class OptionLimits(WireModel):
    max_files: int
    max_file_bytes: int
    max_stories: int
    word_per_chunk: WordRange
    custom_prompt_max: int
    title_max: int


class OptionsResponse(WireModel):
    image_styles: list[str]
    audio_voices: list[str]
    model_voices: list[str]
    limits: OptionLimits
