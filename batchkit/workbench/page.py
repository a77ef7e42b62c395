"""The workbench page's layout: the widgets, where they sit, and their labels and classes.

No behaviour lives here (that is :mod:`batchkit.workbench.workbench`); this module only builds
and arranges. Every control has a description and a tooltip, and a ``bk-`` CSS class that the
browser tests select by. The layout wraps: it works from a narrow side panel to a wide screen.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from batchkit.widgets import ConfigForm, Notifier, UploadZone
from batchkit.workbench.media import MediaPanel

__all__ = ["WorkbenchPage", "header_html"]

_ROW = widgets.Layout(flex_flow="row wrap", align_items="center")


def header_html(url: str, where: str, status: str) -> str:
    """The header: which server (its URL only: never a token or password) and the status."""
    return (
        '<div class="bk-header-text" role="status">'
        f"<strong>batchkit workbench</strong> · server <code>{html.escape(url)}</code> "
        f"({html.escape(where)}) · status: "
        f"<span class='bk-workbench-status'>{html.escape(status)}</span></div>"
    )


def _button(description: str, tooltip: str, css: str, **extra: Any) -> Any:
    button = widgets.Button(description=description, tooltip=tooltip, **extra)
    button.add_class(css)
    return button


def _subheading(title: str) -> Any:
    return widgets.HTML(value=f"<h4>{html.escape(title)}</h4>")


def _section(title: str, *children: Any, css: str) -> Any:
    heading = widgets.HTML(value=f"<h3>{html.escape(title)}</h3>")
    box = widgets.VBox([heading, *children], layout=widgets.Layout(width="100%"))
    box.add_class(css)
    return box


class WorkbenchPage:
    """Every widget of the page, built once; the workbench swaps only the progress view."""

    def __init__(
        self, zone: UploadZone, form: ConfigForm, notifier: Notifier, media: MediaPanel
    ) -> None:
        self.header = widgets.HTML(value="")
        self.header.add_class("bk-header")
        self.start = _button(
            "Start", "Run the chosen documents with these settings", "bk-start",
            button_style="primary", icon="play",
        )  # fmt: skip
        self.retry = _button(
            "Retry failed", "Run the files that failed again, as a new batch", "bk-retry",
            icon="redo", disabled=True,
        )  # fmt: skip
        self.start_over = _button(
            "Start over", "Stop following the batch and clear the files and progress",
            "bk-start-over", icon="trash",
        )  # fmt: skip
        self.confirm_slot = widgets.VBox([])
        self.confirm_slot.add_class("bk-confirm-slot")
        actions = widgets.Box([self.start, self.retry, self.start_over], layout=_ROW)
        actions.add_class("bk-actions")
        self.progress_slot = widgets.VBox([], layout=widgets.Layout(width="100%"))
        self.progress_slot.add_class("bk-progress-slot")
        self.regenerate_file = widgets.Dropdown(
            options=[], description="File", tooltip="A completed file whose story to make again"
        )
        self.regenerate_file.add_class("bk-regenerate-file")
        self.regenerate_prompt = widgets.Textarea(
            description="Prompt",
            placeholder="What the new story should do differently",
            tooltip="The custom prompt for the new story (required)",
            layout=widgets.Layout(width="auto", min_width="16em", flex="1 1 24em"),
        )
        self.regenerate_prompt.add_class("bk-regenerate-prompt")
        self.regenerate = _button(
            "Regenerate…", "Generate this file's story again with the prompt", "bk-regenerate",
            icon="refresh", disabled=True,
        )  # fmt: skip
        regenerate_row = widgets.Box(
            [self.regenerate_file, self.regenerate_prompt, self.regenerate], layout=_ROW
        )
        self.regenerate_confirm = widgets.VBox([])
        self.regenerate_confirm.add_class("bk-confirm-slot")
        settings = widgets.Accordion(children=[form.widget], titles=("Settings",))
        settings.add_class("bk-settings")
        settings.selected_index = None  # folded: the page stays short in a side panel
        self.widget = widgets.VBox(
            [
                self.header,
                _section("1 · Documents", zone.widget, css="bk-documents"),
                _section("2 · Settings", settings, css="bk-configure"),
                _section("3 · Run", actions, self.confirm_slot, self.progress_slot, css="bk-run"),
                _section(
                    "4 · Stories", _subheading("Generate a story again"), regenerate_row,
                    self.regenerate_confirm, _subheading("Images and audio"), media.widget,
                    css="bk-stories",
                ),
                notifier.widget,
            ],
            layout=widgets.Layout(width="100%", max_width="72em"),
        )  # fmt: skip
        self.widget.add_class("bk-workbench")
        self.settings = settings
