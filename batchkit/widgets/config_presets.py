"""The form's presets: settings saved by name and loaded again, with their messages in place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets

from batchkit.config import BatchConfig, list_presets, load_preset, save_preset
from batchkit.errors import ConfigError
from batchkit.widgets import render
from batchkit.widgets.config_fields import message_widget
from batchkit.widgets.tasks import TaskKeeper
from batchkit.widgets.throttle import set_changed

__all__ = ["PresetsBox"]


def _error_html(error: ConfigError) -> str:
    text = str(error).removeprefix(f"{error.field}: " if error.field else "")
    return (
        '<span class="bk-field-message"><span aria-hidden="true">✗</span> '
        f"{render.escape(text)}</span>"
    )


class PresetsBox:
    """A name box and Save, the saved presets and Load; ``widget`` holds them.

    ``current()`` gives the settings to save (raising :class:`ConfigError` while the form is
    invalid); ``apply(config)`` shows loaded settings in the form.
    """

    def __init__(
        self,
        folder: Path | None,
        current: Callable[[], BatchConfig],
        apply: Callable[[BatchConfig], object],
        keeper: TaskKeeper,
    ) -> None:
        self.folder = folder
        self._current, self._apply = current, apply
        style = {"description_width": "initial"}
        grow = widgets.Layout(min_width="0", flex="1 1 14em")
        self.name = widgets.Text(
            description="Preset name", tooltip="A name for these settings",
            placeholder="my settings", style=style, layout=grow,
        )  # fmt: skip
        self.choice = widgets.Dropdown(
            description="Saved presets", tooltip="Settings saved earlier", options=[],
            style=style, layout=widgets.Layout(min_width="0", flex="1 1 14em"),
        )  # fmt: skip
        self.status = widgets.HTML(value="")
        self.status.add_class("bk-preset-status")
        self.save_button = widgets.Button(description="Save preset", tooltip="Save these settings")
        self.save_button.add_class("bk-preset-save")
        self.load_button = widgets.Button(description="Load preset", tooltip="Use saved settings")
        self.load_button.add_class("bk-preset-load")
        self.message = message_widget("preset")
        self.save_button.on_click(
            keeper.callback(lambda _: self.save(str(self.name.value)), failure="save failed")
        )
        self.load_button.on_click(
            keeper.callback(
                lambda _: self.load(str(self.choice.value or "")), failure="load failed"
            )
        )
        self.widget = widgets.Box(
            [self.name, self.save_button, self.message, self.choice, self.load_button, self.status],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        self.widget.add_class("bk-presets")
        self.refresh()

    def refresh(self) -> None:
        """Read the saved presets' names again."""
        set_changed(self.choice, options=tuple(list_presets(self.folder)))

    def save(self, name: str) -> Path | None:
        """Save the form's settings as ``name``; a problem is shown next to the name box."""
        name = name.strip()
        try:
            path = save_preset(self._current(), name, self.folder)
        except ConfigError as error:
            set_changed(self.message, value=_error_html(error))
            return None
        set_changed(self.message, value="")
        self.refresh()
        set_changed(self.choice, value=name)
        set_changed(self.status, value=render.mark(True, f"saved as {name}"))
        return path

    def load(self, name: str) -> BatchConfig | None:
        """Fill the form from the preset ``name``; a problem is shown next to the name box."""
        try:
            config = load_preset(name, self.folder)
        except ConfigError as error:
            set_changed(self.message, value=_error_html(error))
            return None
        set_changed(self.message, value="")
        self._apply(config)
        set_changed(self.status, value=render.mark(True, f"loaded {name}"))
        return config
