"""Paragraph text of a ``.docx`` (Office Open XML word-processing) document.

Only the main document part is read: headers, footers, comments and footnotes are not part of the
story. The archive is untrusted, so each part is parsed as it unpacks, never held whole:

* defusedxml's parser refuses any DTD, entity declaration or external reference, whatever the
  part's encoding (a byte search for ``<!ENTITY`` misses a UTF-16 part);
* at most :data:`MAX_PART_BYTES` are unpacked (zip bombs), :data:`MAX_ELEMENTS` elements read and
  :data:`MAX_DEPTH` levels nested (XML floods);
* every element is dropped from the tree once it has ended, so memory follows the depth of the
  document and the paragraph being read, not its size.
"""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final
from xml.etree import ElementTree

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from batchkit.contract.signatures import OLE2_SIGNATURE, ZIP_SIGNATURES
from batchkit.errors import DocumentError
from batchkit.server.engines.signatures import describe_content

__all__ = ["MAX_DEPTH", "MAX_ELEMENTS", "MAX_PART_BYTES", "read_docx_text"]

MAX_PART_BYTES: Final = 64 * 1024 * 1024
"""Largest unpacked XML part read; a 10 MiB upload of real prose stays far below it."""
MAX_ELEMENTS: Final = 1_000_000
"""Elements of one part: Word writes a few per run of words, so this is a book of several
hundred thousand words; a flood of empty elements stops here after a few seconds of work."""
MAX_DEPTH: Final = 256
"""Nesting of one part: Word's tables in tables in text boxes stay under 40."""
_MAX_RELS_BYTES: Final = 1024 * 1024

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
            once unpacked, too many or too deeply nested elements, a DTD, or password-protected.
    """
    _check_signature(path)
    try:
        with zipfile.ZipFile(path) as archive:
            name = _main_part_name(archive)
            with archive.open(name) as part:
                return "\n".join(_paragraphs(_CappedPart(part, MAX_PART_BYTES)))
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise DocumentError(f"the .docx file is damaged: {error}") from error
    except (NotImplementedError, RuntimeError) as error:
        # zipfile's words for an unknown compression method or an encrypted member.
        raise DocumentError(f"the .docx file cannot be unpacked: {error}") from error


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
        with archive.open("_rels/.rels") as rels:
            for event, element in _elements(_CappedPart(rels, _MAX_RELS_BYTES)):
                if (
                    event == "end"
                    and element.tag == f"{_RELS_NS}Relationship"
                    and element.get("Type", "").endswith(_OFFICE_DOCUMENT_REL)
                ):
                    target = posixpath.normpath(element.get("Target", "").lstrip("/"))
                    break
    if target in names:
        return target
    if any(name.startswith("xl/") for name in names):
        raise DocumentError("the .docx file is an Excel workbook, not a Word document")
    if any(name.startswith("ppt/") for name in names):
        raise DocumentError("the .docx file is a PowerPoint presentation, not a Word document")
    raise DocumentError("the .docx file is a zip archive without a Word document inside")


class _CappedPart:
    """A zip member read for the parser, refused once it unpacks past ``limit`` bytes (the sizes
    in a zip's headers can lie)."""

    def __init__(self, member: IO[bytes], limit: int) -> None:
        self._member = member
        self._limit = limit
        self._read = 0

    def read(self, size: int = -1) -> bytes:
        data = self._member.read(size)
        self._read += len(data)
        if self._read > self._limit:
            raise DocumentError(
                f"the .docx file unpacks to more than {self._limit // (1024 * 1024)} MiB "
                "of XML; it is refused as a possible zip bomb"
            )
        return data


def _elements(source: _CappedPart) -> Iterator[tuple[str, ElementTree.Element]]:
    """``start`` and ``end`` events of a part, within the limits; an ended element is dropped
    from its parent as soon as the caller has seen it."""
    open_elements: list[ElementTree.Element] = []
    count = 0
    try:
        for event, element in iterparse(source, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                count += 1
                open_elements.append(element)
                _check_size(count, len(open_elements))
                yield event, element
                continue
            yield event, element
            open_elements.pop()
            if open_elements:
                open_elements[-1].remove(element)
    except DefusedXmlException as error:
        raise DocumentError(
            "the .docx file contains a DTD or an entity, which Word never writes; refused"
        ) from error
    except ElementTree.ParseError as error:
        raise DocumentError(f"the .docx file is damaged: its XML is malformed ({error})") from error


def _check_size(count: int, depth: int) -> None:
    if count > MAX_ELEMENTS:
        raise DocumentError(
            f"the .docx file has more than {MAX_ELEMENTS:,} XML elements in one part; "
            "it is refused as a possible XML flood"
        )
    if depth > MAX_DEPTH:
        raise DocumentError(
            f"the .docx file nests XML elements more than {MAX_DEPTH} deep; "
            "it is refused as a possible XML flood"
        )


def _paragraphs(source: _CappedPart) -> Iterator[str]:
    """Yield each ``w:p`` as text; alternate-content fallbacks are skipped (they repeat text)."""
    open_paragraphs: list[list[str]] = []
    fallback_depth = 0
    for event, element in _elements(source):
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
