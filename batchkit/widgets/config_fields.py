"""The controls of the config form: one :class:`FieldSpec` per setting, and per-file rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Literal

import ipywidgets as widgets

from batchkit.config import BatchConfig, ServerOptions
from batchkit.widgets import render

__all__ = ["FIELD_SPECS", "FieldSpec", "field_control", "per_file_rows"]

Kind = Literal["check", "choice", "words", "text"]
_STYLE: Final = {"description_width": "initial"}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one setting of :class:`BatchConfig` is shown and explained."""

    name: str
    group: str
    description: str
    tooltip: str
    kind: Kind

    def shown(self, value: Any) -> Any:
        """``value`` as the control holds it (an enum's value, "" for no prompt)."""
        if isinstance(value, Enum):
            return value.value
        if value is None and self.kind == "text":
            return ""
        return value


FIELD_SPECS: Final = (
    FieldSpec("auto_mode", "Steps", "Auto mode", "Run the steps below after each story is made",
              "check"),
    FieldSpec("generate_story", "Steps", "Story", "Write a story from each document", "check"),
    FieldSpec("generate_images", "Steps", "Images", "Draw images for each chunk of the story",
              "check"),
    FieldSpec("generate_audio", "Steps", "Audio", "Read each chunk of the story aloud", "check"),
    FieldSpec("merge_audio", "Steps", "Merge audio", "Join the audio clips into one file",
              "check"),
    FieldSpec("audio_voice", "Voice", "Voice", "The voice that reads the story", "choice"),
    FieldSpec("model_voice", "Voice", "Voice model", "The speech model", "choice"),
    FieldSpec("words_per_chunk_image", "Chunks", "Words per image",
              "Words of the story per image", "words"),
    FieldSpec("words_per_chunk_audio", "Chunks", "Words per audio clip",
              "Words of the story per audio clip", "words"),
    FieldSpec("custom_prompt_image", "Prompts", "Image prompt",
              "Extra instructions for every image (optional)", "text"),
    FieldSpec("custom_prompt_audio", "Prompts", "Audio prompt",
              "Extra instructions for every audio clip (optional)", "text"),
    FieldSpec("image_style", "Style", "Image style", "How the images look", "choice"),
)  # fmt: skip
"""Every setting of :class:`BatchConfig` but the per-file titles and prompts, in order."""


def _choices(name: str, options: ServerOptions) -> Sequence[str]:
    return {
        "audio_voice": options.audio_voices,
        "model_voice": options.model_voices,
        "image_style": options.image_styles,
    }[name]


def field_control(spec: FieldSpec, options: ServerOptions) -> Any:
    """A new control for ``spec``, showing the default value of :class:`BatchConfig`."""
    default = spec.shown(BatchConfig.model_fields[spec.name].get_default(call_default_factory=True))
    common: dict[str, Any] = {
        "description": spec.description,
        "tooltip": spec.tooltip,
        "style": _STYLE,
        "layout": widgets.Layout(min_width="14em", flex="1 1 16em"),
    }
    control: Any
    if spec.kind == "check":
        control = widgets.Checkbox(value=default, indent=False, **common)
    elif spec.kind == "choice":
        choices = list(_choices(spec.name, options))
        value = default if default in choices else (choices[0] if choices else None)
        control = widgets.Dropdown(options=choices, value=value, **common)
    elif spec.kind == "words":
        control = widgets.IntText(value=default, **common)
        control.tooltip = (
            f"{spec.tooltip} ({options.words_per_chunk_min}–{options.words_per_chunk_max})"
        )
    else:
        control = widgets.Textarea(value=default, placeholder="none", rows=2, **common)
    control.add_class(f"bk-control-{spec.name.replace('_', '-')}")
    return control


def _file_row(
    name: str, title_text: str, prompt_text: str, options: ServerOptions
) -> tuple[widgets.Box, dict[str, tuple[Any, widgets.HTML]]]:
    """One file's label, title box and prompt box, each box with its message."""
    controls: dict[str, tuple[Any, widgets.HTML]] = {}
    label = widgets.HTML(value=f'<span class="bk-file-name">{render.escape(name)}</span>')
    title = widgets.Text(
        value=title_text,
        description="Title",
        tooltip=f"Title of the story made from {name} (at most {options.title_max} characters)",
        placeholder="the server's default",
        style=_STYLE,
        layout=widgets.Layout(min_width="14em", flex="1 1 16em"),
    )
    prompt = widgets.Textarea(
        value=prompt_text,
        description="Prompt",
        tooltip=f"Custom prompt for the story made from {name} (optional)",
        placeholder="none",
        rows=1,
        style=_STYLE,
        layout=widgets.Layout(min_width="14em", flex="2 1 20em"),
    )
    messages = []
    for key, control in ((f"titles[{name}]", title), (f"prompts[{name}]", prompt)):
        message = widgets.HTML(value="")
        message.add_class("bk-field-error")
        controls[key] = (control, message)
        messages.append(message)
    row = widgets.Box(
        [label, title, messages[0], prompt, messages[1]],
        layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
    )
    row.add_class("bk-per-file-row")
    return row, controls


def per_file_rows(
    names: Sequence[str],
    titles: Mapping[str, str],
    prompts: Mapping[str, str],
    options: ServerOptions,
) -> tuple[list[widgets.Widget], dict[str, tuple[Any, widgets.HTML]]]:
    """A title box and a prompt box per file; returns the rows and ``key → (control, message)``
    with keys ``titles[name]`` and ``prompts[name]`` (the names :class:`ConfigError` uses)."""
    rows: list[widgets.Widget] = []
    controls: dict[str, tuple[Any, widgets.HTML]] = {}
    if not names:
        empty = widgets.HTML(value="<em>Choose files to give each story a title or prompt.</em>")
        return [empty], controls
    for name in names:
        row, made = _file_row(name, titles.get(name, ""), prompts.get(name, ""), options)
        rows.append(row)
        controls.update(made)
    return rows, controls
