"""``upload_zone()``: choose documents in the browser or on the kernel's disk, checked and listed.

Browser files come through :class:`~batchkit.widgets.chunked_upload.ChunkedUpload` in chunks,
each appended to a temporary file (a :class:`~batchkit.widgets.receiver.ChunkReceiver`), and
when the last one is in, :func:`batchkit.files.check_documents` reads the file's content (a
renamed .doc, a binary .txt...). Files from the kernel's disk (ipyfilechooser, or
:meth:`UploadZone.add_paths`) pass the same checks and are used in place. The list shows one
row per file with both legs of its journey; :meth:`UploadZone.follow` feeds the second leg
(kernel → server) from a run. All drawing goes through one throttled flusher; additions,
verdicts and removals are drawn at once.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as widgets
from ipyfilechooser import FileChooser

from batchkit.contract.limits import ALLOWED_EXTENSIONS, MAX_FILE_BYTES, MAX_FILES
from batchkit.errors import FileRejected
from batchkit.files import Document, admission_problem, base_name, check_documents
from batchkit.tracker import BatchRun
from batchkit.widgets import render
from batchkit.widgets.chunked_upload import ChunkedUpload
from batchkit.widgets.file_list import FileListView
from batchkit.widgets.notify import ask, confirm
from batchkit.widgets.receiver import ChunkReceiver, Incoming
from batchkit.widgets.throttle import Flusher, set_changed
from batchkit.widgets.upload_rows import EntryState, FileEntry, FileRowView, Source, server_legs

__all__ = ["UploadZone", "upload_zone"]

logger = logging.getLogger("batchkit.widgets")
ChangeCallback = Callable[["UploadZone"], object]


def _disk_chooser(start_dir: str | None) -> FileChooser:
    chooser = FileChooser(
        start_dir or os.getcwd(),
        title="Add a file from the kernel's disk",
        select_desc="Select",
        change_desc="Add another",
        filter_pattern=[f"*{ext}" for ext in ALLOWED_EXTENSIONS],
        layout=widgets.Layout(width="auto", min_width="16em", flex="1 1 20em"),
    )
    chooser.add_class("bk-disk-chooser")
    return chooser


def _box(children: list[Any], css_class: str, **layout: str) -> widgets.Box:
    box = widgets.Box(children, layout=widgets.Layout(flex_flow="row wrap", **layout))
    box.add_class(css_class)
    return box


class UploadZone:
    """Documents chosen for a batch: ``documents`` (accepted, in order) and ``rejections``."""

    def __init__(
        self,
        *,
        max_files: int = MAX_FILES,
        max_bytes: int = MAX_FILE_BYTES,
        start_dir: str | None = None,
        max_rate: float = 10.0,
    ) -> None:
        self.max_files = max_files
        self.max_bytes = max_bytes
        self._receiver = ChunkReceiver()
        self._entries: dict[int, FileEntry] = {}
        self._incoming: dict[str, tuple[int, Incoming]] = {}
        self._callbacks: list[ChangeCallback] = []
        self._serial = 0
        self._followed: BatchRun | None = None
        self._unfollow: Callable[[], None] | None = None
        self.upload = ChunkedUpload(self, max_files=max_files, max_bytes=max_bytes)
        self.chooser = _disk_chooser(start_dir)
        self.chooser.register_callback(self._chosen_on_disk)
        self._list = FileListView(lambda entry: self.remove(entry.name))
        self.file_list = self._list.box
        self.summary = self._list.summary
        self.overall = self._list.overall
        self.clear_button = widgets.Button(
            description="Remove all", tooltip="Remove every file from the list", icon="times"
        ).add_class("bk-clear-files")
        self.clear_button.on_click(lambda _: self._ask_to_clear())
        self._confirm_slot = widgets.VBox([])
        self.widget = self._layout()
        self._draw()
        self._flusher = Flusher(self._draw, max_rate=max_rate)

    def _layout(self) -> widgets.VBox:
        """Sources (browser, disk) side by side, then the totals, the list and the actions."""
        box = widgets.VBox(
            [
                widgets.HTML(render.stylesheet()),
                _box([self.upload, self.chooser], "bk-upload-sources"),
                self.summary,
                self.overall,
                self.file_list,
                _box([self.clear_button, self._confirm_slot], "bk-upload-actions"),
            ],
            layout=widgets.Layout(width="100%"),
        )
        box.add_class("bk-upload-zone")
        return box

    # ------------------------------------------------------------ what it holds
    @property
    def entries(self) -> tuple[FileEntry, ...]:
        """Every file in the list, in the order chosen."""
        return tuple(self._entries.values())

    @property
    def documents(self) -> list[Document]:
        """The accepted files, in order (a browser file is its temporary copy on disk)."""
        return [
            e.document
            for e in self._entries.values()
            if e.state is EntryState.ACCEPTED and e.document is not None
        ]

    @property
    def rejections(self) -> list[FileRejected]:
        """Why each rejected file was turned down."""
        return [
            FileRejected(e.name, e.reason or "rejected")
            for e in self._entries.values()
            if e.state is EntryState.REJECTED
        ]

    @property
    def receiving(self) -> bool:
        """True while a browser file is still arriving."""
        return bool(self._incoming)

    def row(self, name: str) -> FileRowView:
        """The row showing the (last) file named ``name``."""
        for entry in reversed(self._entries.values()):
            if entry.name == name:
                return self._list.rows[entry.key]
        raise KeyError(name)

    def on_change(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call ``callback(zone)`` whenever a file is accepted, rejected or removed."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    @property
    def disabled(self) -> bool:
        return bool(self.upload.disabled)

    @disabled.setter
    def disabled(self, value: bool) -> None:
        """Refuse new files and removals (while a batch uses these files)."""
        self.upload.disabled = value
        self.clear_button.disabled = value
        self.chooser.disabled = value
        self._flusher.mark_dirty(urgent=True)  # the remove buttons follow

    # ------------------------------------------------------------ adding files
    def add_paths(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        """Add files from the kernel's disk, checked like browser files."""
        for path in paths:
            try:
                document = Document.from_path(path)
            except FileRejected as rejection:
                self._add(rejection.name, 0, Source.DISK, EntryState.REJECTED, rejection.reason)
                continue
            problem = self._admission_problem(document.name, document.size)
            if problem is None:
                problem = self._content_problem(document)
            state = EntryState.REJECTED if problem else EntryState.ACCEPTED
            self._add(
                document.name,
                document.size,
                Source.DISK,
                state,
                problem,
                document=None if problem else document,
                received=document.size,
                path=document.path,
            )
        self._changed()

    def _chosen_on_disk(self, chooser: FileChooser) -> None:
        if chooser.selected:
            self.add_paths([chooser.selected])

    def _admission_problem(self, name: str, size: int) -> str | None:
        """The checks that need no content, in the browser's order and words."""
        if problem := admission_problem(name, size, max_bytes=self.max_bytes):
            return problem
        live = [e for e in self._entries.values() if e.live]
        if any(e.name == name for e in live):
            return "has the same name as another file in this list"
        if len(live) >= self.max_files:
            return f"too many: at most {self.max_files} files"
        return None

    def _content_problem(self, document: Document) -> str | None:
        screening = check_documents([document], max_files=None, max_bytes=self.max_bytes)
        return screening.rejected[0].reason if screening.rejected else None

    def _add(
        self, name: str, size: int, source: Source, state: EntryState, reason: str | None, **kw: Any
    ) -> FileEntry:
        self._serial += 1
        entry = FileEntry(self._serial, name, size, source, state, reason=reason, **kw)
        self._entries[entry.key] = entry
        return entry

    def _replace(self, key: int, **changes: Any) -> None:
        if key in self._entries:
            self._entries[key] = dataclasses.replace(self._entries[key], **changes)

    # ------------------------------------------------------------ the browser's messages
    def upload_started(self, upload_id: str, name: str, size: int) -> None:
        name = base_name(name)
        if upload_id in self._incoming:
            raise FileRejected(name, "this upload was already started")
        problem = self._admission_problem(name, size)
        if problem is not None:
            self._add(name, size, Source.BROWSER, EntryState.REJECTED, problem)
            self._changed()
            raise FileRejected(name, problem)
        incoming = self._receiver.begin(name, size)
        entry = self._add(
            name, size, Source.BROWSER, EntryState.RECEIVING, None, path=incoming.path
        )
        self._incoming[upload_id] = (entry.key, incoming)
        self._flusher.mark_dirty(urgent=True)

    def chunk_received(self, upload_id: str, index: int, offset: int, data: memoryview) -> int:
        key, incoming = self._take(upload_id, keep=True)
        try:
            received = incoming.write(index, offset, data)
        except FileRejected as rejection:
            self._reject(upload_id, rejection.reason)
            raise
        self._replace(key, received=received)
        self._flusher.mark_dirty()
        return received

    def upload_ended(self, upload_id: str, chunks: int) -> str | None:
        key, incoming = self._take(upload_id, keep=True)
        try:
            if chunks != incoming.chunks:
                raise FileRejected(
                    incoming.name, f"arrived incomplete: {incoming.chunks} of {chunks} chunks"
                )
            path = incoming.finish()
        except FileRejected as rejection:
            self._reject(upload_id, rejection.reason)
            return rejection.reason
        del self._incoming[upload_id]
        document = Document.from_path(path, name=incoming.name)
        problem = self._content_problem(document)
        if problem is not None:
            self._receiver.delete(path)
            self._replace(key, state=EntryState.REJECTED, reason=problem, path=None)
        else:
            self._replace(key, state=EntryState.ACCEPTED, document=document)
        self._changed()
        return problem

    def refused_in_browser(self, name: str, size: int, reason: str) -> None:
        self._add(base_name(name), size, Source.BROWSER, EntryState.REJECTED, reason)
        self._changed()

    def upload_cancelled(self, upload_id: str, reason: str) -> None:
        if upload_id in self._incoming:
            self._reject(upload_id, f"the browser could not send it: {reason or 'cancelled'}")

    def _take(self, upload_id: str, *, keep: bool) -> tuple[int, Incoming]:
        found = self._incoming.get(upload_id) if keep else self._incoming.pop(upload_id, None)
        if found is None:
            raise FileRejected(upload_id, "no such upload here (it was removed or never started)")
        return found

    def _reject(self, upload_id: str, reason: str) -> None:
        key, incoming = self._take(upload_id, keep=False)
        incoming.discard()
        self._replace(key, state=EntryState.REJECTED, reason=reason, path=None)
        self._changed()

    # ------------------------------------------------------------ removing files
    def remove(self, name: str) -> bool:
        """Remove every file named ``name`` (a received copy is deleted); False if none was."""
        keys = [key for key, entry in self._entries.items() if entry.name == name]
        for key in keys:
            self._drop(key)
        if keys:
            self._changed()
        return bool(keys)

    def clear(self) -> None:
        """Remove every file and delete every received copy."""
        for key in list(self._entries):
            self._drop(key)
        self.upload.reset()
        self._changed()

    def _drop(self, key: int) -> None:
        for upload_id, (incoming_key, incoming) in list(self._incoming.items()):
            if incoming_key == key:
                incoming.discard()
                del self._incoming[upload_id]
        entry = self._entries.pop(key)
        if entry.source is Source.BROWSER:
            self._receiver.delete(entry.path)

    def _ask_to_clear(self) -> None:
        if not self._entries:
            return
        question = f"Remove all {len(self._entries)} files from the list?"
        ask(self._confirm_slot, confirm(question, self.clear, yes="Remove all"))

    # ------------------------------------------------------------ following a run
    def follow(self, run: BatchRun) -> None:
        """Show each file's kernel → server upload from ``run`` (matched by name), throttled."""
        if self._unfollow is not None:
            self._unfollow()
        self._followed = run
        self._unfollow = run.subscribe(lambda _: self._flusher.mark_dirty())
        self._flusher.mark_dirty(urgent=True)

    def close(self) -> None:
        """Stop following, delete every received file and close the widgets."""
        if self._unfollow is not None:
            self._unfollow()
        self._flusher.close()
        for key in list(self._entries):
            self._drop(key)
        self._receiver.close()
        self._list.close()
        self.widget.close()

    # ------------------------------------------------------------ drawing
    def _changed(self) -> None:
        self._flusher.mark_dirty(urgent=True)
        for callback in tuple(self._callbacks):
            try:
                callback(self)
            except Exception:
                logger.exception("an upload zone callback failed")

    def flush(self) -> bool:
        """Draw any change now, whatever the throttle says."""
        return self._flusher.flush()

    async def settled(self) -> None:
        """Return once every change so far has been drawn."""
        await self._flusher.settled()

    def _draw(self) -> None:
        entries = list(self._entries.values())
        set_changed(self.upload, taken=[e.name for e in entries if e.live])
        legs = server_legs(self._followed) if self._followed is not None else None
        self._list.draw(entries, legs, disabled=self.disabled)


def upload_zone(
    *, max_files: int = MAX_FILES, max_bytes: int = MAX_FILE_BYTES, start_dir: str | None = None
) -> UploadZone:
    """A drop zone, a file dialog and a disk chooser with the list of files chosen."""
    return UploadZone(max_files=max_files, max_bytes=max_bytes, start_dir=start_dir)
