"""Documents to upload, and the checks they pass before anything is sent.

A :class:`Document` is a file from the kernel's disk (:meth:`Document.from_path`) or the bytes of
a browser upload (:meth:`Document.from_bytes`). :func:`check_documents` screens a list of them and
returns a :class:`Screening`: the documents that may be sent and one
:class:`~batchkit.errors.FileRejected` for each that may not, with the reason in words. One bad
file never sinks the others.

Only a file's first bytes are read to judge its content; a ``.docx`` is opened with
:mod:`zipfile`, which seeks to the archive's directory instead of reading the whole file.
"""

from __future__ import annotations

import dataclasses
import io
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Final

from batchkit.contract.limits import ALLOWED_EXTENSIONS, MAX_FILE_BYTES, MAX_FILES
from batchkit.contract.signatures import OLE2_SIGNATURE, ZIP_SIGNATURES, known_format
from batchkit.errors import FileRejected

__all__ = [
    "Document",
    "DocumentKind",
    "Screening",
    "admission_problem",
    "base_name",
    "check_documents",
    "check_paths",
    "describe_size",
]

_WORD_BODY: Final = "word/document.xml"
_SNIFF_BYTES: Final = 8192
_NAME_MAX: Final = 255
_MIB: Final = 1024 * 1024
_TEXT_BOMS: Final = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# Control bytes that plain text legitimately holds: tab, newlines, form feed, escape, backspace.
_TEXT_CONTROLS: Final = frozenset(b"\t\n\r\f\x1b\x08")
# Signatures made of ordinary letters: a text may start with them, so for a .txt they only count
# when the rest of the head is not text either.
_WEAK_SIGNATURES: Final = (b"MZ", b"ID3", b"RIFF", b"GIF8", b"OggS", b"fLaC", b"\xff\xfb")
"""Signatures a text could start with: such a file is judged by whether it reads as text."""


class DocumentKind(StrEnum):
    """The document formats the Story API reads, named by their extension."""

    TXT = "txt"
    DOC = "doc"
    DOCX = "docx"

    @property
    def media_type(self) -> str:
        """The MIME type sent with the file in the multipart upload."""
        return _MEDIA_TYPES[self]


_MEDIA_TYPES: Final = {
    DocumentKind.TXT: "text/plain",
    DocumentKind.DOC: "application/msword",
    DocumentKind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@dataclass(frozen=True, slots=True)
class Document:
    """One file to upload: either a ``path`` on this machine or in-memory ``data``, never both.

    ``name`` is what the server is told (the original file name); ``size`` is in bytes.
    """

    name: str
    size: int
    path: Path | None = None
    data: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.path is None) == (self.data is None):
            raise ValueError("a Document has either a path or data, not both and not neither")

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, name: str | None = None) -> Document:
        """The file at ``path``; raises :class:`FileRejected` if it is missing or not a file."""
        resolved = Path(path).expanduser()
        shown = name if name is not None else resolved.name
        return cls(name=shown, size=_file_size(resolved, shown), path=resolved)

    @classmethod
    def from_bytes(cls, name: str, data: bytes | bytearray | memoryview) -> Document:
        """A file a browser uploaded; any folder part of ``name`` is dropped."""
        content = bytes(data)
        return cls(name=base_name(name), size=len(content), data=content)

    @property
    def extension(self) -> str:
        """The lower-case extension with its dot (``".docx"``), or ``""`` if there is none."""
        return os.path.splitext(self.name)[1].lower()

    @property
    def kind(self) -> DocumentKind | None:
        """The format the extension claims, or ``None`` for an extension the API refuses."""
        if self.extension not in ALLOWED_EXTENSIONS:
            return None
        return DocumentKind(self.extension[1:])

    @property
    def media_type(self) -> str:
        """The MIME type to send; ``application/octet-stream`` for an unknown kind."""
        kind = self.kind
        return kind.media_type if kind else "application/octet-stream"

    def open(self) -> BinaryIO:
        """A fresh binary stream over the content, positioned at its start; close it after use.

        A path-based document is streamed from disk, never read into memory whole.
        """
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None  # __post_init__ guarantees one of the two
        return self.path.open("rb")


@dataclass(frozen=True, slots=True)
class Screening:
    """The result of :func:`check_documents`: what may be sent and what may not, in input order."""

    accepted: tuple[Document, ...]
    rejected: tuple[FileRejected, ...]

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return not self.rejected

    def raise_for_rejected(self) -> None:
        """Raise the first rejection, if any; the rest stay readable in :attr:`rejected`."""
        if self.rejected:
            raise self.rejected[0]


def check_documents(
    documents: Iterable[Document],
    *,
    max_files: int | None = MAX_FILES,
    max_bytes: int = MAX_FILE_BYTES,
) -> Screening:
    """Screen documents before anything is sent.

    ``max_files`` is the number one request may carry (``None``: no limit, for a run that is
    later split into requests); ``max_bytes`` is the largest size accepted, inclusive (the
    production server's limit is one byte less than 10 MiB). Files past ``max_files`` are
    rejected, the first ones are kept.
    """
    accepted: list[Document] = []
    rejected: list[FileRejected] = []
    seen: set[str] = set()
    for document in documents:
        try:
            checked = _refreshed(document)
            _check_one(checked, max_bytes=max_bytes, seen=seen)
            if max_files is not None and len(accepted) >= max_files:
                raise FileRejected(
                    checked.name,
                    f"left out: at most {max_files} files can be uploaded at once",
                )
        except FileRejected as rejection:
            rejected.append(rejection)
            continue
        seen.add(checked.name)
        accepted.append(checked)
    return Screening(accepted=tuple(accepted), rejected=tuple(rejected))


def check_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    max_files: int | None = MAX_FILES,
    max_bytes: int = MAX_FILE_BYTES,
) -> Screening:
    """Like :func:`check_documents` for paths; a missing file is one more rejection."""
    documents: list[Document] = []
    missing: list[FileRejected] = []
    for path in paths:
        try:
            documents.append(Document.from_path(path))
        except FileRejected as rejection:
            missing.append(rejection)
    screening = check_documents(documents, max_files=max_files, max_bytes=max_bytes)
    return Screening(accepted=screening.accepted, rejected=(*missing, *screening.rejected))


def describe_size(size: int) -> str:
    """A size in the units a user reads: ``"12 bytes"``, ``"3.4 KiB"``, ``"10.0 MiB"``."""
    if size < 1024:
        return f"{size} byte" if size == 1 else f"{size} bytes"
    if size < _MIB:
        return f"{size / 1024:.1f} KiB"
    return f"{size / _MIB:.1f} MiB"


# ---------------------------------------------------------------- one document
def _file_size(path: Path, shown: str) -> int:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise FileRejected(shown, f"no such file: {path}") from None
    except OSError as error:
        raise FileRejected(shown, f"cannot be read: {error.strerror or error}") from None
    if path.is_dir():
        raise FileRejected(shown, "is a folder, not a file")
    return stat.st_size


def _refreshed(document: Document) -> Document:
    """The document with its size as the disk says now: the file may have changed."""
    if document.path is None:
        return document
    size = _file_size(document.path, document.name)
    return document if size == document.size else dataclasses.replace(document, size=size)


def base_name(name: str) -> str:
    """A file name without any folder part, as a browser may send it (``C:\\in\\a.txt``)."""
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip()


def admission_problem(name: str, size: int, *, max_bytes: int = MAX_FILE_BYTES) -> str | None:
    """What is wrong with a file judged by its name and size alone, in a user's words; None
    when nothing is. Its content is judged by :func:`check_documents`, which asks this first."""
    if problem := _name_problem(name):
        return problem
    extension = os.path.splitext(name)[1].lower()
    if extension not in ALLOWED_EXTENSIONS:
        return _extension_problem(extension)
    if size == 0:
        return "is empty (0 bytes)"
    if size > max_bytes:
        return _size_problem(size, max_bytes)
    return None


def _check_one(document: Document, *, max_bytes: int, seen: set[str]) -> None:
    name, kind = document.name, document.kind
    problem = admission_problem(name, document.size, max_bytes=max_bytes)
    if problem is None and name in seen:
        problem = "has the same name as another file in this list"
    if problem is None and kind is not None:  # a refused extension is an admission problem
        problem = _content_problem(document, kind)
    if problem is not None:
        raise FileRejected(name or "(no name)", problem)


def _name_problem(name: str) -> str | None:
    if not name:
        return "has no file name"
    if len(name) > _NAME_MAX:
        return f"has a name longer than {_NAME_MAX} characters"
    if any(ord(char) < 32 or char in "/\\" for char in name):
        return "has a name with characters a file name cannot hold"
    return None


def _extension_problem(extension: str) -> str:
    allowed = "only .txt, .doc and .docx files can be used"
    if not extension:
        return f"has no extension; {allowed}"
    return f"is a {extension} file; {allowed}"


def _size_problem(size: int, max_bytes: int) -> str:
    limit_bytes = max_bytes + 1
    if limit_bytes % _MIB == 0:
        limit = f"smaller than {limit_bytes // _MIB} MiB"
    else:
        limit = f"at most {describe_size(max_bytes)} ({max_bytes:,} bytes)"
    return f"is too large ({describe_size(size)}, {size:,} bytes): files must be {limit}"


# ---------------------------------------------------------------- content sniffing
def _content_problem(document: Document, kind: DocumentKind) -> str | None:
    try:
        with document.open() as stream:
            head = stream.read(_SNIFF_BYTES)
            if kind is DocumentKind.DOCX:
                return _docx_problem(stream, head)
            if kind is DocumentKind.DOC:
                return _doc_problem(stream, head)
            return _text_problem(head)
    except OSError as error:
        return f"cannot be read: {error.strerror or error}"


def _zip_members(stream: BinaryIO) -> list[str] | None:
    """The names in a zip archive, or ``None`` if its directory cannot be read."""
    try:
        with zipfile.ZipFile(stream) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, EOFError, ValueError):
        return None


def _docx_problem(stream: BinaryIO, head: bytes) -> str | None:
    if head.startswith(OLE2_SIGNATURE):
        return (
            "is not a .docx: it is a legacy Office file (a .doc renamed to .docx, or a "
            "password-protected document); save it again as a .docx without a password"
        )
    if not head.startswith(ZIP_SIGNATURES):
        return f"is not a Word .docx document: it is {_describe(head)}"
    members = _zip_members(stream)
    if members is None:
        return "is damaged: it starts like a .docx but its zip directory cannot be read"
    if _WORD_BODY in members:
        return None
    if any(member.startswith("xl/") for member in members):
        return "is an Excel workbook, not a Word .docx document"
    if any(member.startswith("ppt/") for member in members):
        return "is a PowerPoint presentation, not a Word .docx document"
    return f"is a zip archive, not a Word .docx document (it has no {_WORD_BODY})"


def _doc_problem(stream: BinaryIO, head: bytes) -> str | None:
    if head.startswith(OLE2_SIGNATURE):
        return None
    if head.startswith(ZIP_SIGNATURES) and _WORD_BODY in (_zip_members(stream) or []):
        return "is a .docx document with a .doc name; rename it to .docx"
    return f"is not a Word 97–2003 .doc document: it is {_describe(head)}"


def _text_problem(head: bytes) -> str | None:
    if head.startswith(_TEXT_BOMS):
        return None  # UTF-8, UTF-16 or UTF-32 with a byte-order mark: text by declaration
    strong_magic = known_format(head) is not None and not head.startswith(_WEAK_SIGNATURES)
    if strong_magic or not _looks_like_text(head):
        return f"is not plain text: it is {_describe(head)}"
    return None


def _describe(head: bytes) -> str:
    if found := known_format(head):
        return found
    return "plain text" if _looks_like_text(head) else "binary data"


def _looks_like_text(head: bytes) -> bool:
    """True for text in any common 8-bit or UTF-8 encoding, and for UTF-16 without a BOM."""
    if b"\x00" in head:
        return _looks_like_utf16(head)
    controls = sum(1 for byte in head if byte < 32 and byte not in _TEXT_CONTROLS)
    return controls <= len(head) // 100


def _looks_like_utf16(head: bytes) -> bool:
    """UTF-16 text of a Latin script has a zero in nearly every other byte, and only there."""
    even, odd = head[0::2], head[1::2]
    for zeros, other in ((even, odd), (odd, even)):
        if zeros.count(0) >= 0.9 * len(zeros) and other.count(0) == 0:
            return True
    return False
