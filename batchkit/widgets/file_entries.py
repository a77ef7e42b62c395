"""What the upload zone knows of each chosen file: one frozen :class:`FileEntry` per file.

An entry changes by being replaced (``dataclasses.replace``). ``sent`` marks the entries of the
run the page shows; an entry removed after it was sent is *withdrawn*: it is no longer chosen
(the next Start leaves it out, its received copy is deleted) but its row stays in the table
beside its results, as the run's record, until the next Start or Start over.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from batchkit.files import Document

__all__ = ["EntryState", "FileEntry", "Source"]


class EntryState(StrEnum):
    RECEIVING = "receiving"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Source(StrEnum):
    BROWSER = "browser"
    DISK = "disk"


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
    sent: bool = False
    """Part of the run the page shows (its row of that run is found by this entry's key)."""
    withdrawn: bool = False
    """Removed after it was sent: no longer chosen, still shown with its run's results."""

    @property
    def chosen(self) -> bool:
        """In the list for the next Start (not withdrawn)."""
        return not self.withdrawn

    @property
    def live(self) -> bool:
        """Counts against the limit: chosen, and accepted or still arriving."""
        return self.chosen and self.state is not EntryState.REJECTED

    @property
    def extension(self) -> str:
        return os.path.splitext(self.name)[1].lower()

    @property
    def kernel_fraction(self) -> float:
        """How much of the file has reached the kernel, 0.0–1.0."""
        if self.size == 0:
            return 1.0 if self.state is EntryState.ACCEPTED else 0.0
        return min(self.received / self.size, 1.0)
