"""Four short original stories to try batchkit with, one per supported format and encoding.

They live in ``documents/`` (so ``batchkit run batchkit/samples/documents/*`` picks only them):

- ``lighthouse.txt``: UTF-8 text;
- ``market_day.docx``: a Word document (Office Open XML);
- ``the_clockmaker.doc``: a legacy Word 97–2003 binary document;
- ``rain_song.txt``: Windows-1252 text with accented letters and typographic quotes.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["sample_paths"]

_SAMPLE_NAMES = ("lighthouse.txt", "market_day.docx", "rain_song.txt", "the_clockmaker.doc")


def sample_paths() -> list[Path]:
    """Paths of the sample documents shipped with batchkit, sorted by name."""
    folder = Path(__file__).parent / "documents"
    return sorted(folder / name for name in _SAMPLE_NAMES)
