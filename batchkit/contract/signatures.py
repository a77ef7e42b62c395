"""What a file's first bytes say it is: shared by the client's checks and the server's readers.

Both sides turn "this is not a Word document" into words a user can act on ("it is a PDF
document"), so they name formats from one table.
"""

from __future__ import annotations

from typing import Final

__all__ = ["KNOWN_FORMATS", "OLE2_SIGNATURE", "ZIP_SIGNATURES", "known_format"]

OLE2_SIGNATURE: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""Compound File Binary header: legacy .doc/.xls/.ppt, and password-protected .docx."""
ZIP_SIGNATURES: Final = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
"""Zip archives, of which a .docx is one."""

KNOWN_FORMATS: Final[tuple[tuple[bytes, str], ...]] = (
    (OLE2_SIGNATURE, "a legacy Office file (Word 97–2003, Excel or PowerPoint)"),
    *((signature, "a zip archive (such as a .docx)") for signature in ZIP_SIGNATURES),
    (b"%PDF-", "a PDF document"),
    (b"{\\rtf", "an RTF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF media file (such as WAV or WebP)"),
    (b"ID3", "an MP3 audio file"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "an executable program"),
    (b"MZ", "a Windows program"),
)
"""(first bytes, what a file starting with them is), most specific first."""


def known_format(head: bytes) -> str | None:
    """What a file starting with ``head`` is, from its signature; ``None`` if none matches."""
    for signature, description in KNOWN_FORMATS:
        if head.startswith(signature):
            return description
    return None
