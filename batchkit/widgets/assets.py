"""The browser halves of the widgets: their JavaScript and CSS, read once at import.

An anywidget's ``_esm`` is one module's text, so a helper shared by several widgets (``dom.js``)
is joined in front of each module that uses it rather than imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["asset"]

_HERE: Final = Path(__file__).parent


def asset(*parts: str | Path) -> str:
    """The text of ``parts`` joined in order; a name is a file beside this module."""
    return "\n".join((_HERE / part).read_text(encoding="utf-8") for part in parts)
