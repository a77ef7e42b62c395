"""What a file's first bytes say it is: the one table of file signatures.

The client's checks and the server's readers turn "this is not a Word document" into words a
user can act on ("it is a PDF document"); the workbench and the analysis tell a picture or a
clip's format from its bytes (a URL's suffix can lie). All of them read this table.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "KNOWN_FORMATS",
    "OLE2_SIGNATURE",
    "ZIP_SIGNATURES",
    "known_format",
    "media_format",
]

OLE2_SIGNATURE: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""Compound File Binary header: legacy .doc/.xls/.ppt, and password-protected .docx."""
ZIP_SIGNATURES: Final = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
"""Zip archives, of which a .docx is one."""

KNOWN_FORMATS: Final[tuple[tuple[bytes, str, str], ...]] = (
    (OLE2_SIGNATURE, "ole2", "a legacy Office file (Word 97–2003, Excel or PowerPoint)"),
    *((signature, "zip", "a zip archive (such as a .docx)") for signature in ZIP_SIGNATURES),
    (b"%PDF-", "pdf", "a PDF document"),
    (b"{\\rtf", "rtf", "an RTF document"),
    (b"\x89PNG\r\n\x1a\n", "png", "a PNG image"),
    (b"\xff\xd8\xff", "jpeg", "a JPEG image"),
    (b"GIF8", "gif", "a GIF image"),
    (b"RIFF", "riff", "a RIFF media file (such as WAV or WebP)"),
    (b"ID3", "mp3", "an MP3 audio file"),
    (b"\xff\xfb", "mp3", "an MP3 audio file"),
    (b"OggS", "ogg", "an Ogg media file"),
    (b"fLaC", "flac", "a FLAC audio file"),
    (b"\x1f\x8b", "gzip", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "rar", "a RAR archive"),
    (b"\x7fELF", "elf", "an executable program"),
    (b"MZ", "exe", "a Windows program"),
)
"""(first bytes, short name, what a file starting with them is, in words), most specific first."""

_RIFF_KINDS: Final = {b"WAVE": "wav", b"WEBP": "webp"}


def known_format(head: bytes) -> str | None:
    """What a file starting with ``head`` is, in words, from its signature; ``None`` if none
    matches."""
    for signature, _, description in KNOWN_FORMATS:
        if head.startswith(signature):
            return description
    return None


def media_format(data: bytes, url: str = "") -> str:
    """The short name of media ``data``'s format (``png``, ``wav``...) by its first bytes, else
    by ``url``'s suffix; ``""`` when neither says."""
    if data[:4] == b"RIFF":
        return _RIFF_KINDS.get(data[8:12], "riff")
    for signature, name, _ in KNOWN_FORMATS:
        if data.startswith(signature):
            return name
    suffix = url.rsplit("?", 1)[0].rsplit("/", 1)[-1]
    suffix = suffix.rsplit(".", 1)[-1].lower() if "." in suffix else ""
    return "jpeg" if suffix == "jpg" else suffix
