"""Reading the workbench page as the browser gets it, and opening one on a test server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from batchkit.server.launcher import EmbeddedServer
from batchkit.widgets import LiveHTML
from batchkit.workbench import Workbench
from workbench.made_runs import USERS

PASSWORD = USERS["ada"]


async def open_workbench(server: EmbeddedServer, tmp_path: Path) -> Workbench:
    """A workbench on ``server``, once it is logged in."""
    workbench = await Workbench.open(
        server.url,
        username="ada",
        password=PASSWORD,
        presets_dir=tmp_path / "presets",
        start_dir=str(tmp_path),
    )
    return await workbench.ready()


def strings_in(widget: Any, seen: set[int] | None = None) -> Iterator[str]:
    """Every string the widget ``widget`` and the widgets inside it sync to the page."""
    seen = set() if seen is None else seen
    if id(widget) in seen:
        return
    seen.add(id(widget))
    for key in widget.keys:
        yield from _strings(getattr(widget, key), seen)


def _strings(value: Any, seen: set[int]) -> Iterator[str]:
    if isinstance(value, widgets.Widget):
        yield from strings_in(value, seen)
    elif isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item, seen)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, seen)


def page_text(wb: Workbench) -> str:
    """Everything the page syncs to the browser, as text."""
    return "\n".join(strings_in(wb.widget))


def page_html(widget: Any, seen: set[int] | None = None) -> Iterator[str]:
    """The markup of every HTML widget on the page: what the browser renders as HTML."""
    seen = set() if seen is None else seen
    if id(widget) in seen:
        return
    seen.add(id(widget))
    if isinstance(widget, widgets.HTML | widgets.HTMLMath):
        yield str(widget.value)
    if isinstance(widget, LiveHTML):
        yield str(widget.html)
    for child in getattr(widget, "children", ()):
        yield from page_html(child, seen)


def last_notice(wb: Workbench) -> tuple[str, str]:
    notice = wb.notifier.log[-1]
    return notice.level.value, notice.text


def last_notice_in(wb: Workbench, place: str) -> tuple[str, str]:
    """The newest notice shown in ``place`` (beside the button that caused it)."""
    notice = [n for n in wb.notifier.log if n.place == place][-1]
    return notice.level.value, notice.text


def reason(action: object) -> str:
    """The words beside a button saying why it cannot run ("" when it can)."""
    return re.sub(r"<[^>]*>", "", str(action.reason.value))  # type: ignore[attr-defined]
