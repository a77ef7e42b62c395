"""What a file's first bytes say it really is, whatever its name claims.

The text readers use this to turn "cannot parse" into a message a user can act on, such as
"it is a PDF document with a .txt name".
"""

from __future__ import annotations

from typing import Final

__all__ = ["OLE2_SIGNATURE", "ZIP_SIGNATURES", "describe_content"]

OLE2_SIGNATURE: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""Compound File Binary header: legacy .doc/.xls/.ppt, and password-protected .docx."""
ZIP_SIGNATURES: Final = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

_MAGIC: Final[tuple[tuple[bytes, str], ...]] = (
    (OLE2_SIGNATURE, "a legacy Office file (OLE2 compound document)"),
    *((signature, "a zip archive (such as a .docx)") for signature in ZIP_SIGNATURES),
    (b"%PDF-", "a PDF document"),
    (b"{\\rtf", "an RTF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"RIFF", "a RIFF media file (such as WAV or WebP)"),
    (b"ID3", "an MP3 audio file"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "an executable program"),
    (b"MZ", "a Windows program"),
)
_SNIFF_BYTES: Final = 4096


def describe_content(head: bytes) -> str | None:
    """Name the format of a file from its first bytes, or ``None`` when nothing is recognised.

    Plain text (UTF-8 without NUL bytes) and HTML are recognised too, so that a disguised text
    file can be named as such.
    """
    for magic, description in _MAGIC:
        if head.startswith(magic):
            return description
    sample = head[:_SNIFF_BYTES]
    if b"\x00" in sample:
        return None
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the sample's end is still text.
        if error.start < len(sample) - 3:
            return None
        text = sample[: error.start].decode("utf-8")
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if lowered.startswith(("<!doctype html", "<html")):
        return "an HTML page"
    if lowered.startswith("<?xml"):
        return "an XML file"
    return "plain text"
