"""The files chosen in the upload zone, and the rules they follow.

:class:`ChosenFiles` keeps one :class:`~batchkit.widgets.file_entries.FileEntry` per file, in the
order chosen, and decides what may join the list (the checks that need no content, in the
browser's order and words, then the content itself), what removing a file means (a file of the
run shown is *withdrawn*: its row stays beside its results; its received copy goes), and which
files a run took (``mark_sent``). It draws nothing and holds no widget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from batchkit.errors import FileRejected
from batchkit.files import Document, admission_problem, check_documents
from batchkit.widgets.file_entries import EntryState, FileEntry, Source
from batchkit.widgets.receiver import ChunkReceiver

__all__ = ["ChosenFiles"]


class ChosenFiles:
    """The list's entries; browser files' copies live in ``receiver``'s folder."""

    def __init__(self, receiver: ChunkReceiver, *, max_files: int, max_bytes: int) -> None:
        self.receiver = receiver
        self.max_files = max_files
        self.max_bytes = max_bytes
        self._entries: dict[int, FileEntry] = {}
        self._serial = 0

    # ------------------------------------------------------------ reading
    @property
    def entries(self) -> tuple[FileEntry, ...]:
        return tuple(self._entries.values())

    def entry(self, key: int) -> FileEntry:
        return self._entries[key]

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def chosen_documents(self) -> list[tuple[int, Document]]:
        """``(entry key, document)`` of every accepted file still chosen, in order."""
        return [
            (e.key, e.document)
            for e in self._entries.values()
            if e.chosen and e.state is EntryState.ACCEPTED and e.document is not None
        ]

    def rejections(self) -> list[FileRejected]:
        return [
            FileRejected(e.name, e.reason or "rejected")
            for e in self._entries.values()
            if e.chosen and e.state is EntryState.REJECTED
        ]

    def live_names(self) -> list[str]:
        """Names that count against the limit (accepted or arriving, still chosen)."""
        return [e.name for e in self._entries.values() if e.live]

    def keys_named(self, name: str) -> list[int]:
        return [k for k, e in self._entries.items() if e.name == name and e.chosen]

    def any_chosen(self) -> bool:
        return any(e.chosen for e in self._entries.values())

    # ------------------------------------------------------------ checks
    def admission_problem(self, name: str, size: int) -> str | None:
        """The checks that need no content, in the browser's order and words."""
        if problem := admission_problem(name, size, max_bytes=self.max_bytes):
            return problem
        live = self.live_names()
        if name in live:
            return "has the same name as another file in this list"
        if len(live) >= self.max_files:
            return f"too many: at most {self.max_files} files"
        return None

    def content_problem(self, document: Document) -> str | None:
        screening = check_documents([document], max_files=None, max_bytes=self.max_bytes)
        return screening.rejected[0].reason if screening.rejected else None

    # ------------------------------------------------------------ changing
    def add(
        self, name: str, size: int, source: Source, state: EntryState, reason: str | None, **kw: Any
    ) -> FileEntry:
        self._serial += 1
        entry = FileEntry(self._serial, name, size, source, state, reason=reason, **kw)
        self._entries[entry.key] = entry
        return entry

    def replace(self, key: int, **changes: Any) -> None:
        if key in self._entries:
            self._entries[key] = dataclasses.replace(self._entries[key], **changes)

    def mark_sent(self, keys: Sequence[int]) -> None:
        """The entries ``keys`` are the files of the run shown; rows withdrawn from the
        previous run go."""
        sent = set(keys)
        for key in [k for k, e in self._entries.items() if e.withdrawn]:
            del self._entries[key]
        for key, entry in self._entries.items():
            if entry.sent != (key in sent):
                self._entries[key] = dataclasses.replace(entry, sent=key in sent)

    def drop(self, key: int, *, forget: bool = False) -> None:
        """Remove entry ``key`` (deleting a received copy); a sent one is withdrawn instead,
        unless ``forget``."""
        entry = self._entries[key]
        if entry.source is Source.BROWSER:
            self.receiver.delete(entry.path)
        if entry.sent and not forget:
            self._entries[key] = dataclasses.replace(
                entry, withdrawn=True, document=None, path=None
            )
        else:
            del self._entries[key]

    def reject_accepted(self, key: int, reason: str) -> bool:
        """Turn an accepted, unsent entry into a rejected one (its copy deleted)."""
        entry = self._entries.get(key)
        if entry is None or entry.state is not EntryState.ACCEPTED or entry.sent:
            return False
        self.receiver.delete(entry.path)
        self.replace(key, state=EntryState.REJECTED, reason=reason, document=None, path=None)
        return True
