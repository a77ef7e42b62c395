"""Six ways to paint a :class:`~batchkit.server.engines.image_scene.Scene`, one per image style.

Each style uses its own technique, so the styles differ in measurable ways and not just in colour:

- realistic: smooth gradients, a glowing sun, hazy distance, a soft finish;
- anime: flat cel-shaded bands and fills, every shape outlined in ink;
- comic: halftone dots, thick ink lines, split into panels with a speech balloon;
- watercolor: translucent blurred washes multiplied onto grainy paper;
- oil-painting: thousands of short thick strokes with an embossed impasto relief;
- digital-art: neon wireframes and a perspective grid glowing on a dark ground.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from functools import partial
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter

from batchkit.contract import ImageStyle
from batchkit.server.engines.image_drawing import (
    depth_colour,
    flat_sky,
    gradient,
    image_of,
    land,
    landscape,
    mix,
)
from batchkit.server.engines.image_scene import RGB, Motif, Point, Scene

__all__ = ["PAINTERS"]


# ---------------------------------------------------------------- realistic
def paint_realistic(scene: Scene) -> Image.Image:
    width, height = scene.width, scene.height
    pixels = gradient(width, height, scene.sky_top, scene.sky_bottom)
    rows, columns = np.ogrid[0:height, 0:width]
    sun_x, sun_y, radius = scene.sun
    distance = np.hypot(columns - sun_x, rows - sun_y) / radius
    glow = (np.clip(1.0 - distance / 4.0, 0.0, 1.0) ** 2)[..., None]
    pixels += glow * (np.array((255, 240, 200), dtype=np.float32) - pixels)
    image = image_of(pixels)
    draw = ImageDraw.Draw(image)
    if scene.motif is Motif.SEA:
        water = gradient(width, height - int(scene.horizon), scene.sky_bottom, scene.ground_near)
        image.paste(image_of(water * 0.85), (0, int(scene.horizon)))
        draw.rectangle(
            (sun_x - radius * 0.6, scene.horizon, sun_x + radius * 0.6, height),
            fill=mix(scene.sky_bottom, (255, 240, 200), 0.5),
        )

    def hazy(depth: int) -> RGB | None:
        if scene.motif is Motif.SEA and depth == 1:
            return None  # open water between the far shore and the near one
        return mix(depth_colour(scene, depth), scene.sky_bottom, 0.55 - 0.25 * depth)

    landscape(draw, scene, hazy, mix(scene.ink, scene.ground_near, 0.35))
    shade = image_of(gradient(width, height, (255, 255, 255), (150, 150, 150)))
    return ImageChops.multiply(image, shade).filter(ImageFilter.GaussianBlur(1.2))


# ---------------------------------------------------------------- anime
def _cloud(draw: ImageDraw.ImageDraw, rng: random.Random, scene: Scene) -> None:
    """A flat white cloud of overlapping puffs with one ink outline around the whole."""
    cx, cy = rng.uniform(0, scene.width), rng.uniform(20, scene.horizon * 0.6)
    puffs = [
        (cx + rng.uniform(-60, 60), cy + rng.uniform(-12, 12), rng.uniform(18, 34))
        for _ in range(4)
    ]
    for grow, fill in ((3, scene.ink), (0, (252, 252, 255))):
        for x, y, r in puffs:
            draw.ellipse((x - r - grow, y - r - grow, x + r + grow, y + r + grow), fill=fill)


def paint_anime(scene: Scene) -> Image.Image:
    image = flat_sky(scene, 4)
    draw = ImageDraw.Draw(image)
    sun_x, sun_y, radius = scene.sun
    sun_box = (sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius)
    draw.ellipse(sun_box, fill=scene.accent, outline=scene.ink, width=3)
    rng = random.Random(scene.seed)
    for _ in range(3):
        _cloud(draw, rng, scene)

    def cel_shaded(depth: int) -> RGB:
        # Two flat tones per ridge: the shadow band first; _landscape then lays the lit top.
        shadow = [(x, y + 22 + 10 * depth) for x, y in scene.ridges[depth]]
        lit = depth_colour(scene, depth)
        draw.polygon(land(scene.ridges[depth], scene.height), fill=mix(lit, scene.ink, 0.3))
        draw.polygon(land(shadow, scene.height), fill=mix(lit, scene.ink, 0.3))
        return lit

    landscape(draw, scene, cel_shaded, mix(scene.ground_near, scene.accent, 0.3), outline=3)
    return image


# ---------------------------------------------------------------- comic
def _halftone(image: Image.Image, cell: int, ink: RGB) -> Image.Image:
    """Shadows become ink dots over the flat colours; light areas stay clean."""
    width, height = image.size
    small = (width // cell + 1, height // cell + 1)
    luminance = image.convert("L").resize(small, Image.Resampling.BOX)
    cells = np.asarray(luminance, dtype=np.float32) / 255.0
    rows, columns = np.ogrid[0:height, 0:width]
    darkness = np.clip((0.8 - cells[rows // cell, columns // cell]) / 0.8, 0.0, 1.0)
    radius = cell * 0.45 * np.sqrt(darkness)
    offset_y = (rows % cell) - cell / 2 + 0.5
    offset_x = (columns % cell) - cell / 2 + 0.5
    dots = (offset_x**2 + offset_y**2) < radius**2
    paper = np.asarray(image, dtype=np.float32) * 0.7 + 255 * 0.3
    paper[dots] = ink
    return image_of(paper)


def _panels(draw: ImageDraw.ImageDraw, scene: Scene) -> int:
    """Split the page into two framed panels with a white gutter; return the gutter's x."""
    split = int(scene.width * (0.4 + (scene.seed % 20) / 100))
    draw.rectangle((split - 6, 0, split + 6, scene.height), fill=(255, 255, 255))
    for box in (
        (0, 0, split - 6, scene.height - 1),
        (split + 6, 0, scene.width - 1, scene.height - 1),
    ):
        draw.rectangle(box, outline=(0, 0, 0), width=6)
    return split


def _speech_balloon(draw: ImageDraw.ImageDraw, left: float, scene: Scene) -> None:
    box = (left, 18, left + scene.width * 0.3, 18 + scene.height * 0.18)
    tail = [(box[0] + 30, box[3] - 8), (box[0] + 20, box[3] + 26), (box[0] + 60, box[3] - 8)]
    draw.polygon(tail, fill=(255, 255, 255), outline=(0, 0, 0), width=4)
    draw.ellipse(box, fill=(255, 255, 255), outline=(0, 0, 0), width=4)
    centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    for dot in (-1, 0, 1):
        x = centre_x + dot * 18
        draw.ellipse((x - 4, centre_y - 4, x + 4, centre_y + 4), fill=(0, 0, 0))


def paint_comic(scene: Scene) -> Image.Image:
    flat = ImageEnhance.Color(flat_sky(scene, 2)).enhance(1.8)
    landscape(ImageDraw.Draw(flat), scene, partial(depth_colour, scene), scene.ground_near)
    flat = ImageEnhance.Brightness(ImageEnhance.Color(flat).enhance(1.5)).enhance(1.3)
    image = _halftone(flat, 6, (20, 20, 30))
    draw = ImageDraw.Draw(image)
    for ridge in scene.ridges:
        draw.line(ridge, fill=(0, 0, 0), width=5)
    sun_x, sun_y, radius = scene.sun
    sun_box = (sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius)
    draw.ellipse(sun_box, fill=scene.accent, outline=(0, 0, 0), width=5)
    _speech_balloon(draw, _panels(draw, scene) + 24, scene)
    return image


# ---------------------------------------------------------------- watercolor
def _blob(rng: random.Random, centre: Point, radius: float, scale: float) -> list[Point]:
    cx, cy = centre
    steps = 14
    return [
        (
            (cx + math.cos(step * math.tau / steps) * radius * rng.uniform(0.7, 1.3)) * scale,
            (cy + math.sin(step * math.tau / steps) * radius * rng.uniform(0.5, 1.0)) * scale,
        )
        for step in range(steps)
    ]


def paint_watercolor(scene: Scene) -> Image.Image:
    scale = 0.5
    small = (int(scene.width * scale), int(scene.height * scale))
    wash = Image.new("RGBA", small, (255, 255, 255, 255))
    rng = random.Random(scene.seed)
    regions: list[tuple[RGB, float, float, float]] = [(scene.sky_top, scene.height * 0.15, 0, 170)]
    regions += [(scene.sky_bottom, scene.horizon * 0.7, 0, 140)]
    regions += [(scene.accent, scene.sun[1], scene.sun[0], scene.sun[2] * 1.6)]
    for depth, ridge in enumerate(scene.ridges):
        colour = mix(scene.ground_far, scene.ground_near, depth / 2)
        regions += [(colour, sum(y for _, y in ridge) / len(ridge) + 40, -1, 120)]
    for colour, centre_y, centre_x, radius in regions:
        for _ in range(5):
            layer = Image.new("RGBA", small, (0, 0, 0, 0))
            x = centre_x if centre_x >= 0 else rng.uniform(0, scene.width)
            x = x + rng.uniform(-radius, radius) if centre_x == 0 else x
            shape = _blob(rng, (x, centre_y + rng.uniform(-20, 20)), radius, scale)
            ImageDraw.Draw(layer).polygon(shape, fill=(*colour, rng.randint(50, 90)))
            wash = Image.alpha_composite(wash, layer)
    soft = (
        wash.convert("RGB")
        .filter(ImageFilter.GaussianBlur(4))
        .resize((scene.width, scene.height), Image.Resampling.BILINEAR)
    )
    grain = np.random.default_rng(scene.seed % 2**32).normal(
        0.0, 6.0, (scene.height, scene.width, 1)
    )
    paper = np.array((248, 243, 230), dtype=np.float32) + grain.astype(np.float32)
    return ImageChops.multiply(soft, image_of(paper))


# ---------------------------------------------------------------- oil painting
def paint_oil(scene: Scene) -> Image.Image:
    base = flat_sky(scene, 6)
    draw = ImageDraw.Draw(base)
    sun_x, sun_y, radius = scene.sun
    draw.ellipse(
        (sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius), fill=scene.accent
    )
    landscape(draw, scene, partial(depth_colour, scene), scene.ink)
    canvas = base.filter(ImageFilter.BoxBlur(4))
    _brush_strokes(canvas, np.asarray(base), scene)
    relief = canvas.convert("L").filter(ImageFilter.EMBOSS).convert("RGB")
    return Image.blend(canvas, ImageChops.overlay(canvas, relief), 0.6)


def _brush_strokes(canvas: Image.Image, source: npt.NDArray[np.uint8], scene: Scene) -> None:
    """Short thick strokes in the colour beneath them: level in the sky, tilted on the land."""
    strokes = ImageDraw.Draw(canvas)
    rng = random.Random(scene.seed)
    for _ in range(2200):
        x, y = rng.randrange(scene.width), rng.randrange(scene.height)
        red, green, blue = (int(channel) + rng.randint(-22, 22) for channel in source[y, x])
        angle = rng.uniform(-0.35, 0.35) if y < scene.horizon else rng.uniform(-1.2, 1.2)
        length = rng.uniform(7, 16)
        dx, dy = math.cos(angle) * length, math.sin(angle) * length
        line = (x - dx, y - dy, x + dx, y + dy)
        strokes.line(line, fill=(red, green, blue), width=rng.randint(4, 7))


# ---------------------------------------------------------------- digital art
_NEON_CYAN: Final = (0, 255, 220)


def paint_digital(scene: Scene) -> Image.Image:
    ground = gradient(scene.width, scene.height, (8, 4, 28), mix((60, 10, 90), scene.accent, 0.25))
    glow = Image.new("RGB", (scene.width, scene.height))
    draw = ImageDraw.Draw(glow)
    magenta = mix(scene.accent, (255, 40, 200), 0.5)
    _striped_sun(draw, scene, mix(magenta, (255, 200, 60), 0.5))
    _perspective_grid(draw, scene)
    for depth, ridge in enumerate(scene.ridges[:2]):
        lift = scene.ridges[0][0][1] - scene.horizon + 30 + 25 * depth
        draw.line([(x, y - lift) for x, y in ridge], fill=magenta, width=2)
    _floating_polygons(draw, scene, (_NEON_CYAN, magenta))
    halo = glow.filter(ImageFilter.BoxBlur(5))
    return ImageChops.add(ImageChops.add(image_of(ground), halo), glow)


def _striped_sun(draw: ImageDraw.ImageDraw, scene: Scene, colour: RGB) -> None:
    """A big sun sitting on the horizon, cut by widening dark stripes."""
    centre_x, _, radius = scene.sun
    centre_y, big = scene.horizon - radius * 1.2, radius * 2.2
    draw.ellipse((centre_x - big, centre_y - big, centre_x + big, centre_y + big), fill=colour)
    for stripe in range(5):
        top = centre_y + stripe * big / 5
        draw.rectangle((centre_x - big, top, centre_x + big, top + 2 + stripe * 2), fill=(0, 0, 0))


def _perspective_grid(draw: ImageDraw.ImageDraw, scene: Scene) -> None:
    width, height, horizon = scene.width, scene.height, scene.horizon
    draw.rectangle((0, horizon, width, height), fill=(0, 0, 0))
    for line in range(1, 11):
        y = horizon + (height - horizon) * (line / 10) ** 2
        draw.line((0, y, width, y), fill=_NEON_CYAN, width=2)
    for line in range(-12, 13):
        bottom_x = width / 2 + line * 110
        draw.line((width / 2 + line * 18, horizon, bottom_x, height), fill=_NEON_CYAN, width=2)


def _floating_polygons(draw: ImageDraw.ImageDraw, scene: Scene, colours: tuple[RGB, RGB]) -> None:
    rng = random.Random(scene.seed)
    for _ in range(5):
        cx, cy = rng.uniform(0, scene.width), rng.uniform(20, scene.horizon - 40)
        radius, sides, spin = rng.uniform(12, 36), rng.choice((3, 4, 6)), rng.uniform(0, math.tau)
        angles = [spin + corner * math.tau / sides for corner in range(sides)]
        corners = [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles]
        draw.polygon(corners, outline=rng.choice(colours), width=2)


PAINTERS: Final[dict[ImageStyle, Callable[[Scene], Image.Image]]] = {
    ImageStyle.REALISTIC: paint_realistic,
    ImageStyle.ANIME: paint_anime,
    ImageStyle.COMIC: paint_comic,
    ImageStyle.WATERCOLOR: paint_watercolor,
    ImageStyle.OIL_PAINTING: paint_oil,
    ImageStyle.DIGITAL_ART: paint_digital,
}
"""The painter of each style; every :class:`ImageStyle` has one."""
