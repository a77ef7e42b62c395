"""The settings of a batch: every ``autoMode`` field, and a title and prompt per file.

Any invalid value raises one :class:`~batchkit.errors.ConfigError` naming the setting, never a
pydantic error: the translation happens once, in :meth:`BatchConfig._translate_errors`.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from batchkit.config.options import ServerOptions
from batchkit.config.profiles import REFERENCE, Profile
from batchkit.contract.limits import (
    AUDIO_VOICES,
    CHUNK_PROMPT_MAX,
    CUSTOM_PROMPT_MAX,
    DEFAULT_AUDIO_VOICE,
    DEFAULT_IMAGE_STYLE,
    DEFAULT_MODEL_VOICE,
    DEFAULT_WORDS_PER_CHUNK,
    TITLE_MAX,
    WORDS_PER_CHUNK_MAX,
    WORDS_PER_CHUNK_MIN,
    ImageStyle,
    ModelVoice,
    PipelineStep,
)
from batchkit.contract.rest import AutoModeConfig, StoryInput, UploadedFile
from batchkit.errors import ConfigError

__all__ = ["BatchConfig"]


def _text_up_to(limit: int) -> AfterValidator:
    """Strip a per-file text and check its length; blank becomes "" and is dropped later."""

    def check(text: str) -> str:
        text = text.strip()
        _check_length(text, limit)
        return text

    return AfterValidator(check)


FileName = Annotated[str, Field(min_length=1)]
Title = Annotated[str, _text_up_to(TITLE_MAX)]
Prompt = Annotated[str, _text_up_to(CUSTOM_PROMPT_MAX)]

_PRESET_FORMAT: Final = "batchkit-preset/1"


class BatchConfig(BaseModel):
    """Every setting of a batch. Frozen: derive a changed copy with :meth:`replace`.

    ``titles`` and ``prompts`` map a file's name to its story title (≤ 200 characters; none:
    the server names it ``Story <i>``) and its custom prompt (≤ 2,000 characters). A blank
    title or prompt counts as none.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_mode: StrictBool = True
    generate_story: StrictBool = True
    generate_images: StrictBool = True
    generate_audio: StrictBool = True
    merge_audio: StrictBool = True
    audio_voice: str = DEFAULT_AUDIO_VOICE
    model_voice: ModelVoice = DEFAULT_MODEL_VOICE
    words_per_chunk_image: StrictInt = DEFAULT_WORDS_PER_CHUNK
    words_per_chunk_audio: StrictInt = DEFAULT_WORDS_PER_CHUNK
    custom_prompt_image: str | None = None
    custom_prompt_audio: str | None = None
    image_style: ImageStyle = DEFAULT_IMAGE_STYLE
    titles: dict[FileName, Title] = Field(default_factory=dict)
    prompts: dict[FileName, Prompt] = Field(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _translate_errors(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        # The one place pydantic's errors become batchkit's.
        try:
            return handler(data)
        except ValidationError as error:
            raise _config_error(error) from None

    @field_validator("words_per_chunk_image", "words_per_chunk_audio")
    @classmethod
    def _words_in_range(cls, words: int) -> int:
        if not WORDS_PER_CHUNK_MIN <= words <= WORDS_PER_CHUNK_MAX:
            raise ValueError(
                f"must be between {WORDS_PER_CHUNK_MIN} and {WORDS_PER_CHUNK_MAX} words, "
                f"not {words}"
            )
        return words

    @field_validator("audio_voice")
    @classmethod
    def _known_voice(cls, voice: str) -> str:
        if voice in AUDIO_VOICES:
            return voice
        same_but_case = [known for known in AUDIO_VOICES if known.lower() == voice.lower()]
        close = same_but_case or difflib.get_close_matches(voice, AUDIO_VOICES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"{voice!r} is not a voice; {hint}voice names are case-sensitive")

    @field_validator("custom_prompt_image", "custom_prompt_audio")
    @classmethod
    def _chunk_prompt(cls, prompt: str | None) -> str | None:
        if prompt is None or not prompt.strip():
            return None
        _check_length(prompt, CHUNK_PROMPT_MAX)
        return prompt

    @field_validator("titles", "prompts")
    @classmethod
    def _drop_blank(cls, texts: dict[str, str]) -> dict[str, str]:
        return {name: text for name, text in texts.items() if text}

    # ------------------------------------------------------------ derived views
    def replace(self, **changes: Any) -> BatchConfig:
        """A copy with ``changes`` applied and validated again."""
        return BatchConfig.model_validate({**self.model_dump(), **changes})

    def enabled_steps(self) -> tuple[PipelineStep, ...]:
        """The steps each story will go through, in order; none when auto mode is off."""
        if not self.auto_mode:
            return ()
        wanted = (
            (PipelineStep.STORY, self.generate_story),
            (PipelineStep.IMAGES, self.generate_images),
            (PipelineStep.AUDIO, self.generate_audio),
            (PipelineStep.MERGE, self.generate_audio and self.merge_audio),
        )
        return tuple(step for step, enabled in wanted if enabled)

    def to_auto_mode(self) -> AutoModeConfig:
        """The ``autoMode`` object of a batch-create request, every field spelt out."""
        if not self.auto_mode:
            return AutoModeConfig(enabled=False)
        return AutoModeConfig(
            enabled=True,
            generate_story=self.generate_story,
            generate_images=self.generate_images,
            generate_audio=self.generate_audio,
            merge_audio=self.merge_audio,
            audio_voice=self.audio_voice,
            model_voice=self.model_voice,
            word_per_chunk_image=self.words_per_chunk_image,
            word_per_chunk_audio=self.words_per_chunk_audio,
            custom_prompt_image=self.custom_prompt_image,
            custom_prompt_audio=self.custom_prompt_audio,
            image_style=self.image_style,
        )

    def story_inputs(self, uploaded: Iterable[UploadedFile]) -> list[StoryInput]:
        """One ``stories`` item per uploaded file, with its title and prompt, in order."""
        return [self.story_input(item.file_name, item.file_url) for item in uploaded]

    def story_input(self, name: str, file_url: str) -> StoryInput:
        """The ``stories`` item of file ``name``, uploaded as ``file_url``: its own title and
        prompt, if it has them."""
        return StoryInput(
            title=self.titles.get(name), custom_prompt=self.prompts.get(name), file_url=file_url
        )

    def check_files(self, names: Iterable[str]) -> None:
        """Raise if a title or prompt names a file that is not among ``names`` (a typo)."""
        known = set(names)
        for setting, texts in (("titles", self.titles), ("prompts", self.prompts)):
            for name in texts:
                if name not in known:
                    close = difflib.get_close_matches(name, known, n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise ConfigError(f"no file is named {name!r}{hint}", field=setting)

    def check_for(self, options: ServerOptions, profile: str | Profile = REFERENCE) -> None:
        """Raise if this server (its options, its profile's known failures) cannot run this."""
        profile = Profile.named(profile)
        for name, title in self.titles.items():
            _check_limit(title, options.title_max, f"titles[{name}]")
        for name, prompt in self.prompts.items():
            _check_limit(prompt, options.custom_prompt_max, f"prompts[{name}]")
        if not self.auto_mode:
            return  # only {"enabled": false} is sent
        _check_offered(self.image_style, options.image_styles, "image_style")
        if self.image_style not in profile.image_styles:
            allowed = ", ".join(sorted(profile.image_styles))
            raise ConfigError(
                f"the {profile.name} server fails on the {self.image_style.value!r} style; "
                f"choose one of {allowed}",
                field="image_style",
            )
        _check_offered(self.audio_voice, options.audio_voices, "audio_voice")
        _check_offered(self.model_voice, options.model_voices, "model_voice")
        low, high = options.words_per_chunk_min, options.words_per_chunk_max
        for setting in ("words_per_chunk_image", "words_per_chunk_audio"):
            words = getattr(self, setting)
            if not low <= words <= high:
                raise ConfigError(
                    f"this server takes {low}–{high} words, not {words}", field=setting
                )

    # ------------------------------------------------------------ presets
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write this configuration as a JSON preset; returns the path written."""
        target = Path(path).expanduser()
        body = {"format": _PRESET_FORMAT, "config": self.model_dump(mode="json")}
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        partial.replace(target)  # atomic: a crash never leaves half a preset
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BatchConfig:
        """Read a preset written by :meth:`save` (or a bare JSON object of settings)."""
        source = Path(path).expanduser()
        try:
            body = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"no preset file at {source}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ConfigError(f"{source} is not a readable JSON preset: {error}") from None
        if isinstance(body, dict) and body.get("format") == _PRESET_FORMAT:
            body = body.get("config")
        if not isinstance(body, dict):
            raise ConfigError(f"{source} does not hold an object of settings")
        return cls.model_validate(body)


# ---------------------------------------------------------------- checks and messages
def _check_length(text: str, limit: int) -> None:
    if len(text) > limit:
        raise ValueError(f"is {len(text):,} characters long; the limit is {limit:,}")


def _check_limit(text: str, limit: int, field: str) -> None:
    try:
        _check_length(text, limit)
    except ValueError as error:
        raise ConfigError(f"{error} on this server", field=field) from None


def _check_offered(value: str, offered: tuple[str, ...], field: str) -> None:
    if value not in offered:
        raise ConfigError(
            f"this server does not offer {value!r}; it offers {', '.join(offered)}", field=field
        )


def _config_error(error: ValidationError) -> ConfigError:
    """One ConfigError for a pydantic error: the first problem, with a count of the others."""
    problems = error.errors(include_url=False)
    first = problems[0]
    message = _message(first)
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return ConfigError(message, field=_field_name(first["loc"]))


def _field_name(location: tuple[int | str, ...]) -> str | None:
    if not location:
        return None
    head, *rest = location
    if rest and rest[-1] == "[key]":
        return f"{head} (a file name)"  # pydantic's location of a bad dict key
    return str(head) + "".join(f"[{part}]" for part in rest)


def _message(problem: ErrorDetails) -> str:
    kind, context = problem["type"], problem.get("ctx", {})
    if kind == "value_error":
        return str(context.get("error", problem["msg"]))
    if kind == "extra_forbidden":
        known = list(BatchConfig.model_fields)
        close = difflib.get_close_matches(str(problem["loc"][-1]), known, n=1)
        return "is not a setting" + (f"; did you mean {close[0]!r}?" if close else "")
    if kind == "enum":
        return f"{problem['input']!r} is not one of {context.get('expected', '')}"
    if kind == "bool_type":
        return f"must be true or false, not {problem['input']!r}"
    if kind == "int_type":
        return f"must be a whole number, not {problem['input']!r}"
    if kind == "string_type":
        return f"must be text, not {type(problem['input']).__name__}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "dict_type":
        return "must map file names to text"
    return problem["msg"]
