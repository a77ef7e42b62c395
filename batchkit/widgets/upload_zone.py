"""``upload_zone()``: choose documents in the browser or on the kernel's disk, each one checked.

Browser files come through :class:`~batchkit.widgets.chunked_upload.ChunkedUpload` in chunks,
each appended to a temporary file (a :class:`~batchkit.widgets.receiver.ChunkReceiver`), and
when the last one is in, :func:`batchkit.files.check_documents` reads the file's content (a
renamed .doc, a binary .txt...). Files from the kernel's disk (ipyfilechooser, or
:meth:`UploadZone.add_paths`) pass the same checks and are used in place.

The zone holds the *entries* (what was chosen, and what the checks said); it draws no list of
its own: the page's one file table (:mod:`batchkit.widgets.batch_view`) shows the entries and,
once they run, their results. ``on_change`` hears additions, verdicts and removals; ``on_progress``
hears bytes arriving (many times a file: throttle what it draws).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence

import ipywidgets as widgets
from ipyfilechooser import FileChooser

from batchkit.contract.limits import ALLOWED_EXTENSIONS, MAX_FILE_BYTES, MAX_FILES
from batchkit.errors import FileRejected, InputError
from batchkit.files import Document, base_name
from batchkit.widgets.chosen_files import ChosenFiles
from batchkit.widgets.chunked_upload import ChunkedUpload
from batchkit.widgets.file_entries import EntryState, FileEntry, Source
from batchkit.widgets.notify import ask, close_tree, confirm
from batchkit.widgets.receiver import ChunkReceiver, Incoming
from batchkit.widgets.tasks import TaskKeeper
from batchkit.widgets.throttle import set_changed

__all__ = ["UploadZone", "upload_zone"]

logger = logging.getLogger("batchkit.widgets")
ChangeCallback = Callable[["UploadZone"], object]


def _disk_chooser(start_dir: str | None) -> FileChooser:
    chooser = FileChooser(
        start_dir or os.getcwd(),
        title="Or add a file from the kernel's disk:",
        select_desc="Browse the kernel's disk…",
        change_desc="Add another…",
        filter_pattern=[f"*{ext}" for ext in ALLOWED_EXTENSIONS],
        layout=widgets.Layout(width="auto", min_width="0", flex="1 1 18em"),
    )
    chooser.add_class("bk-disk-chooser")
    return chooser


class UploadZone:
    """Documents chosen for a batch: ``documents`` (accepted, in order) and ``rejections``."""

    def __init__(
        self,
        *,
        max_files: int = MAX_FILES,
        max_bytes: int = MAX_FILE_BYTES,
        start_dir: str | None = None,
        keeper: TaskKeeper | None = None,
    ) -> None:
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.keeper = keeper or TaskKeeper()
        self._receiver = ChunkReceiver()
        self._files = ChosenFiles(self._receiver, max_files=max_files, max_bytes=max_bytes)
        self._incoming: dict[str, tuple[int, Incoming]] = {}
        self._by_upload: dict[str, int] = {}
        self._callbacks: list[ChangeCallback] = []
        self._progress: list[ChangeCallback] = []
        self._locked = ""
        self.upload = ChunkedUpload(
            self, keeper=self.keeper, max_files=max_files, max_bytes=max_bytes
        )
        self.chooser = _disk_chooser(start_dir)
        self.chooser.register_callback(
            self.keeper.callback(self._chosen_on_disk, failure="could not add the file")
        )
        self.clear_button = widgets.Button(
            description="Remove all", tooltip="Remove every file from the list", icon="times"
        )
        self.clear_button.add_class("bk-clear-files")
        self.clear_button.on_click(
            self.keeper.callback(lambda _: self._ask_to_clear(), failure="could not clear")
        )
        self.confirm_slot = widgets.VBox([])
        self.confirm_slot.add_class("bk-confirm-slot")
        sources = widgets.Box(
            [self.upload, self.chooser],
            layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start", width="100%"),
        )
        sources.add_class("bk-upload-sources")
        self.widget = widgets.VBox([sources], layout=widgets.Layout(width="100%"))
        self.widget.add_class("bk-upload-zone")
        self._sync_browser()

    # ------------------------------------------------------------ what it holds
    @property
    def entries(self) -> tuple[FileEntry, ...]:
        """Every file in the list (withdrawn ones included), in the order chosen."""
        return self._files.entries

    def entry(self, key: int) -> FileEntry:
        return self._files.entry(key)

    @property
    def documents(self) -> list[Document]:
        """The accepted files still chosen, in order (a browser file is its copy on disk)."""
        return [document for _, document in self.chosen_documents()]

    def chosen_documents(self) -> list[tuple[int, Document]]:
        """``(entry key, document)`` of every accepted file still chosen, in order."""
        return self._files.chosen_documents()

    @property
    def rejections(self) -> list[FileRejected]:
        """Why each rejected file (still in the list) was turned down."""
        return self._files.rejections()

    @property
    def receiving(self) -> bool:
        """True while a browser file is still arriving."""
        return bool(self._incoming)

    def on_change(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call ``callback(zone)`` whenever a file is added, accepted, rejected or removed."""
        return _subscribe(self._callbacks, callback)

    def on_progress(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call ``callback(zone)`` whenever more of a browser file has arrived."""
        return _subscribe(self._progress, callback)

    # ------------------------------------------------------------ locking
    @property
    def disabled(self) -> bool:
        return bool(self._locked)

    @disabled.setter
    def disabled(self, value: bool) -> None:
        self._set_lock("files cannot be changed now" if value else "")

    @property
    def lock_reason(self) -> str:
        """Why files cannot be added or removed now ("" when they can)."""
        return self._locked

    def lock(self, reason: str) -> None:
        """Refuse new files and removals, saying ``reason`` (while a batch reads these files)."""
        self._set_lock(reason)

    def unlock(self) -> None:
        self._set_lock("")

    def _set_lock(self, reason: str) -> None:
        if reason == self._locked:
            return
        self._locked = reason
        set_changed(self.upload, disabled=bool(reason), disabled_reason=reason)
        set_changed(self.clear_button, disabled=bool(reason) or not self._files.any_chosen())
        self.chooser.disabled = bool(reason)
        self._changed()

    # ------------------------------------------------------------ adding files
    def add_paths(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        """Add files from the kernel's disk, checked like browser files."""
        self._refuse_if_locked()
        for path in paths:
            try:
                document = Document.from_path(path)
            except FileRejected as rejection:
                self._files.add(
                    rejection.name, 0, Source.DISK, EntryState.REJECTED, rejection.reason
                )
                continue
            problem = self._files.admission_problem(document.name, document.size)
            if problem is None:
                problem = self._files.content_problem(document)
            state = EntryState.REJECTED if problem else EntryState.ACCEPTED
            self._files.add(
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

    def _refuse_if_locked(self) -> None:
        if self._locked:
            raise InputError(f"the list cannot be changed now: {self._locked}")

    # ------------------------------------------------------------ the browser's messages
    def upload_started(self, upload_id: str, name: str, size: int) -> None:
        name = base_name(name)
        if upload_id in self._incoming or upload_id in self._by_upload:
            raise FileRejected(name, "this upload was already started")
        problem = f"was not added: {self._locked}" if self._locked else None
        problem = problem or self._files.admission_problem(name, size)
        if problem:
            self._files.add(name, size, Source.BROWSER, EntryState.REJECTED, problem)
            self._changed()
            raise FileRejected(name, problem)
        incoming = self._receiver.begin(name, size)
        entry = self._files.add(
            name, size, Source.BROWSER, EntryState.RECEIVING, None, path=incoming.path
        )
        self._incoming[upload_id] = (entry.key, incoming)
        self._by_upload[upload_id] = entry.key
        self._changed()

    def chunk_received(self, upload_id: str, index: int, offset: int, data: memoryview) -> int:
        key, incoming = self._take(upload_id, keep=True)
        try:
            received = incoming.write(index, offset, data)
        except FileRejected as rejection:
            self._reject(upload_id, rejection.reason)
            raise
        self._files.replace(key, received=received)
        for callback in tuple(self._progress):
            _call(callback, self)
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
        problem = self._files.content_problem(document)
        if problem is not None:
            self._receiver.delete(path)
            self._files.replace(key, state=EntryState.REJECTED, reason=problem, path=None)
        else:
            self._files.replace(key, state=EntryState.ACCEPTED, document=document)
        self._changed()
        return problem

    def refused_in_browser(self, name: str, size: int, reason: str) -> None:
        self._files.add(base_name(name), size, Source.BROWSER, EntryState.REJECTED, reason)
        self._changed()

    def upload_cancelled(self, upload_id: str, reason: str) -> None:
        """The browser stopped sending a file: drop it, whatever the kernel had made of it.

        A file the kernel had already accepted is rejected too (a busy kernel answers late; the
        browser, having waited too long, told the user it was not sent): both then agree.
        """
        words = f"the browser could not send it: {reason or 'cancelled'}"
        if upload_id in self._incoming:
            self._reject(upload_id, words)
            return
        key = self._by_upload.get(upload_id)
        # Removed already, rejected already, or part of a run: nothing to undo.
        if key is not None and self._files.reject_accepted(key, words):
            self._changed()

    def _take(self, upload_id: str, *, keep: bool) -> tuple[int, Incoming]:
        found = self._incoming.get(upload_id) if keep else self._incoming.pop(upload_id, None)
        if found is None:
            raise FileRejected(upload_id, "no such upload here (it was removed or never started)")
        return found

    def _reject(self, upload_id: str, reason: str) -> None:
        key, incoming = self._take(upload_id, keep=False)
        incoming.discard()
        self._files.replace(key, state=EntryState.REJECTED, reason=reason, path=None)
        self._changed()

    # ------------------------------------------------------------ runs
    def mark_sent(self, keys: Sequence[int]) -> None:
        """The entries ``keys`` are now the files of the run the page shows (others are not);
        rows withdrawn from the previous run go."""
        self._files.mark_sent(keys)
        self._changed()

    # ------------------------------------------------------------ removing files
    def remove_key(self, key: int) -> bool:
        """Remove the file of entry ``key`` from the list; False if it is not there."""
        self._refuse_if_locked()
        if key not in self._files or self._files.entry(key).withdrawn:
            return False
        self._drop(key)
        self._changed()
        return True

    def remove(self, name: str) -> bool:
        """Remove every file named ``name``; False if none was in the list."""
        self._refuse_if_locked()
        keys = self._files.keys_named(name)
        for key in keys:
            self._drop(key)
        if keys:
            self._changed()
        return bool(keys)

    def clear(self) -> None:
        """Remove every file (the files of the run shown stay listed, as its record)."""
        self._refuse_if_locked()
        for entry in self._files.entries:
            if entry.chosen:
                self._drop(entry.key)
        self.upload.reset()
        self._changed()

    def reset(self) -> None:
        """Forget every file, the run's record included (Start over)."""
        self._locked = ""
        for entry in self._files.entries:
            self._drop(entry.key, forget=True)
        self.upload.reset()
        set_changed(self.upload, disabled=False, disabled_reason="")
        self.chooser.disabled = False
        self._changed()

    def _drop(self, key: int, *, forget: bool = False) -> None:
        for upload_id, (incoming_key, incoming) in list(self._incoming.items()):
            if incoming_key == key:
                incoming.discard()
                del self._incoming[upload_id]
        self._files.drop(key, forget=forget)

    def _ask_to_clear(self) -> None:
        chosen = [e for e in self._files.entries if e.chosen]
        if not chosen:
            return
        question = f"Remove all {len(chosen)} files from the list?"
        ask(
            self.confirm_slot,
            confirm(
                question,
                self.clear,
                yes="Remove all",
                keeper=self.keeper,
                return_to=self.clear_button,
            ),
        )

    # ------------------------------------------------------------ the end
    def close(self) -> None:
        """Delete every received file and close the widgets."""
        for entry in self._files.entries:
            self._drop(entry.key, forget=True)
        self._receiver.close()
        close_tree(self.widget)
        close_tree(self.clear_button)
        close_tree(self.confirm_slot)

    # ------------------------------------------------------------ telling
    def _changed(self) -> None:
        self._sync_browser()
        for callback in tuple(self._callbacks):
            _call(callback, self)

    def _sync_browser(self) -> None:
        set_changed(self.upload, taken=self._files.live_names())
        chosen = self._files.any_chosen()
        set_changed(self.clear_button, disabled=bool(self._locked) or not chosen)
        display = None if chosen else "none"  # nothing to remove: no button to offer it
        if self.clear_button.layout.display != display:
            self.clear_button.layout.display = display


def _subscribe(callbacks: list[ChangeCallback], callback: ChangeCallback) -> Callable[[], None]:
    callbacks.append(callback)
    return lambda: callbacks.remove(callback) if callback in callbacks else None


def _call(callback: ChangeCallback, zone: UploadZone) -> None:
    try:
        callback(zone)
    except Exception:
        logger.exception("an upload zone callback failed")


def upload_zone(
    *,
    max_files: int = MAX_FILES,
    max_bytes: int = MAX_FILE_BYTES,
    start_dir: str | None = None,
    keeper: TaskKeeper | None = None,
) -> UploadZone:
    """A drop zone, a file dialog and a disk chooser, and the list of files chosen."""
    return UploadZone(max_files=max_files, max_bytes=max_bytes, start_dir=start_dir, keeper=keeper)
