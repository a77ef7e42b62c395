"""Files streamed into a multipart upload, counting the bytes as they go.

httpx reads a file object in 64 KiB chunks while it writes the request, so memory does not grow
with the file's size. :class:`ProgressReader` sits between httpx and the file: it reports each
chunk to the caller, and it turns a file that changes under the upload into a clear
:class:`~batchkit.errors.FileRejected` instead of a broken request.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import BinaryIO, TypeVar

from batchkit.errors import FileRejected
from batchkit.files import Document

__all__ = ["UPLOAD_FIELD", "ProgressCallback", "ProgressReader", "open_upload_fields"]

logger = logging.getLogger("batchkit.client")

ProgressCallback = Callable[[int, int, int], None]
"""``on_progress(index, sent, total)``: file ``index`` (0-based) has had ``sent`` of ``total``
bytes read into the request."""
UPLOAD_FIELD = "files"
_T = TypeVar("_T")
UploadField = tuple[str, tuple[str, "ProgressReader", str]]


class ProgressReader:
    """A read-only view of one document's bytes that counts what is read.

    Exactly ``total`` bytes are served (the size the request declared); ``seek`` and ``tell``
    work on that view, which is how httpx measures the length and rewinds.
    """

    def __init__(
        self, document: Document, index: int, on_progress: ProgressCallback | None
    ) -> None:
        self.name = document.name
        self._document = document
        self._index = index
        self._total = document.size
        self._on_progress = on_progress
        self._position = 0
        self._raw: BinaryIO = self._guard(document.open)

    def read(self, size: int = -1) -> bytes:
        remaining = self._total - self._position
        if remaining <= 0:
            return b""
        wanted = remaining if size is None or size < 0 else min(size, remaining)
        chunk = self._guard(lambda: self._raw.read(wanted))
        if not chunk:
            raise FileRejected(self.name, "became shorter while it was being uploaded")
        self._position += len(chunk)
        if self._position == self._total and self._guard(lambda: self._raw.read(1)):
            raise FileRejected(self.name, "grew while it was being uploaded")
        self._report()
        return chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._total}[whence]
        target = min(max(0, base + offset), self._total)
        self._guard(lambda: self._raw.seek(target))
        self._position = target
        return target

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        self._raw.close()

    def _report(self) -> None:
        if self._on_progress is None:
            return
        try:
            self._on_progress(self._index, self._position, self._total)
        except Exception:
            # A broken progress display must not abort the upload: report it once, go on.
            logger.warning("upload progress callback failed; it is not called again", exc_info=True)
            self._on_progress = None

    def _guard(self, operation: Callable[[], _T]) -> _T:
        try:
            return operation()
        except OSError as error:
            reason = error.strerror or str(error)
            raise FileRejected(self.name, f"could not be read for the upload: {reason}") from None


def open_upload_fields(
    documents: Sequence[Document], on_progress: ProgressCallback | None, stack: ExitStack
) -> list[UploadField]:
    """The ``files`` fields of one upload request; ``stack`` closes the files afterwards."""
    fields: list[UploadField] = []
    for index, document in enumerate(documents):
        reader = ProgressReader(document, index, on_progress)
        stack.callback(reader.close)
        fields.append((UPLOAD_FIELD, (document.name, reader, document.media_type)))
    return fields
