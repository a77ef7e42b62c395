"""Chunks of browser uploads, written straight to temporary files on the kernel's disk.

A browser file arrives as numbered chunks; :class:`ChunkReceiver` appends each to a file in its
own temporary folder, checking that the chunks come in order and never exceed the size the
browser announced. The stored name is the receiver's serial number plus the (already checked)
extension: a name chosen by the browser never becomes a path. The folder is deleted by
:meth:`ChunkReceiver.close`, or when the receiver is garbage collected or the kernel exits.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from batchkit.contract.limits import ALLOWED_EXTENSIONS
from batchkit.errors import FileRejected

__all__ = ["ChunkReceiver", "Incoming"]


@dataclass(slots=True, eq=False)
class Incoming:
    """One file being received: its announced name and size, and the bytes written so far."""

    name: str
    size: int
    path: Path
    received: int = 0
    chunks: int = 0
    _stream: BinaryIO | None = field(default=None, repr=False)

    def write(self, index: int, offset: int, data: bytes | memoryview) -> int:
        """Append chunk ``index`` (which starts at byte ``offset``); returns the bytes so far."""
        if self._stream is None:
            raise FileRejected(self.name, "the upload was already finished or cancelled")
        if index != self.chunks or offset != self.received:
            raise FileRejected(
                self.name,
                f"the upload broke off: chunk {index} at byte {offset:,} came when chunk "
                f"{self.chunks} at byte {self.received:,} was expected",
            )
        if self.received + len(data) > self.size:
            raise FileRejected(
                self.name, f"sent more than the {self.size:,} bytes announced for it"
            )
        self._stream.write(data)
        self.received += len(data)
        self.chunks += 1
        return self.received

    def finish(self) -> Path:
        """Close the file; raises :class:`FileRejected` if bytes are missing."""
        self._close_stream()
        if self.received != self.size:
            raise FileRejected(
                self.name,
                f"arrived incomplete: {self.received:,} of {self.size:,} bytes",
            )
        return self.path

    def discard(self) -> None:
        """Close and delete the file."""
        self._close_stream()
        self.path.unlink(missing_ok=True)

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()


class ChunkReceiver:
    """Receives uploads into one temporary folder, deleted on :meth:`close`."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="batchkit-upload-"))
        self._serial = 0
        self._cleanup = weakref.finalize(
            self, shutil.rmtree, str(self.directory), ignore_errors=True
        )

    def begin(self, name: str, size: int) -> Incoming:
        """Open a new file for an upload of ``size`` bytes named ``name`` by the browser."""
        if self.closed:
            raise FileRejected(name, "the upload zone was closed")
        self._serial += 1
        extension = os.path.splitext(name)[1].lower()
        if extension not in ALLOWED_EXTENSIONS:
            extension = ".upload"
        path = self.directory / f"{self._serial:04d}{extension}"
        stream = path.open("xb")
        return Incoming(name=name, size=size, path=path, _stream=stream)

    def delete(self, path: Path | None) -> None:
        """Delete a received file, if it lives in this receiver's folder."""
        if path is not None and path.parent == self.directory:
            path.unlink(missing_ok=True)

    @property
    def closed(self) -> bool:
        return not self._cleanup.alive

    def close(self) -> None:
        """Delete the folder and everything received into it."""
        self._cleanup()
