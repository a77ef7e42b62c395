"""The images step: one PNG per chunk of words, painted locally in the chosen style.

No model is involved: the chunk's words pick a landscape (mood, motif) and its hash seeds the
composition and palette (:mod:`~batchkit.server.engines.image_scene`); the style decides the
painting technique (:mod:`~batchkit.server.engines.image_styles`). A caption strip names the chunk.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from batchkit.contract import ImageStyle
from batchkit.errors import EngineError
from batchkit.server.engines.image_scene import compose_scene
from batchkit.server.engines.image_styles import PAINTERS

__all__ = ["CAPTION_HEIGHT", "render_image"]

CAPTION_HEIGHT: Final = 24
_CAPTION_FONT_SIZE: Final = 13
_MIN_SIZE: Final = 64
_MAX_SIZE: Final = 4096
_fonts = threading.local()
"""A font per thread: FreeType faces are not meant to be shared between threads."""


def render_image(
    text: str,
    *,
    style: ImageStyle,
    index: int,
    prompt: str | None,
    path: Path,
    size: tuple[int, int] = (640, 400),
) -> None:
    """Paint the chunk ``text`` in ``style`` and save it as a PNG at ``path``.

    The same text, prompt and size always give the same picture; the caption shows ``index``.

    Raises:
        EngineError: the size is out of range or the file cannot be written.
    """
    width, height = size
    if not (_MIN_SIZE <= width <= _MAX_SIZE and _MIN_SIZE <= height <= _MAX_SIZE):
        raise EngineError(f"image size must be between {_MIN_SIZE} and {_MAX_SIZE} pixels a side")
    scene = compose_scene(text, prompt, size)
    image = PAINTERS[ImageStyle(style)](scene)
    _draw_caption(image, f"chunk {index} · {ImageStyle(style).value} · {_first_words(text)}")
    try:
        image.save(path, format="PNG", compress_level=1)
    except OSError as error:
        raise EngineError(f"cannot write the image {path.name}: {error}") from error


def _first_words(text: str, count: int = 8) -> str:
    words = text.split()
    shown = " ".join(words[:count])
    # The bundled font covers Latin scripts; other characters would show as empty boxes.
    shown = "".join(char if ord(char) < 0x250 or char in "‘’“”–—…" else "?" for char in shown)
    return f"{shown}…" if len(words) > count else shown


def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont | None = getattr(_fonts, "font", None)
    if font is None:
        font = ImageFont.load_default(size=_CAPTION_FONT_SIZE)
        _fonts.font = font
    return font


def _draw_caption(image: Image.Image, caption: str) -> None:
    """Darken a strip along the bottom and write the caption on it, cut to fit."""
    width, height = image.size
    box = (0, height - CAPTION_HEIGHT, width, height)
    strip = image.crop(box)
    image.paste(Image.blend(strip, Image.new("RGB", strip.size), 0.7), box)
    draw = ImageDraw.Draw(image)
    font = _font()
    while len(caption) > 1 and draw.textlength(caption, font=font) > width - 16:
        caption = caption[:-2] + "…"
    draw.text(
        (8, height - CAPTION_HEIGHT / 2), caption, font=font, fill=(245, 245, 245), anchor="lm"
    )
