"""Shared brushwork of the image styles: colours, gradients, land, skies and motif objects."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from batchkit.server.engines.image_scene import RGB, Motif, Point, Scene

__all__ = [
    "depth_colour",
    "draw_objects",
    "flat_sky",
    "gradient",
    "image_of",
    "land",
    "landscape",
    "mix",
]

Placement = tuple[float, float, float, float]
_Pixels = npt.NDArray[np.float32]


def mix(first: RGB, second: RGB, amount: float) -> RGB:
    """``first`` moved ``amount`` of the way towards ``second``."""
    return (
        round(first[0] + (second[0] - first[0]) * amount),
        round(first[1] + (second[1] - first[1]) * amount),
        round(first[2] + (second[2] - first[2]) * amount),
    )


def gradient(width: int, height: int, top: RGB, bottom: RGB) -> _Pixels:
    """Float pixels fading from ``top`` to ``bottom``, row by row."""
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    start = np.array(top, dtype=np.float32)
    end = np.array(bottom, dtype=np.float32)
    return np.broadcast_to(start + (end - start) * ramp, (height, width, 3)).copy()


def image_of(pixels: _Pixels) -> Image.Image:
    """An RGB image of float pixels, clipped to 0–255."""
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def land(ridge: Sequence[Point], height: int) -> list[Point]:
    """The polygon under a ridge line, down to the bottom edge."""
    return [*ridge, (ridge[-1][0], float(height)), (ridge[0][0], float(height))]


def draw_objects(draw: ImageDraw.ImageDraw, scene: Scene, fill: RGB, outline: int = 0) -> None:
    """The motif's objects: buildings with lit windows, trees, or sailing boats."""
    paint = {Motif.CITY: _building, Motif.FOREST: _tree}.get(scene.motif, _boat)
    for placement in scene.objects:
        paint(draw, scene, placement, fill, outline)


def _building(
    draw: ImageDraw.ImageDraw, scene: Scene, placement: Placement, fill: RGB, outline: int
) -> None:
    x, base, width, height = placement
    ink = scene.ink if outline else None
    draw.rectangle((x, base - height, x + width, base), fill=fill, outline=ink, width=outline)
    for row in range(int(base - height) + 8, int(base) - 8, 14):
        for column in range(int(x) + 6, int(x + width) - 6, 12):
            draw.rectangle((column, row, column + 5, row + 7), fill=scene.accent)


def _tree(
    draw: ImageDraw.ImageDraw, scene: Scene, placement: Placement, fill: RGB, outline: int
) -> None:
    x, base, width, height = placement
    ink = scene.ink if outline else None
    for tier in range(3):
        top = base - height * (1 - tier * 0.25)
        spread = width * (0.5 + tier * 0.25)
        skirt = top + height * 0.45
        triangle = [(x, top), (x - spread, skirt), (x + spread, skirt)]
        draw.polygon(triangle, fill=fill, outline=ink, width=outline)


def _boat(
    draw: ImageDraw.ImageDraw, scene: Scene, placement: Placement, fill: RGB, outline: int
) -> None:
    x, base, width, height = placement
    ink = scene.ink if outline else None
    sail = [(x, base - height), (x, base - 6), (x + width, base - 6)]
    hull = [(x - width * 0.3, base - 6), (x + width * 1.2, base - 6), (x + width, base), (x, base)]
    draw.polygon(sail, fill=scene.sky_bottom, outline=ink, width=outline)
    draw.polygon(hull, fill=fill, outline=ink, width=outline)


def landscape(
    draw: ImageDraw.ImageDraw,
    scene: Scene,
    colour_of: Callable[[int], RGB | None],
    object_fill: RGB,
    outline: int = 0,
) -> None:
    """Ridges far to near, with the motif's objects between the far ridge and the nearer ones.

    ``colour_of(depth)`` gives each ridge's fill, or ``None`` to leave that ridge out.
    """
    for depth, ridge in enumerate(scene.ridges):
        if depth == 1:
            draw_objects(draw, scene, object_fill, outline)
        colour = colour_of(depth)
        if colour is not None:
            draw.polygon(land(ridge, scene.height), fill=colour)
            if outline:
                draw.line(ridge, fill=scene.ink, width=outline)


def depth_colour(scene: Scene, depth: int) -> RGB:
    """Ground colour of the ridge at ``depth``: far ones paler, near ones richer."""
    return mix(scene.ground_far, scene.ground_near, depth / 2)


def flat_sky(scene: Scene, bands: int) -> Image.Image:
    """The sky gradient posterised into ``bands`` flat stripes (the canvas covers the land too)."""
    pixels = gradient(scene.width, scene.height, scene.sky_top, scene.sky_bottom)
    rows = (np.floor(np.linspace(0, bands - 0.001, scene.height)) / (bands - 1))[:, None, None]
    top = np.array(scene.sky_top, dtype=np.float32)
    bottom = np.array(scene.sky_bottom, dtype=np.float32)
    pixels[:] = top + (bottom - top) * rows.astype(np.float32)
    return image_of(pixels)
