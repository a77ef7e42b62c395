"""Words and chunks of words: the unit of work of the images and audio steps."""

from __future__ import annotations

import itertools
import re
from typing import Final

__all__ = ["count_words_up_to", "split_into_chunks", "word_count"]

_WORD: Final = re.compile(r"\S+")


def word_count(text: str) -> int:
    """Number of whitespace-separated words in ``text``."""
    return len(text.split())


def count_words_up_to(text: str, most: int) -> int:
    """Words in ``text``, counted no further than ``most + 1``, without a list of them all (a
    document that expands to millions of words is refused without costing their memory)."""
    return sum(1 for _ in itertools.islice(_WORD.finditer(text), most + 1))


def split_into_chunks(text: str, words_per_chunk: int) -> list[str]:
    """Consecutive runs of ``words_per_chunk`` words, joined by single spaces.

    The last chunk holds the remainder and may be shorter. Text with at least one word always
    gives at least one chunk; text without words gives none.

    Raises:
        ValueError: ``words_per_chunk`` is less than 1.
    """
    if words_per_chunk < 1:
        raise ValueError(f"words_per_chunk must be at least 1, got {words_per_chunk}")
    words = text.split()
    return [
        " ".join(words[start : start + words_per_chunk])
        for start in range(0, len(words), words_per_chunk)
    ]
