"""Telling the user what happened: transient notices with a log, confirmations, busy buttons.

* :class:`Notifier`: one message area (the latest notice, which fades after a while) and a log
  of every notice, newest last.
* :func:`confirm`: an inline question with Yes and Cancel, for actions that lose work.
* :class:`Busy`: a button that waits for its task shows it (disabled, "…") and gets its label
  back afterwards; the task is kept referenced and a failure is painted into the notifier,
  never lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import ipywidgets as widgets

from batchkit.widgets.render import escape
from batchkit.widgets.throttle import set_changed

__all__ = ["Busy", "Level", "Notice", "Notifier", "ask", "close_tree", "confirm"]

logger = logging.getLogger("batchkit.widgets")

_ICONS: Final = {"info": "ℹ", "success": "✓", "warning": "⚠", "error": "✗"}


class Level(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Notice:
    """One message shown to the user."""

    level: Level
    text: str
    at: datetime


def _notice_html(notice: Notice) -> str:
    return (
        f'<div class="bk-notice bk-notice-{notice.level.value}">'
        f'<span aria-hidden="true">{_ICONS[notice.level.value]}</span> '
        f"<strong>{notice.level.value}:</strong> {escape(notice.text)}</div>"
    )


class Notifier:
    """A message area showing the latest notice, and a log of all of them.

    A notice other than an error clears itself after ``linger`` seconds when an event loop is
    running (errors stay until the next notice). ``log`` keeps every notice.
    """

    def __init__(self, *, linger: float = 8.0, log_limit: int = 200) -> None:
        self.log: list[Notice] = []
        self._linger = linger
        self._log_limit = log_limit
        self._fade: asyncio.TimerHandle | None = None
        self._message = widgets.HTML(value="")
        self._message.add_class("bk-notify-message")
        self._log_view = widgets.HTML(value="")
        self._log_view.add_class("bk-notify-log")
        self._log_box = widgets.Accordion(children=[self._log_view], titles=("Log",))
        self._log_box.selected_index = None
        self.widget = widgets.VBox(
            [self._message, self._log_box], layout=widgets.Layout(width="100%")
        )
        self.widget.add_class("bk-notify")

    def info(self, text: str) -> Notice:
        return self.notify(Level.INFO, text)

    def success(self, text: str) -> Notice:
        return self.notify(Level.SUCCESS, text)

    def warning(self, text: str) -> Notice:
        return self.notify(Level.WARNING, text)

    def error(self, text: str) -> Notice:
        return self.notify(Level.ERROR, text)

    def notify(self, level: Level | str, text: str) -> Notice:
        """Show ``text`` now and add it to the log."""
        notice = Notice(level=Level(level), text=text, at=datetime.now(UTC))
        self.log.append(notice)
        del self.log[: -self._log_limit]
        set_changed(
            self._message,
            value=f'<div role="status" aria-live="polite">{_notice_html(notice)}</div>',
        )
        set_changed(self._log_view, value=self._log_html())
        self._schedule_fade(notice)
        return notice

    @property
    def message(self) -> str:
        """The HTML of the message area as it is shown now."""
        return str(self._message.value)

    def dismiss(self) -> None:
        """Clear the message area (the log keeps the notice)."""
        set_changed(self._message, value="")

    def _log_html(self) -> str:
        items = "".join(
            f"<li><time>{n.at:%H:%M:%S}</time> {_notice_html(n)}</li>" for n in self.log
        )
        return f'<ol class="bk-log-list">{items}</ol>'

    def _schedule_fade(self, notice: Notice) -> None:
        if self._fade is not None:
            self._fade.cancel()
            self._fade = None
        if notice.level is Level.ERROR:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop to fade on: the notice stays until the next one
        self._fade = loop.call_later(self._linger, self._fade_if_latest, notice)

    def _fade_if_latest(self, notice: Notice) -> None:
        if self.log and self.log[-1] is notice:
            self.dismiss()


def close_tree(widget: Any) -> None:
    """Close ``widget`` and its children, so their state leaves the kernel and the page."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()


def ask(slot: widgets.Box, dialog: widgets.Widget) -> None:
    """Show a confirmation ``dialog`` in ``slot``, closing any question left there."""
    for old in slot.children:
        close_tree(old)
    slot.children = (dialog,)


def confirm(
    question: str,
    on_yes: Callable[[], object],
    *,
    yes: str = "Yes",
    no: str = "Cancel",
) -> widgets.Widget:
    """An inline dialog asking ``question``; Yes calls ``on_yes``, either button closes it.

    The dialog removes itself from view once answered; place it where the question belongs.
    """
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

    def close_dialog() -> None:
        box.layout.display = "none"
        yes_button.disabled = no_button.disabled = True

    def agreed() -> None:
        close_dialog()
        on_yes()

    yes_button.on_click(lambda _: agreed())
    no_button.on_click(lambda _: close_dialog())
    return box


class Busy:
    """Runs the tasks behind buttons: shows the wait, keeps the task, paints its failure.

    ``busy.run(button, work)`` disables ``button``, appends "…" to its label, starts
    ``work()`` as a task on the running loop, and when it ends restores the button and reports
    an exception to ``notifier`` (and the log). ``tasks`` holds the tasks still running.
    """

    def __init__(self, notifier: Notifier | None = None) -> None:
        self._notifier = notifier
        self.tasks: set[asyncio.Task[Any]] = set()

    def run(
        self,
        button: widgets.Button,
        work: Callable[[], Awaitable[Any]],
        *,
        failure: str = "failed",
    ) -> asyncio.Task[Any]:
        """Start ``work()`` now; ``failure`` prefixes the message shown if it raises."""
        loop = asyncio.get_running_loop()  # before touching the button: no loop, no change
        label, was_disabled = button.description, button.disabled
        set_changed(button, disabled=True, description=f"{label}…")

        async def waited() -> Any:
            return await work()

        task = loop.create_task(waited())
        self.tasks.add(task)

        def finished(done: asyncio.Task[Any]) -> None:
            self.tasks.discard(done)
            set_changed(button, disabled=was_disabled, description=label)
            if done.cancelled():
                return
            error = done.exception()
            if error is not None:
                logger.error("%s: %s", failure, error, exc_info=error)
                if self._notifier is not None:
                    self._notifier.error(f"{failure}: {error}")

        task.add_done_callback(finished)
        return task

    async def wait(self) -> None:
        """Wait for every running task (their errors are already painted, not raised)."""
        while self.tasks:
            await asyncio.wait(set(self.tasks))
