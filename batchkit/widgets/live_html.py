"""An HTML part of the page that the browser redraws in place and whose buttons reach the kernel.

``widgets.HTML`` replaces its whole content on every change: the focus on a button inside is
lost and a screen reader loses its place. :class:`LiveHTML` (an anywidget) draws the same
markup by changing only the elements that differ, keyed by ``data-key``; a focused element
keeps the focus, and when its row goes (a file removed) the focus moves to the next row's
button of the same kind. A press of a ``<button data-action=... data-key=...>`` is sent to the
kernel and handed to the ``on_action`` callbacks on the page's loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from batchkit.widgets.assets import asset
from batchkit.widgets.tasks import TaskKeeper

__all__ = ["ActionCallback", "LiveHTML"]

logger = logging.getLogger("batchkit.widgets")
ActionCallback = Callable[[str, str], object]
"""Called with ``(action, key)`` for each press."""


class LiveHTML(anywidget.AnyWidget):
    """Markup (``html``) drawn in place; presses of its action buttons go to ``on_action``."""

    _esm = asset("live_html.js")
    html = traitlets.Unicode("").tag(sync=True)

    def __init__(self, *, keeper: TaskKeeper | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._actions: list[ActionCallback] = []
        keeper = keeper or TaskKeeper()
        self.on_msg(keeper.callback(self._message, failure="a press on the page failed"))

    def on_action(self, callback: ActionCallback) -> None:
        self._actions.append(callback)

    def press(self, action: str, key: str) -> None:
        """Act as if the button ``action`` of row ``key`` was pressed (as the browser does)."""
        for callback in tuple(self._actions):
            callback(action, key)

    def focus(self) -> None:
        """Move the keyboard focus to this part of the page."""
        self.send({"do": "focus"})

    def _message(self, _widget: object, content: Any, _buffers: object) -> None:
        if not isinstance(content, dict) or content.get("type") != "action":
            logger.warning("ignored a malformed message from the page: %r", content)
            return
        self.press(str(content.get("action", "")), str(content.get("key", "")))
