"""Media bytes made smaller for a page: thumbnails of images, short clips of speech.

A report embeds its media, and a notebook sends them to the browser, so both want them small:
:func:`thumbnail` makes a picture at most ``max_px`` a side (JPEG, or PNG when it has
transparency); :func:`audio_clip` makes a WAV clip of the first ``seconds`` of speech at 8 kHz,
µ-law (G.711: 8 kB a second, a telephone's quality, a tenth of the reference server's 22 kHz
16-bit WAV). What cannot be made smaller (a format this module does not read) is given back as
it was, and the caller decides whether it is small enough.
"""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from batchkit.contract.signatures import media_format

__all__ = [
    "MIME_TYPES",
    "Media",
    "as_media",
    "audio_clip",
    "for_browser",
    "mulaw_encode",
    "thumbnail",
    "wav_seconds",
]

MIME_TYPES: Final = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
}
"""The media formats a page can show, by :func:`media_format` name."""

_CLIP_RATE: Final = 8000
_MULAW: Final = 7  # WAVE_FORMAT_MULAW
_BIAS: Final = 0x84
_CLIP: Final = 32635
_LOW_PASS_TAPS: Final = 63


@dataclass(frozen=True, slots=True)
class Media:
    """Media bytes and their MIME type (``image/jpeg``, ``audio/wav``...)."""

    data: bytes
    mime: str

    def __repr__(self) -> str:  # never the bytes themselves
        return f"Media({self.mime}, {len(self.data):,} bytes)"


def as_media(data: bytes, url: str = "") -> Media:
    """``data`` with the MIME type its first bytes (or ``url``) say."""
    return Media(data, MIME_TYPES.get(media_format(data, url), "application/octet-stream"))


def thumbnail(data: bytes, max_px: int = 240) -> Media:
    """The picture ``data`` at most ``max_px`` wide and high; unchanged if Pillow cannot read
    it. Opaque pictures become JPEG (quality 80), others PNG."""
    from PIL import Image, UnidentifiedImageError  # Pillow comes with matplotlib

    try:
        with Image.open(io.BytesIO(data)) as opened:
            picture = opened.copy()
    except (UnidentifiedImageError, OSError, ValueError):
        return as_media(data)
    picture.thumbnail((max_px, max_px))
    out = io.BytesIO()
    transparent = picture.mode in ("RGBA", "LA") or "transparency" in picture.info
    if transparent:
        picture.save(out, format="PNG", optimize=True)
        return Media(out.getvalue(), "image/png")
    picture.convert("RGB").save(out, format="JPEG", quality=80, optimize=True)
    return Media(out.getvalue(), "image/jpeg")


def audio_clip(data: bytes, seconds: float | None = 30.0) -> Media:
    """The first ``seconds`` (None: all) of WAV speech ``data`` as 8 kHz µ-law WAV; other
    formats (and WAVs this cannot read) unchanged."""
    try:
        with wave.open(io.BytesIO(data), "rb") as source:
            rate, width, channels = (
                source.getframerate(),
                source.getsampwidth(),
                source.getnchannels(),
            )
            frames = source.getnframes()
            wanted = frames if seconds is None else min(frames, int(seconds * rate))
            raw = source.readframes(wanted)
    except (wave.Error, EOFError):
        return as_media(data)
    if width != 2 or rate < _CLIP_RATE:
        return as_media(data)
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return Media(_mulaw_wav(_resample(samples, rate, _CLIP_RATE), _CLIP_RATE), "audio/wav")


BROWSER_BYTES: Final = 8 * 1024 * 1024
"""The most bytes :func:`for_browser` sends in one message (Jupyter's websocket takes 10 MiB)."""


def for_browser(data: bytes, kind: str, *, image_px: int = 480) -> Media:
    """Media for a notebook's browser: pictures as thumbnails of ``image_px``; sound as it is
    when it fits in :data:`BROWSER_BYTES`, else all of it as 8 kHz µ-law, cut to fit."""
    if kind == "image":
        return thumbnail(data, image_px)
    if len(data) <= BROWSER_BYTES:
        return as_media(data)
    clip = audio_clip(data, None)
    if len(clip.data) > BROWSER_BYTES:
        clip = audio_clip(data, (BROWSER_BYTES - 64) / _CLIP_RATE)
    return clip if len(clip.data) <= BROWSER_BYTES else Media(b"", clip.mime)


def wav_seconds(data: bytes) -> float | None:
    """How long WAV ``data`` plays, in seconds; None for anything else."""
    try:
        with wave.open(io.BytesIO(data), "rb") as source:
            return source.getnframes() / source.getframerate()
    except (wave.Error, EOFError, ZeroDivisionError):
        return None


def _resample(samples: npt.NDArray[np.float64], rate: int, target: int) -> npt.NDArray[np.float64]:
    """Low-pass below the new Nyquist frequency (a windowed sinc), then interpolate."""
    if rate == target or samples.size == 0:
        return samples
    cutoff = 0.45 * target / rate
    taps = np.arange(_LOW_PASS_TAPS) - (_LOW_PASS_TAPS - 1) / 2
    kernel = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(_LOW_PASS_TAPS)
    filtered = np.convolve(samples, kernel / kernel.sum(), mode="same")
    count = int(samples.size * target / rate)
    positions = np.arange(count) * (rate / target)
    resampled: npt.NDArray[np.float64] = np.interp(positions, np.arange(samples.size), filtered)
    return resampled


def mulaw_encode(samples: npt.NDArray[np.float64]) -> bytes:
    """16-bit linear samples as G.711 µ-law bytes."""
    linear = np.clip(np.rint(samples), -32768, 32767).astype(np.int32)
    sign = (linear < 0).astype(np.int32) << 7
    magnitude = np.minimum(np.abs(linear), _CLIP) + _BIAS
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    codes = ~(sign | (exponent << 4) | mantissa) & 0xFF
    return bytes(codes.astype(np.uint8).tobytes())


def _mulaw_wav(samples: npt.NDArray[np.float64], rate: int) -> bytes:
    body = mulaw_encode(samples)
    fmt = struct.pack("<HHIIHHH", _MULAW, 1, rate, rate, 1, 8, 0)
    fact = struct.pack("<I", len(body))
    pad = b"\x00" if len(body) % 2 else b""
    chunks = (
        b"fmt " + struct.pack("<I", len(fmt)) + fmt,
        b"fact" + struct.pack("<I", len(fact)) + fact,
        b"data" + struct.pack("<I", len(body)) + body + pad,
    )
    payload = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload
