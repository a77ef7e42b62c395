"""What a file's first bytes say it really is, whatever its name claims.

The text readers use this to turn "cannot parse" into a message a user can act on, such as
"it is a PDF document with a .txt name".
"""

from __future__ import annotations

from typing import Final

from batchkit.contract.signatures import known_format

__all__ = ["describe_content"]

_SNIFF_BYTES: Final = 4096


def describe_content(head: bytes) -> str | None:
    """Name the format of a file from its first bytes, or ``None`` when nothing is recognised.

    Plain text (UTF-8 without NUL bytes) and HTML are recognised too, so that a disguised text
    file can be named as such.
    """
    if described := known_format(head):
        return described
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
