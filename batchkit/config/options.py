"""What a server offers: its own options (EXT) when it has them, the contract's lists otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from batchkit.contract.limits import (
    AUDIO_VOICES,
    CUSTOM_PROMPT_MAX,
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_STORIES,
    TITLE_MAX,
    WORDS_PER_CHUNK_MAX,
    WORDS_PER_CHUNK_MIN,
    ImageStyle,
    ModelVoice,
)
from batchkit.contract.rest import OptionsResponse

__all__ = ["ServerOptions"]


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """The choices and limits a server offers; ``from_server`` says whether it told us itself."""

    image_styles: tuple[str, ...]
    audio_voices: tuple[str, ...]
    model_voices: tuple[str, ...]
    max_files: int = MAX_FILES
    max_file_bytes: int = MAX_FILE_BYTES
    max_stories: int = MAX_STORIES
    words_per_chunk_min: int = WORDS_PER_CHUNK_MIN
    words_per_chunk_max: int = WORDS_PER_CHUNK_MAX
    custom_prompt_max: int = CUSTOM_PROMPT_MAX
    title_max: int = TITLE_MAX
    from_server: bool = False

    @classmethod
    def builtin(cls) -> ServerOptions:
        """The contract's lists and limits (section 5), for a server that does not say."""
        return cls(
            image_styles=tuple(style.value for style in ImageStyle),
            audio_voices=AUDIO_VOICES,
            model_voices=tuple(voice.value for voice in ModelVoice),
        )

    @classmethod
    def from_response(cls, response: OptionsResponse) -> ServerOptions:
        """What the server said in ``GET /api/stories/options``."""
        limits = response.limits
        return cls(
            image_styles=tuple(response.image_styles),
            audio_voices=tuple(response.audio_voices),
            model_voices=tuple(response.model_voices),
            max_files=limits.max_files,
            max_file_bytes=limits.max_file_bytes,
            max_stories=limits.max_stories,
            words_per_chunk_min=limits.word_per_chunk.min,
            words_per_chunk_max=limits.word_per_chunk.max,
            custom_prompt_max=limits.custom_prompt_max,
            title_max=limits.title_max,
            from_server=True,
        )
