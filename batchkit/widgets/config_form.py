"""``config_form()``: every setting of a :class:`~batchkit.config.BatchConfig`, checked as typed.

Controls are grouped (steps, voice, chunks, prompts, style, per-file titles and prompts), each
with a description and a tooltip. A value is checked on every key typed; an invalid one is
outlined, its message shown next to it in the words of its label, and its input marked
``aria-invalid`` and described by that message (:mod:`.field_states`). Controls that do not
apply are disabled: the voice, voice model, audio chunks, audio prompt and merge when audio is
off; the image style, image chunks and image prompt when images are off; every step setting
when auto mode is off (titles and prompts per file still apply: they are sent with each story).
Presets are saved and loaded by name with :mod:`batchkit.config`'s presets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import anywidget
import ipywidgets as widgets
import traitlets

from batchkit.config import BatchConfig, ServerOptions
from batchkit.errors import ConfigError
from batchkit.widgets import render
from batchkit.widgets.assets import asset
from batchkit.widgets.config_fields import (
    FIELD_SPECS,
    css_slug,
    field_box,
    field_control,
    field_label,
    message_widget,
    per_file_rows,
)
from batchkit.widgets.config_presets import PresetsBox
from batchkit.widgets.notify import close_tree
from batchkit.widgets.tasks import TaskKeeper
from batchkit.widgets.throttle import set_changed

__all__ = ["ConfigForm", "FieldStates", "config_form", "field_key"]

logger = logging.getLogger("batchkit.widgets")
ChangeCallback = Callable[["ConfigForm"], object]

_AUDIO_ONLY: Final = (
    "audio_voice", "model_voice", "words_per_chunk_audio", "custom_prompt_audio", "merge_audio",
)  # fmt: skip
_IMAGES_ONLY: Final = ("image_style", "words_per_chunk_image", "custom_prompt_image")
_GROUPS: Final = ("Steps", "Voice", "Chunks", "Prompts", "Style")


class FieldStates(anywidget.AnyWidget):
    """Marks the form's inputs ``aria-invalid`` and ``aria-describedby`` their messages."""

    _esm = asset("field_states.js")
    fields = traitlets.List(traitlets.Dict()).tag(sync=True)


def _message(error: ConfigError) -> str:
    """The error's words without the field name it starts with."""
    text = str(error)
    prefix = f"{error.field}: " if error.field else ""
    return text.removeprefix(prefix)


def field_key(field: str | None) -> str:
    """The form's key for a :class:`ConfigError`'s ``field``.

    ``titles[my story.txt]`` stays whole (a file name may hold spaces); a bad key of a mapping
    (``titles (a file name)``) is the whole setting, ``titles``.
    """
    if not field:
        return "config"
    if "[" in field and field.endswith("]"):
        return field
    return field.split(" ", 1)[0]


class ConfigForm:
    """The settings of a batch as a form; ``config`` is the validated result."""

    def __init__(
        self,
        *,
        options: ServerOptions | None = None,
        presets_dir: Path | None = None,
        keeper: TaskKeeper | None = None,
    ) -> None:
        self.options = options or ServerOptions.builtin()
        self.keeper = keeper or TaskKeeper()
        self._callbacks: list[ChangeCallback] = []
        self._errors: dict[str, str] = {}
        self._quiet = False
        self._names: list[str] = []
        self._titles: dict[str, str] = {}
        self._prompts: dict[str, str] = {}
        self.controls: dict[str, widgets.ValueWidget] = {}
        self._messages: dict[str, widgets.HTML] = {}
        self._boxes: dict[str, widgets.Box] = {}
        self._states = FieldStates()
        self._changed_value = self.keeper.callback(self._on_control, failure="a setting failed")
        sections = [self._section(group) for group in _GROUPS]
        self._per_file = widgets.VBox([])
        self._per_file.add_class("bk-per-file")
        self.presets = PresetsBox(presets_dir, lambda: self.config, self.set_config, self.keeper)
        self._config_message = message_widget("config")
        self.widget = widgets.VBox(
            [
                self._states,
                *sections,
                self._heading("Per-file titles and prompts"),
                self._per_file,
                self._heading("Presets"),
                self.presets.widget,
                self._config_message,
            ],
            layout=widgets.Layout(width="100%"),
        )
        self.widget.add_class("bk-config-form")
        self.set_file_names([])  # says what the per-file part is for, before any file comes

    # ------------------------------------------------------------ building
    @staticmethod
    def _heading(text: str) -> widgets.HTML:
        heading = widgets.HTML(value=f"<h4>{render.escape(text)}</h4>")
        heading.add_class("bk-form-heading")
        return heading

    def _section(self, group: str) -> widgets.VBox:
        fields = []
        for spec in FIELD_SPECS:
            if spec.group != group:
                continue
            control = field_control(spec, self.options)
            control.observe(self._changed_value, names="value")
            self.controls[spec.name] = control
            self._messages[spec.name] = message_widget(spec.name)
            self._boxes[spec.name] = field_box(spec.name, control, self._messages[spec.name])
            fields.append(self._boxes[spec.name])
        body = widgets.Box(fields, layout=widgets.Layout(flex_flow="row wrap"))
        body.add_class("bk-field-group")
        section = widgets.VBox([self._heading(group), body])
        section.add_class(f"bk-config-{group.lower()}")
        return section

    # ------------------------------------------------------------ per-file titles and prompts
    def set_file_names(self, names: Iterable[str], *, redraw: bool = False) -> None:
        """Show a title and a prompt row for each of ``names``, keeping what was typed."""
        wanted = list(dict.fromkeys(names))
        if wanted == self._names and self._per_file.children and not redraw:
            return
        self._names = wanted
        rows, controls = per_file_rows(self._names, self._titles, self._prompts, self.options)
        for key in [k for k in self.controls if k.startswith(("titles[", "prompts["))]:
            del self.controls[key], self._messages[key], self._boxes[key]  # closed below
        for old in self._per_file.children:
            close_tree(old)
        for key, (control, message) in controls.items():
            control.observe(self._changed_value, names="value")
            self.controls[key] = control
            self._messages[key] = message
            self._boxes[key] = _box_of(rows, key)
        self._per_file.children = tuple(rows)
        self._validate()
        self._tell_callbacks()

    @property
    def file_names(self) -> list[str]:
        return list(self._names)

    def set_options(self, options: ServerOptions) -> None:
        """Use the server's choices and limits (they may come after the form is shown)."""
        self.options = options
        self._quiet = True
        try:
            for spec in FIELD_SPECS:
                if spec.kind != "choice":
                    continue
                control = self.controls[spec.name]
                choices = {
                    "audio_voice": options.audio_voices,
                    "model_voice": options.model_voices,
                    "image_style": options.image_styles,
                }[spec.name]
                current = control.value
                control.options = tuple(choices)
                if current in choices:
                    control.value = current
        finally:
            self._quiet = False
        self._validate()
        self._tell_callbacks()

    # ------------------------------------------------------------ values and validation
    def _values(self) -> dict[str, Any]:
        values: dict[str, Any] = {spec.name: self.controls[spec.name].value for spec in FIELD_SPECS}
        for key in ("custom_prompt_image", "custom_prompt_audio"):
            values[key] = values[key] or None
        values["titles"] = {n: self._titles[n] for n in self._names if self._titles.get(n)}
        values["prompts"] = {n: self._prompts[n] for n in self._names if self._prompts.get(n)}
        return values

    def _on_control(self, change: dict[str, Any]) -> None:
        owner = change["owner"]
        for key, control in self.controls.items():
            if control is owner and key.startswith(("titles[", "prompts[")):
                target = self._titles if key.startswith("titles[") else self._prompts
                target[key.split("[", 1)[1][:-1]] = str(change["new"])
        if self._quiet:
            return
        self._validate()
        self._tell_callbacks()

    def _tell_callbacks(self) -> None:
        for callback in tuple(self._callbacks):
            try:
                callback(self)
            except Exception:
                logger.exception("a config form callback failed")

    def _validate(self) -> None:
        values = self._values()
        errors: dict[str, str] = {}
        for name, value in values.items():
            try:
                BatchConfig.model_validate({name: value})
            except ConfigError as error:
                errors.setdefault(field_key(error.field), _message(error))
        if not errors:
            try:
                BatchConfig.model_validate(values).check_for(self.options)
            except ConfigError as error:
                errors[field_key(error.field)] = _message(error)
        self._errors = errors
        self._show_errors()
        self._apply_enabled()

    def _show_errors(self) -> None:
        shown = set()
        states = []
        for key, message in self._messages.items():
            text = self._errors.get(key)
            if text is not None:
                shown.add(key)
            set_changed(message, value=self._error_html(text))
            box = self._boxes.get(key)
            if box is not None:
                _toggle_class(box, "bk-field-invalid", text is not None)
                slug = css_slug(key)
                states.append(
                    {"box": f"bk-field-{slug}", "message": f"bk-msg-{slug}", "invalid": bool(text)}
                )
        set_changed(self._states, fields=states)
        rest = {k: v for k, v in self._errors.items() if k not in shown}
        first = next(iter(rest.items()), None)
        set_changed(
            self._config_message,
            value="" if first is None else self._error_html(f"{field_label(first[0])}: {first[1]}"),
        )

    @staticmethod
    def _error_html(text: str | None) -> str:
        if text is None:
            return ""
        return (
            '<span class="bk-field-message"><span aria-hidden="true">✗</span> '
            f"{render.escape(text)}</span>"
        )

    def _apply_enabled(self) -> None:
        auto = bool(self.controls["auto_mode"].value)
        audio = bool(self.controls["generate_audio"].value)
        images = bool(self.controls["generate_images"].value)
        for spec in FIELD_SPECS:
            enabled = spec.name == "auto_mode" or (
                auto
                and not (spec.name in _AUDIO_ONLY and not audio)
                and not (spec.name in _IMAGES_ONLY and not images)
            )
            set_changed(self.controls[spec.name], disabled=not enabled)

    @property
    def errors(self) -> dict[str, str]:
        """Every invalid setting now: field → message (empty when the form is valid)."""
        return dict(self._errors)

    @staticmethod
    def describe(error: ConfigError) -> str:
        """``error`` in the words of the form: the setting's label, not its internal name."""
        if not error.field:
            return str(error)
        return f"{field_label(field_key(error.field))}: {_message(error)}"

    def problems(self) -> list[tuple[str, str]]:
        """Every invalid setting now as ``(its label, what is wrong)``, in the form's order."""
        return [(field_label(key), message) for key, message in self._errors.items()]

    @property
    def config(self) -> BatchConfig:
        """The settings as a validated :class:`BatchConfig`; raises :class:`ConfigError`."""
        if self._errors:
            field, message = next(iter(self._errors.items()))
            raise ConfigError(message, field=field)
        config = BatchConfig.model_validate(self._values())
        config.check_for(self.options)
        return config

    def set_config(self, config: BatchConfig) -> None:
        """Show ``config`` in the form (its titles and prompts too, for files listed later)."""
        self._quiet = True
        try:
            for spec in FIELD_SPECS:
                value = getattr(config, spec.name)
                self.controls[spec.name].value = spec.shown(value)
            self._titles.update(config.titles)
            self._prompts.update(config.prompts)
        finally:
            self._quiet = False
        self.set_file_names(self._names, redraw=True)  # the rows show the loaded titles

    def on_change(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call ``callback(form)`` after every change of a setting."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    # ------------------------------------------------------------ presets
    def save_preset(self, name: str) -> Path | None:
        """Save the current settings as ``name``; a problem is shown next to the name box."""
        return self.presets.save(name)

    def load_preset(self, name: str) -> BatchConfig | None:
        """Fill the form from the preset ``name``; a problem is shown next to the name box."""
        return self.presets.load(name)


def _box_of(rows: list[widgets.Widget], key: str) -> widgets.Box:
    wanted = f"bk-field-{css_slug(key)}"
    for row in rows:
        for child in getattr(row, "children", ()):
            if wanted in child._dom_classes:
                return child
    raise KeyError(key)


def _toggle_class(widget: Any, name: str, on: bool) -> None:
    classes = [c for c in widget._dom_classes if c != name]
    if on:
        classes.append(name)
    if tuple(classes) != tuple(widget._dom_classes):
        widget._dom_classes = tuple(classes)


def config_form(
    *,
    options: ServerOptions | None = None,
    presets_dir: Path | None = None,
    keeper: TaskKeeper | None = None,
) -> ConfigForm:
    """A form for every setting of a batch, checked as it is filled in."""
    return ConfigForm(options=options, presets_dir=presets_dir, keeper=keeper)
