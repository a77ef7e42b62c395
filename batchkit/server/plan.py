"""What a story's pipeline will do: a request's ``autoMode`` with every default filled in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from batchkit.contract import (
    DEFAULT_AUDIO_VOICE,
    DEFAULT_IMAGE_STYLE,
    DEFAULT_MODEL_VOICE,
    DEFAULT_WORDS_PER_CHUNK,
    AutoModeConfig,
    ImageStyle,
    ModelVoice,
    PipelineStep,
)

__all__ = ["PipelinePlan"]


@dataclass(frozen=True, slots=True)
class PipelinePlan:
    """The resolved ``autoMode``. With ``enabled`` false a story only gets its story step
    (and a batch only creates its story records)."""

    enabled: bool
    generate_story: bool = True
    generate_images: bool = True
    generate_audio: bool = True
    merge_audio: bool = True
    audio_voice: str = DEFAULT_AUDIO_VOICE
    model_voice: ModelVoice = DEFAULT_MODEL_VOICE
    words_per_image: int = DEFAULT_WORDS_PER_CHUNK
    words_per_audio: int = DEFAULT_WORDS_PER_CHUNK
    image_prompt: str | None = None
    audio_prompt: str | None = None
    image_style: ImageStyle = DEFAULT_IMAGE_STYLE

    @classmethod
    def from_auto_mode(cls, config: AutoModeConfig) -> PipelinePlan:
        def pick(value: bool | None) -> bool:
            return True if value is None else value

        return cls(
            enabled=config.enabled,
            generate_story=pick(config.generate_story),
            generate_images=pick(config.generate_images),
            generate_audio=pick(config.generate_audio),
            merge_audio=pick(config.merge_audio),
            audio_voice=config.audio_voice or DEFAULT_AUDIO_VOICE,
            model_voice=config.model_voice or DEFAULT_MODEL_VOICE,
            words_per_image=round(config.word_per_chunk_image or DEFAULT_WORDS_PER_CHUNK),
            words_per_audio=round(config.word_per_chunk_audio or DEFAULT_WORDS_PER_CHUNK),
            image_prompt=config.custom_prompt_image or None,
            audio_prompt=config.custom_prompt_audio or None,
            image_style=config.image_style or DEFAULT_IMAGE_STYLE,
        )

    @classmethod
    def from_json(cls, text: str) -> PipelinePlan:
        """The plan of a stored ``autoMode`` object."""
        return cls.from_auto_mode(AutoModeConfig.model_validate_json(text))

    @property
    def steps(self) -> tuple[PipelineStep, ...]:
        """The steps a story runs, in order."""
        if not self.enabled:
            return (PipelineStep.STORY,)
        steps = [PipelineStep.STORY]
        if self.generate_images:
            steps.append(PipelineStep.IMAGES)
        if self.generate_audio:
            steps.append(PipelineStep.AUDIO)
            if self.merge_audio:
                steps.append(PipelineStep.MERGE)
        return tuple(steps)

    def describe(self) -> dict[str, Any]:
        """The plan as ``auto-mode-start`` reports it (camelCase, defaults filled in)."""
        return {
            "enabled": self.enabled,
            "generateStory": self.generate_story,
            "generateImages": self.generate_images,
            "generateAudio": self.generate_audio,
            "mergeAudio": self.merge_audio,
            "audioVoice": self.audio_voice,
            "modelVoice": self.model_voice.value,
            "wordPerChunkImage": self.words_per_image,
            "wordPerChunkAudio": self.words_per_audio,
            "customPromptImage": self.image_prompt,
            "customPromptAudio": self.audio_prompt,
            "imageStyle": self.image_style.value,
        }
