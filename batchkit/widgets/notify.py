"""Telling the user what happened, next to what caused it: notices, a log, confirmations.

* :class:`Notifier`: one log of every notice, and *places*: a message line shown where its
  notices belong (beside the Start button, under the file list...). A notice goes to the place
  of what caused it; the log (folded, under the page) keeps them all, newest last.
* :func:`confirm` and :func:`ask`: an inline question with Yes and Cancel, for actions that lose
  work; the keyboard focus goes to the question (on Cancel) and back to the button that asked.
* :func:`close_tree`: close a widget and everything it holds (children, layout, style), so
  nothing is left behind in the kernel or the page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import ipywidgets as widgets

from batchkit.widgets.disclosure import Disclosure
from batchkit.widgets.live_html import LiveHTML
from batchkit.widgets.render import escape
from batchkit.widgets.tasks import TaskKeeper
from batchkit.widgets.throttle import set_changed

__all__ = ["Level", "Notice", "NoticePlace", "Notifier", "ask", "close_tree", "confirm"]

logger = logging.getLogger("batchkit.widgets")

_ICONS: Final = {"info": "ℹ", "success": "✓", "warning": "⚠", "error": "✗"}
DEFAULT_PLACE: Final = "page"


class Level(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Notice:
    """One message shown to the user, and the place it was shown."""

    level: Level
    text: str
    at: datetime
    place: str = DEFAULT_PLACE


def notice_html(notice: Notice) -> str:
    """A notice as an icon, its level in words and its text (escaped)."""
    return (
        f'<div class="bk-notice bk-notice-{notice.level.value}">'
        f'<span aria-hidden="true">{_ICONS[notice.level.value]}</span> '
        f"<strong>{notice.level.value}:</strong> {escape(notice.text)}</div>"
    )


class NoticePlace:
    """The message line of one place: the latest notice sent there, until it fades."""

    def __init__(self, name: str, linger: float, keeper: TaskKeeper | None = None) -> None:
        self.name = name
        self._linger = linger
        self._fade: asyncio.TimerHandle | None = None
        self._latest: Notice | None = None
        # The region stays in place and only its text changes (LiveHTML), so a screen reader
        # says each notice; it changes only when a notice comes, never on a redraw.
        self.widget = LiveHTML(keeper=keeper, html=self._regions("", ""))
        self.widget.add_class("bk-notice-place")
        self.widget.add_class(f"bk-notices-{name}")

    @property
    def message(self) -> str:
        """The HTML of the notice shown now ("" when none is)."""
        return notice_html(self._latest) if self._latest is not None else ""

    def show(self, notice: Notice) -> None:
        text = notice_html(notice)
        urgent = notice.level is Level.ERROR
        set_changed(self.widget, html=self._regions(text if urgent else "", "" if urgent else text))
        self._latest = notice
        self._schedule_fade(notice)

    def dismiss(self) -> None:
        set_changed(self.widget, html=self._regions("", ""))
        self._latest = None

    @staticmethod
    def _regions(alert: str, status: str) -> str:
        # Two regions that stay in place: an error is read out at once, anything else politely.
        return (
            f'<div class="bk-notice-region" role="alert" data-key="alert">{alert}</div>'
            f'<div class="bk-notice-region" role="status" data-key="status">{status}</div>'
        )

    def _schedule_fade(self, notice: Notice) -> None:
        if self._fade is not None:
            self._fade.cancel()
            self._fade = None
        if notice.level in (Level.ERROR, Level.WARNING):
            return  # stays until the next notice here: it asks for something
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop to fade on: the notice stays until the next one
        self._fade = loop.call_later(self._linger, self._fade_if_latest, notice)

    def _fade_if_latest(self, notice: Notice) -> None:
        if self._latest is notice:
            self.dismiss()


class Notifier:
    """Every notice of the page: shown in its place, and kept in one log.

    A notice other than an error or a warning clears itself from its place after ``linger``
    seconds when an event loop is running. ``log`` keeps every notice (the newest
    ``log_limit``); :attr:`log_view` shows them, folded under a "Log" button.
    """

    def __init__(
        self, *, linger: float = 8.0, log_limit: int = 200, keeper: TaskKeeper | None = None
    ) -> None:
        self.log: list[Notice] = []
        self._linger = linger
        self._log_limit = log_limit
        self._places: dict[str, NoticePlace] = {}
        self._keeper = keeper
        self._log_list = widgets.HTML(value="")
        self._log_list.add_class("bk-notify-log")
        self._log_box = Disclosure("Log", self._log_list, keeper=keeper, css="bk-log")
        self.log_view = self._log_box.widget
        self.log_view.add_class("bk-notify")
        self.widget = self.place(DEFAULT_PLACE).widget  # the page-wide message line

    def place(self, name: str) -> NoticePlace:
        """The message line of place ``name`` (made on first use); put its widget there."""
        if name not in self._places:
            self._places[name] = NoticePlace(name, self._linger, self._keeper)
        return self._places[name]

    def info(self, text: str, *, place: str = DEFAULT_PLACE) -> Notice:
        return self.notify(Level.INFO, text, place=place)

    def success(self, text: str, *, place: str = DEFAULT_PLACE, show: bool = True) -> Notice:
        return self.notify(Level.SUCCESS, text, place=place, show=show)

    def warning(self, text: str, *, place: str = DEFAULT_PLACE) -> Notice:
        return self.notify(Level.WARNING, text, place=place)

    def error(self, text: str, *, place: str = DEFAULT_PLACE) -> Notice:
        return self.notify(Level.ERROR, text, place=place)

    def reporter(self, place: str) -> Callable[[str], object]:
        """A function painting an error in ``place`` (for :class:`TaskKeeper`)."""
        return lambda text: self.error(text, place=place)

    def notify(
        self, level: Level | str, text: str, *, place: str = DEFAULT_PLACE, show: bool = True
    ) -> Notice:
        """Show ``text`` in ``place`` now and add it to the log. ``show=False`` when the page
        says it already where it matters: only logged, and the older notice of ``place``
        (outdated by it) cleared."""
        notice = Notice(level=Level(level), text=text, at=datetime.now(UTC), place=place)
        self.log.append(notice)
        del self.log[: -self._log_limit]
        if show:
            self.place(place).show(notice)
        else:
            self.place(place).dismiss()
        set_changed(self._log_list, value=self._log_html())
        self._log_box.label = f"Log ({len(self.log)})"
        return notice

    def message_in(self, place: str) -> str:
        """The HTML shown now in ``place``."""
        return self.place(place).message

    @property
    def message(self) -> str:
        """The HTML of the page-wide message line as it is shown now."""
        return self.message_in(DEFAULT_PLACE)

    def dismiss(self, place: str = DEFAULT_PLACE) -> None:
        """Clear the message of ``place`` (the log keeps the notice)."""
        self.place(place).dismiss()

    def _log_html(self) -> str:
        items = "".join(f"<li><time>{n.at:%H:%M:%S}</time> {notice_html(n)}</li>" for n in self.log)
        return f'<ol class="bk-log-list">{items}</ol>'


def close_tree(widget: Any) -> None:
    """Close ``widget``, its children (shown or folded away), and their layouts and styles
    (widget models too)."""
    for child in (*getattr(widget, "children", ()), *getattr(widget, "hidden_parts", ())):
        close_tree(child)
    for part in ("layout", "style"):
        owned = getattr(widget, part, None)
        if isinstance(owned, widgets.Widget):
            owned.close()
    widget.close()


def ask(slot: widgets.Box, dialog: widgets.Widget) -> None:
    """Show a confirmation ``dialog`` in ``slot``, closing any question left there."""
    for old in slot.children:
        close_tree(old)
    slot.children = (dialog,)
    cancel = getattr(dialog, "cancel_button", None)
    if cancel is not None:
        cancel.focus()  # keyboard users land on the question, on its safe answer


def confirm(
    question: str,
    on_yes: Callable[[], object],
    *,
    yes: str = "Yes",
    no: str = "Cancel",
    keeper: TaskKeeper | None = None,
    return_to: widgets.DOMWidget | None = None,
) -> widgets.Widget:
    """An inline dialog asking ``question``; Yes calls ``on_yes``, either button closes it.

    Place it where the question belongs (:func:`ask`). Once answered it hides itself and gives
    the keyboard focus back to ``return_to`` (the button that asked).
    """
    keeper = keeper or TaskKeeper()
    text = widgets.HTML(value=f'<span role="alert">⚠ {escape(question)}</span>')
    yes_button = widgets.Button(
        description=yes, tooltip=f"{yes}: {question}", button_style="danger"
    )
    no_button = widgets.Button(description=no, tooltip=f"{no}: keep things as they are")
    yes_button.add_class("bk-confirm-yes")
    no_button.add_class("bk-confirm-no")
    box = widgets.HBox(
        [text, yes_button, no_button],
        layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
    )
    box.add_class("bk-confirm")
    box.cancel_button = no_button  # where ask() puts the focus

    def close_dialog() -> None:
        box.layout.display = "none"
        yes_button.disabled = no_button.disabled = True
        if return_to is not None:
            return_to.focus()

    def agreed() -> None:
        close_dialog()
        on_yes()

    yes_button.on_click(keeper.callback(lambda _: agreed(), failure="the action failed"))
    no_button.on_click(keeper.callback(lambda _: close_dialog(), failure="could not cancel"))
    return box
