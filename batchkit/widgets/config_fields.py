"""The controls of the config form: one :class:`FieldSpec` per setting, and per-file rows."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Literal

import ipywidgets as widgets

from batchkit.config import BatchConfig, ServerOptions
from batchkit.widgets import render

__all__ = [
    "FIELD_SPECS",
    "FieldSpec",
    "css_slug",
    "field_box",
    "field_control",
    "field_label",
    "message_widget",
    "per_file_rows",
]

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


_LABELS: Final = {spec.name: spec.description for spec in FIELD_SPECS}
_PER_FILE: Final = {"titles": "Title", "prompts": "Prompt"}


def field_label(key: str) -> str:
    """The label a user sees for the setting ``key`` (``titles[a.txt]``: "Title of a.txt")."""
    if key in _LABELS:
        return _LABELS[key]
    for kind, word in _PER_FILE.items():
        if key.startswith(f"{kind}[") and key.endswith("]"):
            return f"{word} of {key[len(kind) + 1 : -1]}"
        if key == kind:
            return f"{word}s"
    return "Settings" if key == "config" else key


def css_slug(key: str) -> str:
    """A CSS class name's tail for the setting ``key`` (any file name made safe)."""
    if key in _LABELS:
        return key.replace("_", "-")
    kind = key.split("[", 1)[0]
    return f"{kind}-{hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:10]}"


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
        "layout": widgets.Layout(min_width="0", flex="1 1 16em"),
    }
    control: Any
    if spec.kind == "check":
        control = widgets.Checkbox(value=default, indent=False, **common)
    elif spec.kind == "choice":
        choices = list(_choices(spec.name, options))
        value = default if default in choices else (choices[0] if choices else None)
        control = widgets.Dropdown(options=choices, value=value, **common)
    elif spec.kind == "words":
        # Checked as it is typed: the value reaches the kernel on each key, not on leaving.
        control = widgets.IntText(value=default, continuous_update=True, **common)
        control.tooltip = (
            f"{spec.tooltip} ({options.words_per_chunk_min}–{options.words_per_chunk_max})"
        )
    else:
        control = widgets.Textarea(
            value=default, placeholder="none", rows=2, continuous_update=True, **common
        )
    control.add_class(f"bk-control-{spec.name.replace('_', '-')}")
    return control


def message_widget(key: str) -> widgets.HTML:
    """The inline message of setting ``key`` (empty while the setting is valid)."""
    message = widgets.HTML(value="")
    message.add_class("bk-field-error")
    message.add_class(f"bk-msg-{css_slug(key)}")
    return message


def field_box(key: str, control: Any, message: widgets.HTML) -> widgets.Box:
    """A control and its message, side by side; outlined while the value is invalid."""
    box = widgets.Box(
        [control, message],
        layout=widgets.Layout(flex_flow="row wrap", align_items="center", min_width="0"),
    )
    box.add_class("bk-field")
    box.add_class(f"bk-field-{css_slug(key)}")
    return box


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
        continuous_update=True,
        layout=widgets.Layout(min_width="0", flex="1 1 16em"),
    )
    prompt = widgets.Textarea(
        value=prompt_text,
        description="Prompt",
        tooltip=f"Custom prompt for the story made from {name} (optional)",
        placeholder="none",
        rows=1,
        style=_STYLE,
        continuous_update=True,
        layout=widgets.Layout(min_width="0", flex="2 1 20em"),
    )
    boxes = []
    for key, control in ((f"titles[{name}]", title), (f"prompts[{name}]", prompt)):
        message = message_widget(key)
        controls[key] = (control, message)
        boxes.append(field_box(key, control, message))
    row = widgets.Box(
        [label, *boxes],
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
