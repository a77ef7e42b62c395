"""The workbench page's layout: the widgets, where they sit, and their labels and classes.

No behaviour lives here (that is :mod:`batchkit.workbench.workbench`); this module only builds
and arranges. Every control has a description and a tooltip, and a ``bk-`` CSS class that the
browser tests select by. Each action sits with the line that says why it cannot run now, and
with the place where its notices appear. The layout wraps: from a notebook beside Lab's file
browser (about 320 px) to a wide screen.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from batchkit.widgets import (
    BatchView,
    ConfigForm,
    Disclosure,
    LiveHTML,
    Notifier,
    TaskKeeper,
    UploadZone,
)
from batchkit.widgets.render import stylesheet
from batchkit.workbench.media import MediaPanel

__all__ = ["Action", "WorkbenchPage", "header_html"]


def header_html(url: str, where: str, status: str) -> str:
    """The header: which server (its URL only: never a token or password) and the status."""
    server = f"<code>{html.escape(url)}</code> ({html.escape(where)})" if url else "—"
    return (
        '<div class="bk-header-text" data-key="header">'
        '<h2 class="bk-title">batchkit workbench</h2>'
        f'<p class="bk-server">Server: {server}</p>'
        f'<p class="bk-status-line" role="status" data-key="status">Status: '
        f"<span class='bk-workbench-status'>{html.escape(status)}</span></p></div>"
    )


def _row(*children: Any, css: str = "") -> widgets.Box:
    box = widgets.Box(
        list(children),
        layout=widgets.Layout(flex_flow="row wrap", align_items="center", width="100%"),
    )
    if css:
        box.add_class(css)
    return box


def _section(title: str, *children: Any, css: str) -> widgets.VBox:
    heading = widgets.HTML(value=f"<h3>{html.escape(title)}</h3>")
    heading.add_class("bk-section-heading")
    box = widgets.VBox([heading, *children], layout=widgets.Layout(width="100%"))
    box.add_class("bk-section")
    box.add_class(css)
    return box


class Action:
    """A button and, beside it, the words saying why it cannot run now (empty when it can)."""

    def __init__(self, description: str, tooltip: str, css: str, **extra: Any) -> None:
        self.button = widgets.Button(
            description=description,
            tooltip=tooltip,
            layout=widgets.Layout(width="auto", min_width="0"),
            **extra,
        )
        self.button.add_class(css)
        self.button.add_class("bk-action-button")
        self.tooltip = tooltip
        self.reason = widgets.HTML(value="")
        self.reason.add_class("bk-action-reason")
        self.reason.add_class(f"{css}-reason")
        self.widget = widgets.VBox(
            [self.button, self.reason], layout=widgets.Layout(min_width="0", flex="0 1 auto")
        )
        self.widget.add_class("bk-action")

    def offer(self, reason: str) -> None:
        """Enabled when ``reason`` is empty; otherwise disabled, saying ``reason``."""
        disabled = bool(reason)
        if self.button.disabled != disabled:
            self.button.disabled = disabled
        tooltip = f"{self.tooltip} (not now: {reason})" if reason else self.tooltip
        if self.button.tooltip != tooltip:
            self.button.tooltip = tooltip
        words = f"<span>{html.escape(reason)}</span>" if reason else ""
        if self.reason.value != words:
            self.reason.value = words


class WorkbenchPage:
    """Every widget of the page, built once."""

    def __init__(
        self,
        zone: UploadZone,
        form: ConfigForm,
        notifier: Notifier,
        media: MediaPanel,
        view: BatchView,
        keeper: TaskKeeper,
    ) -> None:
        self.header = LiveHTML(keeper=keeper, html=header_html("", "", "starting"))
        self.header.add_class("bk-header")
        self.view = view
        self.confirm_slot = widgets.VBox([])
        self.confirm_slot.add_class("bk-confirm-slot")
        actions = self._run_actions()
        self.regenerate_box = self._regenerate_part(notifier)
        self.settings = Disclosure(
            "Settings",
            form.widget,
            hint="Steps, voice, words per chunk, prompts, style, titles, presets",
            keeper=keeper,
            css="bk-settings",
        )
        documents = _section(
            "1 · Documents", zone.widget, view.table,
            _row(zone.clear_button, css="bk-upload-actions"), zone.confirm_slot,
            notifier.place("files").widget, css="bk-documents",
        )  # fmt: skip
        run = _section(
            "3 · Run", actions, self.confirm_slot, notifier.place("run").widget, view.overview,
            view.announcer, css="bk-run",
        )  # fmt: skip
        stories = _section(
            "4 · Stories", self.regenerate_box, widgets.HTML(value="<h4>Images and audio</h4>"),
            media.widget, notifier.place("media").widget, css="bk-stories",
        )  # fmt: skip
        self.widget = widgets.VBox(
            [
                widgets.HTML(stylesheet()), self.header, documents,
                _section("2 · Settings", self.settings.widget, css="bk-configure"),
                run, stories, notifier.widget, notifier.log_view,
            ],
            layout=widgets.Layout(width="100%", max_width="80em"),
        )  # fmt: skip
        self.widget.add_class("bk-workbench")

    def _run_actions(self) -> widgets.Box:
        self.start_action = Action(
            "Start", "Run the chosen documents with these settings", "bk-start",
            button_style="primary", icon="play",
        )  # fmt: skip
        self.retry_action = Action(
            "Retry failed",
            "Run the files that failed again, with their own titles and prompts",
            "bk-retry",
            icon="redo",
        )
        self.start_over_action = Action(
            "Start over", "Stop following the batch and clear the files and progress",
            "bk-start-over", icon="trash",
        )  # fmt: skip
        self.start, self.retry = self.start_action.button, self.retry_action.button
        self.start_over = self.start_over_action.button
        return _row(
            self.start_action.widget,
            self.retry_action.widget,
            self.start_over_action.widget,
            css="bk-actions",
        )

    def _regenerate_part(self, notifier: Notifier) -> widgets.VBox:
        self.regenerate_file = widgets.Dropdown(
            options=[],
            description="File",
            tooltip="A completed file whose story to make again",
            layout=widgets.Layout(min_width="0", width="auto", max_width="100%"),
        )
        self.regenerate_file.add_class("bk-regenerate-file")
        self.regenerate_prompt = widgets.Textarea(
            description="Prompt",
            placeholder="What the new story should do differently",
            tooltip="The custom prompt for the new story (required)",
            continuous_update=True,
            layout=widgets.Layout(width="auto", min_width="0", flex="1 1 20em"),
        )
        self.regenerate_prompt.add_class("bk-regenerate-prompt")
        self.regenerate_action = Action(
            "Regenerate…", "Generate this file's story again with the prompt", "bk-regenerate",
            icon="refresh",
        )  # fmt: skip
        self.regenerate = self.regenerate_action.button
        self.regenerate_confirm = widgets.VBox([])
        self.regenerate_confirm.add_class("bk-confirm-slot")
        return widgets.VBox(
            [
                widgets.HTML(value="<h4>Generate a story again</h4>"),
                _row(self.regenerate_file, self.regenerate_prompt, css="bk-regenerate-row"),
                _row(self.regenerate_action.widget, css="bk-actions"),
                self.regenerate_confirm,
                notifier.place("stories").widget,
            ],
            layout=widgets.Layout(width="100%"),
        )
