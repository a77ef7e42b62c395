"""The plain text of an uploaded document: ``.txt`` in any common encoding, ``.docx`` and ``.doc``.

Every failure is a :class:`~batchkit.errors.DocumentError` whose message says what is wrong with
the file in a user's words (empty, binary, damaged, or another format under a borrowed name).
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Final

from charset_normalizer import from_bytes

from batchkit.errors import DocumentError
from batchkit.server.engines.docx_text import read_docx_text
from batchkit.server.engines.legacy_doc import read_doc_text
from batchkit.server.engines.signatures import describe_content

__all__ = ["decode_plain_text", "extract_text"]

_BOMS: Final = (
    # UTF-32 first: its little-endian mark begins with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_WESTERN_ENCODINGS: Final = ("cp1252", "latin_1", "iso8859_15")
"""Preferred when the detector finds them as plausible as its first choice: most of the
documents this server sees are Western European, and short texts often tie between code pages."""
_CHAOS_TIE: Final = 0.01
_MIN_PRINTABLE_RATIO: Final = 0.95
_TEXT_CONTROLS: Final = frozenset("\n\r\t\f\v")


def extract_text(path: Path) -> str:
    """Plain text of a ``.txt``, ``.doc`` or ``.docx`` file (suffix case-insensitive).

    Line breaks come back as ``\\n``; paragraphs of Word documents are separated by ``\\n``.

    Raises:
        DocumentError: the file is empty, has no readable text, is binary, is damaged, is not the
            format its extension claims, or has an unsupported extension.
    """
    suffix = path.suffix.lower()
    if suffix not in (".txt", ".doc", ".docx"):
        raise DocumentError(
            f"unsupported file type {path.suffix or '(no extension)'!r}: "
            "expected .txt, .doc or .docx"
        )
    try:
        size = path.stat().st_size
    except OSError as error:
        raise DocumentError(f"the file cannot be read: {error.strerror or error}") from error
    if size == 0:
        raise DocumentError("the file is empty (0 bytes)")
    if suffix == ".txt":
        text = decode_plain_text(_read_bytes(path))
    elif suffix == ".docx":
        text = read_docx_text(path)
    else:
        text = read_doc_text(path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DocumentError(f"the {suffix} file has no readable text (only blank space)")
    return text


def decode_plain_text(data: bytes) -> str:
    """Decode the bytes of a text file, detecting the encoding; reject binary data.

    Byte-order marks decide first, then strict UTF-8, then UTF-16 without a mark, then
    charset_normalizer's best guess (Western code pages win ties).
    """
    if not data:
        raise DocumentError("the file is empty (0 bytes)")
    text = _decode_with_bom(data)
    if text is None:
        text = _decode_without_bom(data)
    if text is None or not _looks_like_text(text):
        raise DocumentError(_binary_message(data))
    if text.lstrip().startswith("{\\rtf"):
        raise DocumentError("the .txt file is not plain text: it is an RTF document (disguised)")
    return text


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise DocumentError(f"the file cannot be read: {error.strerror or error}") from error


def _decode_with_bom(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as error:
                raise DocumentError(
                    f"the .txt file starts with a {encoding.upper()} byte-order mark "
                    f"but is not valid {encoding.upper()} text at byte {error.start}"
                ) from error
    return None


def _decode_without_bom(data: bytes) -> str | None:
    if b"\x00" in data:
        return _decode_utf16_without_bom(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    for match in matches:
        if match.encoding in _WESTERN_ENCODINGS and match.chaos <= best.chaos + _CHAOS_TIE:
            return str(match)
    return str(best)


def _decode_utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text of mostly Latin letters has its NUL bytes all on one side of each pair."""
    if len(data) % 2:
        return None
    even_nuls = data[0::2].count(0)
    odd_nuls = data[1::2].count(0)
    pairs = len(data) // 2
    if odd_nuls > 0.4 * pairs and even_nuls < 0.05 * pairs:
        encoding = "utf-16-le"
    elif even_nuls > 0.4 * pairs and odd_nuls < 0.05 * pairs:
        encoding = "utf-16-be"
    else:
        return None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _looks_like_text(text: str) -> bool:
    if "\x00" in text:
        return False
    sample = text[:100_000]
    printable = sum(1 for char in sample if char.isprintable() or char in _TEXT_CONTROLS)
    return printable >= _MIN_PRINTABLE_RATIO * len(sample)


def _binary_message(data: bytes) -> str:
    what = describe_content(data[:4096])
    if what is None or what == "plain text":
        return "the .txt file is binary data, not text"
    return f"the .txt file is not plain text: it is {what} (disguised)"
