"""Enumerations, defaults and limits of the Story API (section 5 of the contract)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = [
    "ALLOWED_EXTENSIONS",
    "AUDIO_VOICES",
    "CHUNK_PROMPT_MAX",
    "CUSTOM_PROMPT_MAX",
    "DEFAULT_AUDIO_VOICE",
    "DEFAULT_IMAGE_STYLE",
    "DEFAULT_MODEL_VOICE",
    "DEFAULT_WORDS_PER_CHUNK",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MAX_STORIES",
    "PRODUCTION_IMAGE_STYLES",
    "TITLE_MAX",
    "WORDS_PER_CHUNK_MAX",
    "WORDS_PER_CHUNK_MIN",
    "BatchState",
    "FileState",
    "ImageStyle",
    "ModelVoice",
    "PipelineStep",
]

MAX_FILES: Final = 10
"""Files in one upload request."""
MAX_FILE_BYTES: Final = 10 * 1024 * 1024
"""Bytes in one uploaded file (production rejects a file of exactly this size)."""
MAX_STORIES: Final = 20
"""Stories in one batch-create request."""
ALLOWED_EXTENSIONS: Final = (".txt", ".doc", ".docx")
WORDS_PER_CHUNK_MIN: Final = 50
WORDS_PER_CHUNK_MAX: Final = 2000
DEFAULT_WORDS_PER_CHUNK: Final = 500
TITLE_MAX: Final = 200
CUSTOM_PROMPT_MAX: Final = 2_000
"""A story's own custom prompt."""
CHUNK_PROMPT_MAX: Final = 20_000
"""``customPromptImage`` and ``customPromptAudio``."""


class ImageStyle(StrEnum):
    REALISTIC = "realistic"
    ANIME = "anime"
    COMIC = "comic"
    WATERCOLOR = "watercolor"
    OIL_PAINTING = "oil-painting"
    DIGITAL_ART = "digital-art"


PRODUCTION_IMAGE_STYLES: Final = frozenset(
    {ImageStyle.REALISTIC, ImageStyle.ANIME, ImageStyle.COMIC, ImageStyle.WATERCOLOR}
)
"""The styles production accepts at batch-create; the other two give a 500 there."""
DEFAULT_IMAGE_STYLE: Final = ImageStyle.REALISTIC

AUDIO_VOICES: Final = (
    "Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede", "Callirrhoe",
    "Autonoe", "Enceladus", "Iapetus", "Umbriel", "Algieba", "Despina", "Erinome", "Algenib",
    "Rasalgethi", "Laomedeia", "Achernar", "Alnilam", "Schedar", "Gacrux", "Pulcherrima",
    "Achird", "Zubenelgenubi", "Vindemiatrix", "Sadachbia", "Sadaltager", "Sulafat",
)  # fmt: skip
"""The 30 voice names, case-sensitive."""
DEFAULT_AUDIO_VOICE: Final = "Achird"


class ModelVoice(StrEnum):
    FLASH = "gemini-2.5-flash-preview-tts"
    PRO = "gemini-2.5-pro-preview-tts"


DEFAULT_MODEL_VOICE: Final = ModelVoice.FLASH


class BatchState(StrEnum):
    """``status`` of a batch (2.3)."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class FileState(StrEnum):
    """``status`` of one input file in a batch's EXT ``results``."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class PipelineStep(StrEnum):
    """The steps of one story's pipeline, in the order they run."""

    STORY = "story"
    IMAGES = "images"
    AUDIO = "audio"
    MERGE = "merge"
