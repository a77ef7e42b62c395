"""Making media small for a page: thumbnails, 8 kHz µ-law clips, and what fits one message."""

from __future__ import annotations

import io
import struct
import wave

import numpy as np
import pytest
from PIL import Image

from batchkit.analysis.media_formats import (
    BROWSER_BYTES,
    audio_clip,
    for_browser,
    media_format,
    mulaw_encode,
    thumbnail,
    wav_seconds,
)


def _wav(seconds: float, rate: int = 22050, frequency: float = 440.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (12000 * np.sin(2 * np.pi * frequency * t)).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(rate)
        target.writeframes(samples.tobytes())
    return out.getvalue()


def _mulaw_decode(codes: np.ndarray) -> np.ndarray:
    """G.711's own decoder (the reference formula), to check the encoder against."""
    u = ~codes.astype(np.int32) & 0xFF
    t = ((u & 0x0F) << 3) + 0x84
    t = t << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84)


def test_mulaw_round_trips_within_its_step_size() -> None:
    linear = np.linspace(-32000, 32000, 4001)
    decoded = _mulaw_decode(np.frombuffer(mulaw_encode(linear), dtype=np.uint8))
    # µ-law's step grows with the level: at most 1/16 of the level plus the bias.
    assert np.all(np.abs(decoded - linear) <= np.abs(linear) / 16 + 33)
    assert np.sign(decoded[linear > 200]).tolist() == [1] * int((linear > 200).sum())


def test_a_clip_is_the_first_seconds_at_8_khz_mulaw() -> None:
    original = _wav(12.0)
    clip = audio_clip(original, 5.0)
    assert clip.mime == "audio/wav"
    assert clip.data[:4] == b"RIFF"
    assert clip.data[8:12] == b"WAVE"
    fmt = clip.data.index(b"fmt ") + 8
    tag, channels, rate, per_second = struct.unpack("<HHII", clip.data[fmt : fmt + 12])
    assert (tag, channels, rate, per_second) == (7, 1, 8000, 8000)
    body = clip.data.index(b"data") + 4
    assert struct.unpack("<I", clip.data[body : body + 4])[0] == 5 * 8000
    assert len(clip.data) < len(original) / 10
    assert wav_seconds(original) == pytest.approx(12.0)
    whole = audio_clip(original, None)
    assert struct.unpack("<I", whole.data[whole.data.index(b"data") + 4 :][:4])[0] == 12 * 8000


def test_what_cannot_be_read_is_given_back_as_it_was() -> None:
    assert audio_clip(b"ID3\x03rest-of-an-mp3", 5.0).data == b"ID3\x03rest-of-an-mp3"
    assert audio_clip(b"ID3\x03rest", 5.0).mime == "audio/mpeg"
    assert thumbnail(b"not a picture").data == b"not a picture"
    assert media_format(b"????", "https://x/y/picture.JPG?sig=1") == "jpeg"
    assert media_format(b"????", "https://x/y/no-suffix") == ""


def test_thumbnails_fit_the_size_and_keep_transparency() -> None:
    opaque, clear = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (640, 400), (10, 120, 200)).save(opaque, format="PNG")
    Image.new("RGBA", (300, 600), (10, 120, 200, 90)).save(clear, format="PNG")
    small = thumbnail(opaque.getvalue(), 240)
    assert small.mime == "image/jpeg"
    assert Image.open(io.BytesIO(small.data)).size == (240, 150)
    see_through = thumbnail(clear.getvalue(), 120)
    assert see_through.mime == "image/png"
    assert Image.open(io.BytesIO(see_through.data)).size == (60, 120)


def test_sound_for_the_browser_fits_one_message() -> None:
    short = _wav(3.0)
    assert for_browser(short, "audio").data == short  # small enough: as it is
    long = _wav(200.0)  # 200 s at 22 kHz, 16 bits: 8.8 MB, above the limit
    assert len(long) > BROWSER_BYTES
    sent = for_browser(long, "audio")
    assert 0 < len(sent.data) <= BROWSER_BYTES
    assert sent.mime == "audio/wav"
