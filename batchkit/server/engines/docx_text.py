"""Paragraph text of a ``.docx`` (Office Open XML word-processing) document.

Only the main document part is read: headers, footers, comments and footnotes are not part of the
story. The archive is untrusted, so the part is read with a cap on its unpacked size (zip bombs) and
parsed only if it declares no DTD (entity expansion).
"""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Final
from xml.etree import ElementTree

from batchkit.contract.signatures import OLE2_SIGNATURE, ZIP_SIGNATURES
from batchkit.errors import DocumentError
from batchkit.server.engines.signatures import describe_content

__all__ = ["MAX_PART_BYTES", "read_docx_text"]

MAX_PART_BYTES: Final = 64 * 1024 * 1024
"""Largest unpacked XML part read; a 10 MiB upload of real prose stays far below it."""

_W: Final = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_FALLBACK: Final = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_OFFICE_DOCUMENT_REL: Final = "/officeDocument"
_RELS_NS: Final = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DEFAULT_MAIN_PART: Final = "word/document.xml"
_INLINE_TEXT: Final = {
    f"{_W}tab": "\t",
    f"{_W}br": "\n",
    f"{_W}cr": "\n",
    f"{_W}noBreakHyphen": "-",
}


def read_docx_text(path: Path) -> str:
    """Text of the document's paragraphs, one paragraph per line.

    Raises:
        DocumentError: the file is not a zip archive, not a Word document, damaged, too large
            once unpacked, or password-protected.
    """
    _check_signature(path)
    try:
        with zipfile.ZipFile(path) as archive:
            xml = _read_part(archive, _main_part_name(archive))
    except (zipfile.BadZipFile, zlib.error, EOFError, ElementTree.ParseError) as error:
        raise DocumentError(f"the .docx file is damaged: {error}") from error
    except (NotImplementedError, RuntimeError) as error:
        # zipfile's words for an unknown compression method or an encrypted member.
        raise DocumentError(f"the .docx file cannot be unpacked: {error}") from error
    return "\n".join(_paragraphs(xml))


def _check_signature(path: Path) -> None:
    with path.open("rb") as file:
        head = file.read(4096)
    if head.startswith(ZIP_SIGNATURES):
        return
    if head.startswith(OLE2_SIGNATURE):
        raise DocumentError(
            "the .docx file is password-protected or is a legacy Word (.doc) file renamed to "
            ".docx; save it again as an unprotected .docx"
        )
    what = describe_content(head)
    if what is None:
        raise DocumentError("the .docx file is not a Word document: it is not a zip archive")
    raise DocumentError(f"the .docx file is not a Word document: it is {what} (disguised)")


def _main_part_name(archive: zipfile.ZipFile) -> str:
    """The part ``_rels/.rels`` names as the office document, falling back to the usual name."""
    names = set(archive.namelist())
    target = _DEFAULT_MAIN_PART
    if "_rels/.rels" in names:
        rels_xml = _safe_xml(_read_part(archive, "_rels/.rels"))
        rels = ElementTree.fromstring(rels_xml)  # noqa: S314 - _safe_xml refused any DTD
        for rel in rels.iter(f"{_RELS_NS}Relationship"):
            if rel.get("Type", "").endswith(_OFFICE_DOCUMENT_REL):
                target = posixpath.normpath(rel.get("Target", "").lstrip("/"))
                break
    if target in names:
        return target
    if any(name.startswith("xl/") for name in names):
        raise DocumentError("the .docx file is an Excel workbook, not a Word document")
    if any(name.startswith("ppt/") for name in names):
        raise DocumentError("the .docx file is a PowerPoint presentation, not a Word document")
    raise DocumentError("the .docx file is a zip archive without a Word document inside")


def _read_part(archive: zipfile.ZipFile, name: str) -> bytes:
    """Read one part, stopping as soon as it unpacks past the cap (sizes in headers can lie)."""
    buffer = io.BytesIO()
    with archive.open(name) as part:
        while chunk := part.read(1024 * 1024):
            buffer.write(chunk)
            if buffer.tell() > MAX_PART_BYTES:
                raise DocumentError(
                    f"the .docx file unpacks to more than {MAX_PART_BYTES // (1024 * 1024)} MiB "
                    "of XML; it is refused as a possible zip bomb"
                )
    return buffer.getvalue()


def _safe_xml(xml: bytes) -> bytes:
    """Refuse any DTD: Office never writes one, and without one there are no entities to expand.

    The standard library's expat parser resolves no external entities, so with internal ones
    ruled out here it is as safe as defusedxml for these parts, without another dependency.
    """
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise DocumentError("the .docx file contains a DTD, which Word never writes; refused")
    return xml


def _paragraphs(xml: bytes) -> Iterator[str]:
    """Yield each ``w:p`` as text; alternate-content fallbacks are skipped (they repeat text)."""
    open_paragraphs: list[list[str]] = []
    fallback_depth = 0
    try:
        events = ElementTree.iterparse(  # noqa: S314 - _safe_xml refused any DTD
            io.BytesIO(_safe_xml(xml)), events=("start", "end")
        )
        for event, element in events:
            tag = element.tag
            if tag == _FALLBACK:
                fallback_depth += 1 if event == "start" else -1
            elif event == "start":
                if tag == f"{_W}p" and not fallback_depth:
                    open_paragraphs.append([])
            elif fallback_depth or not open_paragraphs:
                continue
            elif tag == f"{_W}t":
                open_paragraphs[-1].append(element.text or "")
            elif tag in _INLINE_TEXT:
                open_paragraphs[-1].append(_INLINE_TEXT[tag])
            elif tag == f"{_W}p":
                yield "".join(open_paragraphs.pop())
                element.clear()
    except ElementTree.ParseError as error:
        raise DocumentError(f"the .docx file is damaged: its XML is malformed ({error})") from error
