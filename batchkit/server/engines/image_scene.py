"""What a chunk's picture shows, decided from its words: a landscape every style then paints.

The same chunk gives the same scene in every style, so styles differ only in technique. The scene
is seeded from a hash of the text and the prompt: deterministic, and different chunks differ.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeVar

__all__ = ["RGB", "Mood", "Motif", "Point", "Scene", "compose_scene"]

RGB = tuple[int, int, int]
Point = tuple[float, float]


class Mood(StrEnum):
    DAY = "day"
    DUSK = "dusk"
    NIGHT = "night"


class Motif(StrEnum):
    HILLS = "hills"
    SEA = "sea"
    FOREST = "forest"
    CITY = "city"


_Key = TypeVar("_Key", Mood, Motif)


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


_MOTIF_WORDS: Final = {
    Motif.SEA: _vocabulary(
        "sea ocean wave waves boat ship ships shore beach harbour harbor lighthouse tide coast "
        "sail trawler channel water river rain"
    ),
    Motif.FOREST: _vocabulary(
        "forest tree trees wood woods leaf leaves garden grass field meadow flowers roses "
        "rosemary plum plums orchard"
    ),
    Motif.CITY: _vocabulary(
        "city street streets town square market shop stall café cafe tower station house "
        "houses window roof bakery village"
    ),
}
_MOOD_WORDS: Final = {
    Mood.NIGHT: _vocabulary("night midnight moon star stars dark darkness storm"),
    Mood.DUSK: _vocabulary("evening dusk sunset autumn dawn twilight winter november"),
}
_SKY_HUES: Final = {Mood.DAY: (0.53, 0.62), Mood.DUSK: (0.02, 0.11), Mood.NIGHT: (0.62, 0.72)}
_GROUND_HUES: Final = {
    Motif.HILLS: (0.14, 0.30),
    Motif.SEA: (0.48, 0.60),
    Motif.FOREST: (0.24, 0.38),
    Motif.CITY: (0.05, 0.12),
}


@dataclass(frozen=True, slots=True)
class Scene:
    """A landscape in pixel coordinates: sky, a sun or moon, ridges from far to near, a motif."""

    width: int
    height: int
    seed: int
    mood: Mood
    motif: Motif
    sky_top: RGB
    sky_bottom: RGB
    ground_far: RGB
    ground_near: RGB
    accent: RGB
    ink: RGB
    sun: tuple[float, float, float]
    """Centre x, centre y and radius."""
    horizon: float
    ridges: tuple[tuple[Point, ...], ...]
    """Top edges of the land, far to near; each spans the full width."""
    objects: tuple[tuple[float, float, float, float], ...]
    """Motif objects as (x, base y, width, height): trees, buildings or sails."""


def compose_scene(text: str, prompt: str | None, size: tuple[int, int]) -> Scene:
    """The scene for one chunk: words choose mood and motif, the hash chooses everything else."""
    digest = hashlib.sha256(f"{prompt or ''}\x00{text}".encode()).digest()
    seed = int.from_bytes(digest[:8], "big")
    rng = random.Random(seed)
    words = {word.strip(".,;:!?\"'“”‘’()").lower() for word in text.split()}
    mood = _pick(words, _MOOD_WORDS, Mood.DAY)
    motif = _pick(words, _MOTIF_WORDS, Motif.HILLS)
    width, height = size
    horizon = height * rng.uniform(0.48, 0.62)
    sky_top, sky_bottom, ground_far, ground_near, accent, ink = _palette(rng, mood, motif)
    ridges = _ridges(rng, width, height, horizon, motif)
    return Scene(
        width=width,
        height=height,
        seed=seed,
        mood=mood,
        motif=motif,
        sky_top=sky_top,
        sky_bottom=sky_bottom,
        ground_far=ground_far,
        ground_near=ground_near,
        accent=accent,
        ink=ink,
        sun=(width * rng.uniform(0.15, 0.85), horizon * rng.uniform(0.25, 0.6), height * 0.08),
        horizon=horizon,
        ridges=ridges,
        objects=_objects(rng, width, horizon, motif, ridges[0]),
    )


def _pick(words: set[str], vocabulary: dict[_Key, frozenset[str]], default: _Key) -> _Key:
    scores = {key: len(words & vocabulary_words) for key, vocabulary_words in vocabulary.items()}
    best = max(scores, key=lambda key: scores[key])
    return best if scores[best] > 0 else default


def _hsv(hue: float, saturation: float, value: float) -> RGB:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _palette(rng: random.Random, mood: Mood, motif: Motif) -> tuple[RGB, ...]:
    """Sky top and bottom, far and near ground, accent and ink."""
    sky_hue = rng.uniform(*_SKY_HUES[mood])
    ground_hue = rng.uniform(*_GROUND_HUES[motif])
    light = {Mood.DAY: 1.0, Mood.DUSK: 0.8, Mood.NIGHT: 0.35}[mood]
    return (
        _hsv(sky_hue, rng.uniform(0.55, 0.8), 0.75 * light),
        _hsv(sky_hue + 0.06, rng.uniform(0.2, 0.4), min(1.0, 1.0 * light + 0.1)),
        _hsv(ground_hue + 0.04, rng.uniform(0.25, 0.45), 0.7 * light),
        _hsv(ground_hue, rng.uniform(0.5, 0.75), 0.45 * light + 0.05),
        _hsv(rng.uniform(-0.1, 0.15), rng.uniform(0.6, 0.95), 0.95),  # warm: suns and lamps
        _hsv(ground_hue, 0.6, 0.12),
    )


def _ridges(
    rng: random.Random, width: int, height: int, horizon: float, motif: Motif
) -> tuple[tuple[Point, ...], ...]:
    """Smooth ridge lines from sums of a few random sines; the sea flattens the nearest one."""
    ridges = []
    for layer in range(3):
        base = horizon + (height - horizon) * (0.05 + 0.3 * layer)
        amplitude = height * (0.12 - 0.03 * layer) * (0.3 if motif is Motif.SEA else 1.0)
        waves = [(rng.uniform(0.5, 3.5), rng.uniform(0, math.tau)) for _ in range(3)]
        points = tuple(
            (
                float(x),
                base
                - amplitude
                * sum(math.sin(freq * math.tau * x / width + phase) for freq, phase in waves)
                / 3,
            )
            for x in range(0, width + 16, 16)
        )
        ridges.append(points)
    return tuple(ridges)


def _height_at(ridge: tuple[Point, ...], x: float) -> float:
    """The ridge's height at ``x``, interpolated between its points."""
    step = ridge[1][0] - ridge[0][0]
    index = min(max(int(x // step), 0), len(ridge) - 2)
    (x0, y0), (x1, y1) = ridge[index], ridge[index + 1]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def _objects(
    rng: random.Random, width: int, horizon: float, motif: Motif, ground: tuple[Point, ...]
) -> tuple[tuple[float, float, float, float], ...]:
    """Trees and buildings stand on the far ridge; boats float on the water below the horizon."""
    if motif is Motif.HILLS:
        return ()
    count = {Motif.SEA: 2, Motif.FOREST: 9, Motif.CITY: 7}[motif]
    objects = []
    for _ in range(count):
        x = rng.uniform(0, width)
        if motif is Motif.SEA:
            objects.append(
                (x, horizon + rng.uniform(12, 50), rng.uniform(25, 40), rng.uniform(35, 60))
            )
            continue
        base = _height_at(ground, x) + rng.uniform(6, 24)
        if motif is Motif.CITY:
            objects.append((x - 30, base, rng.uniform(30, 70), rng.uniform(40, horizon * 0.8)))
        else:
            objects.append((x, base, rng.uniform(18, 34), rng.uniform(50, 110)))
    return tuple(sorted(objects, key=lambda item: item[1]))
