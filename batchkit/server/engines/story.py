"""The story step: turning a document's text into the story the server stores.

A remote writer (a language model behind an API) can be plugged in as any :class:`StoryWriter`.
The local :func:`write_story` needs no model: it keeps the author's words and tidies them into
clean paragraphs, deterministically, so that tests and demos get stable results.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Protocol

from batchkit.errors import DocumentError

__all__ = ["StoryWriter", "clean_text", "split_paragraphs", "write_story"]

_LINE_BREAKS: Final = re.compile(r"\r\n|[\r\v\f\x85\u2028]")
_PARAGRAPH_SEPARATOR: Final = "\u2029"
_SPACES: Final = re.compile(r"[\t \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE: Final = re.compile(
    # C0/C1 controls other than the newline, soft hyphen, zero-width space, direction marks and
    # embeddings, word joiner and invisible operators, and the byte-order mark. ZWJ and ZWNJ
    # (U+200C/D) stay: they change how some scripts and emoji are written.
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)
_BLANK_LINE: Final = re.compile(r"\n[ ]*\n")


class StoryWriter(Protocol):
    """Writes a story from a document's text, optionally steered by the user's prompt."""

    def __call__(self, text: str, custom_prompt: str | None) -> str: ...


def write_story(text: str, custom_prompt: str | None = None) -> str:
    """The local writer: the text cleaned and laid out as paragraphs separated by a blank line.

    ``custom_prompt`` is accepted for the :class:`StoryWriter` shape; without a language model
    there is nothing it could steer, so the local writer leaves the words as the author wrote
    them. No title is added. The result is the same for the same input.

    Raises:
        DocumentError: the text has no words once cleaned.
    """
    paragraphs = split_paragraphs(clean_text(text))
    if not paragraphs:
        raise DocumentError("the document has no words to write a story from")
    return "\n\n".join(paragraphs)


def clean_text(text: str) -> str:
    """NFC-normalised text with ``\\n`` line breaks, single spaces, and no invisible controls.

    Tabs and exotic spaces become one space; a Unicode paragraph separator becomes a blank line.
    """
    text = unicodedata.normalize("NFC", text)
    text = _LINE_BREAKS.sub("\n", text).replace(_PARAGRAPH_SEPARATOR, "\n\n")
    text = _SPACES.sub(" ", text)
    text = _INVISIBLE.sub("", text)
    return "\n".join(line.strip() for line in text.split("\n"))


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of cleaned text, each on one line.

    Text that uses blank lines between paragraphs (typical of ``.txt`` files, often hard-wrapped)
    has its blocks joined into single lines; text without blank lines (Word documents give one
    paragraph per line) keeps each non-empty line as a paragraph.
    """
    if _BLANK_LINE.search(text.strip("\n")):
        blocks = _BLANK_LINE.split(text)
        paragraphs = (" ".join(block.split()) for block in blocks)
    else:
        paragraphs = (" ".join(line.split()) for line in text.split("\n"))
    return [paragraph for paragraph in paragraphs if paragraph]
