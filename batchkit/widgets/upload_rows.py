"""The upload zone's list: one entry per chosen file, and the row of widgets that shows it.

A :class:`FileEntry` is what the zone knows of one file (frozen: each change makes a new one);
a :class:`FileRowView` shows an entry with its name, size, type, a ✓/✗ mark with words, its
reason when rejected, a remove button and one bar per leg (browser → kernel, kernel → server).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import ipywidgets as widgets

from batchkit.files import Document
from batchkit.tracker import BatchRun, UploadStatus
from batchkit.widgets import render
from batchkit.widgets.notify import close_tree
from batchkit.widgets.throttle import set_changed

__all__ = ["EntryState", "FileEntry", "FileRowView", "ServerLeg", "Source", "server_legs"]


class EntryState(StrEnum):
    RECEIVING = "receiving"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Source(StrEnum):
    BROWSER = "browser"
    DISK = "disk"


@dataclass(frozen=True, slots=True)
class ServerLeg:
    """How far a file's kernel → server upload is (from a followed run)."""

    fraction: float
    words: str
    failed: bool = False


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file in the zone's list."""

    key: int
    name: str
    size: int
    source: Source
    state: EntryState
    received: int = 0
    """Bytes that reached the kernel (all of them for a file from the kernel's disk)."""
    reason: str | None = None
    document: Document | None = None
    path: Path | None = None
    """Where the kernel holds the file (a received file's temporary copy, or the disk file)."""

    @property
    def live(self) -> bool:
        """Counts against the limit: accepted, or still arriving."""
        return self.state is not EntryState.REJECTED

    @property
    def extension(self) -> str:
        return os.path.splitext(self.name)[1].lower()

    @property
    def kernel_fraction(self) -> float:
        if self.size == 0:
            return 1.0 if self.state is EntryState.ACCEPTED else 0.0
        return min(self.received / self.size, 1.0)


_MARKS: Final = {
    EntryState.RECEIVING: ("…", "arriving"),
    EntryState.ACCEPTED: ("✓", "accepted"),
    EntryState.REJECTED: ("✗", "rejected"),
}


def _leg(status: str, progress: object, error: object) -> ServerLeg:
    if status == UploadStatus.UPLOADED:
        return ServerLeg(1.0, "✓ uploaded")
    if status in (UploadStatus.FAILED, UploadStatus.REJECTED):
        words = "✗ not sent" if status == UploadStatus.REJECTED else "✗ failed"
        return ServerLeg(0.0, f"{words}: {error}" if isinstance(error, str) else words, True)
    fraction = float(progress) if isinstance(progress, float) else 0.0
    if status == UploadStatus.UPLOADING:
        return ServerLeg(fraction, render.percent(fraction))
    return ServerLeg(0.0, "waiting")


def server_legs(run: BatchRun) -> dict[str, ServerLeg]:
    """Each file's kernel → server upload in ``run``, by file name."""
    files = run.files
    columns = (files[c].tolist() for c in ("name", "upload_status", "upload_progress", "error"))
    return {
        str(name): _leg(str(status), progress, error)
        for name, status, progress, error in zip(*columns, strict=True)
    }


_STATE_CLASSES: Final = frozenset(f"bk-file-{state.value}" for state in EntryState)


def entry_html(entry: FileEntry) -> str:
    """Name (escaped), size, type and the validation mark of one file."""
    icon, word = _MARKS[entry.state]
    origin = "from the browser" if entry.source is Source.BROWSER else "from the kernel's disk"
    return (
        f'<span class="bk-file-name">{render.escape(entry.name)}</span> '
        f'<span class="bk-file-meta">{render.size_and_type(entry.size, entry.extension)} · '
        f"{origin}</span> "
        f'<span class="bk-mark bk-mark-{entry.state.value}">'
        f'<span aria-hidden="true">{icon}</span> {word}</span>'
    )


def _leg_bar(description: str, tooltip: str) -> widgets.FloatProgress:
    bar = widgets.FloatProgress(
        value=0.0,
        min=0.0,
        max=1.0,
        description=description,
        tooltip=tooltip,
        style={"description_width": "5.5em"},
        layout=widgets.Layout(width="15em", min_width="10em"),
    )
    bar.add_class("bk-leg-bar")
    return bar


class FileRowView:
    """The widgets of one row; :meth:`show` sends only what changed."""

    def __init__(self, entry: FileEntry, on_remove: Callable[[FileEntry], object]) -> None:
        self.key = entry.key
        self._entry = entry
        self.info = widgets.HTML(value="", layout=widgets.Layout(flex="2 1 16em", min_width="12em"))
        self.info.add_class("bk-file-info")
        self.kernel_bar = _leg_bar("To kernel", f"{entry.name}: browser → kernel")
        self.server_bar = _leg_bar("To server", f"{entry.name}: kernel → server")
        self.legs = widgets.HTML(value="", layout=widgets.Layout(min_width="10em"))
        self.legs.add_class("bk-file-legs")
        self.remove = widgets.Button(
            description="Remove",
            tooltip=f"Remove {entry.name} from the list",
            icon="trash",
            layout=widgets.Layout(width="auto"),
        )
        self.remove.add_class("bk-file-remove")
        self.remove.on_click(lambda _: on_remove(self._entry))
        self.error = widgets.HTML(value="", layout=widgets.Layout(flex="1 1 100%"))
        self.error.add_class("bk-file-message")
        self.box = widgets.HBox(
            [self.info, self.kernel_bar, self.server_bar, self.legs, self.remove, self.error],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center", width="100%"),
        )
        self.box.add_class("bk-file-row")

    def show(self, entry: FileEntry, server: ServerLeg | None) -> None:
        """Draw ``entry`` (and its server leg, once a run follows it)."""
        self._entry = entry
        set_changed(self.info, value=entry_html(entry))
        kernel_style = {"accepted": "success", "rejected": "danger"}.get(entry.state.value, "")
        set_changed(self.kernel_bar, value=entry.kernel_fraction, bar_style=kernel_style)
        server_style = "" if server is None else ("danger" if server.failed else "")
        if server is not None and server.fraction >= 1.0 and not server.failed:
            server_style = "success"
        set_changed(
            self.server_bar,
            value=0.0 if server is None else server.fraction,
            bar_style=server_style,
        )
        kernel_words = f"kernel {render.percent(entry.kernel_fraction)}"
        if entry.kernel_fraction >= 1.0 and entry.state is not EntryState.RECEIVING:
            kernel_words = "kernel ✓" if entry.state is EntryState.ACCEPTED else "kernel ✗"
        server_words = "server —" if server is None else f"server {server.words}"
        set_changed(self.legs, value=f"{kernel_words} · {render.escape(server_words)}")
        reason = ""
        if entry.reason:
            reason = (
                f'<span role="alert">✗ <span class="bk-file-name">{render.escape(entry.name)}'
                f"</span> {render.escape(entry.reason)}</span>"
            )
        # Only a row with a problem carries bk-file-error: the class means "an error is shown".
        error_classes = ("bk-file-message", "bk-file-error") if reason else ("bk-file-message",)
        set_changed(self.error, value=reason, _dom_classes=error_classes)
        wanted = f"bk-file-{entry.state.value}"
        classes = [c for c in self.box._dom_classes if c not in _STATE_CLASSES]
        set_changed(self.box, _dom_classes=(*classes, wanted))

    def close(self) -> None:
        close_tree(self.box)
