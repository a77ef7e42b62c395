"""The image and audio engines: real PNGs from Pillow, real speech from eSpeak NG."""

from __future__ import annotations

import hashlib
import itertools
import threading
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import espeakng_loader
import numpy as np
import pytest
from PIL import Image, ImageFilter

from batchkit.contract import AUDIO_VOICES, ImageStyle, ModelVoice
from batchkit.errors import EngineError
from batchkit.samples import sample_paths
from batchkit.server.engines import (
    VOICES,
    extract_text,
    merge_wavs,
    render_image,
    synthesize,
    wav_duration,
)
from batchkit.server.engines import audio as audio_engine
from batchkit.server.engines.images import CAPTION_HEIGHT

FLASH = ModelVoice.FLASH.value
SENTENCE = "The keeper of the light had not spoken to another person in forty days."


# ---------------------------------------------------------------- images
@dataclass(frozen=True, slots=True)
class Look:
    """Statistics of a picture that tell painting techniques apart."""

    colours: int
    """Distinct colours at 5 bits per channel."""
    edge_density: float
    saturation: float
    luminance: float
    dark_fraction: float


def look_of(path: Path) -> Look:
    image = Image.open(path).convert("RGB")
    body = image.crop((0, 0, image.width, image.height - CAPTION_HEIGHT))
    pixels = np.asarray(body)
    grey = body.convert("L")
    edges = np.asarray(grey.filter(ImageFilter.FIND_EDGES))
    luminance = np.asarray(grey, dtype=np.float64)
    return Look(
        colours=len(np.unique(np.dot(pixels.astype(np.int32) // 8, [1024, 32, 1]))),
        edge_density=float((edges > 40).mean()),
        saturation=float(np.asarray(body.convert("HSV"))[..., 1].mean()),
        luminance=float(luminance.mean()),
        dark_fraction=float((luminance < 30).mean()),
    )


def technique(look: Look) -> str:
    """Name the technique from the statistics alone, as a viewer would from the picture."""
    if look.colours <= 32:  # flat fills
        return "comic" if look.edge_density > 0.25 else "anime"  # halftone dots are all edges
    if look.dark_fraction > 0.25:
        return "digital-art"  # neon on a near-black ground
    if look.saturation < 90 and look.luminance > 140:
        return "watercolor"  # pale washes on paper
    if look.colours > 900:
        return "oil-painting"  # every stroke its own shade
    if look.edge_density < 0.06:
        return "realistic"  # smooth gradients, soft finish
    return "unrecognised"


TEXTS = {
    "night-sea": extract_text(sample_paths()[0])[:2500],  # lighthouse: night, sea
    "town": extract_text(sample_paths()[3])[:2500],  # the clockmaker: a town at dusk
    "short": "A quiet morning in the hills.",
}


@pytest.mark.parametrize("text_name", sorted(TEXTS))
def test_each_style_is_a_png_with_its_own_technique(tmp_path: Path, text_name: str) -> None:
    pixels = {}
    for style in ImageStyle:
        path = tmp_path / f"{style}.png"
        render_image(TEXTS[text_name], style=style, index=3, prompt=None, path=path)
        with Image.open(path) as image:
            assert (image.format, image.size, image.mode) == ("PNG", (640, 400), "RGB")
            pixels[style] = np.asarray(image, dtype=np.int16)
        assert technique(look_of(path)) == style.value
    for first, second in itertools.combinations(ImageStyle, 2):
        difference = np.abs(pixels[first] - pixels[second]).mean()
        assert difference > 10, f"{first} and {second} look alike ({difference:.1f})"


def test_size_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    render_image("tiny", style=ImageStyle.COMIC, index=0, prompt=None, path=path, size=(320, 200))
    with Image.open(path) as image:
        assert image.size == (320, 200)


def test_same_input_same_picture_and_text_or_prompt_change_it(tmp_path: Path) -> None:
    def picture(text: str, prompt: str | None, name: str) -> bytes:
        path = tmp_path / name
        render_image(text, style=ImageStyle.ANIME, index=1, prompt=prompt, path=path)
        return path.read_bytes()

    first = picture("A boat on the sea.", None, "a.png")
    assert picture("A boat on the sea.", None, "b.png") == first
    assert picture("A boat on the sea!", None, "c.png") != first
    assert picture("A boat on the sea.", "in the rain", "d.png") != first


def test_index_only_changes_the_caption_strip(tmp_path: Path) -> None:
    images = []
    for index in (1, 2):
        path = tmp_path / f"{index}.png"
        render_image(SENTENCE, style=ImageStyle.REALISTIC, index=index, prompt=None, path=path)
        images.append(np.asarray(Image.open(path), dtype=np.int16))
    changed_rows = np.flatnonzero(np.abs(images[0] - images[1]).sum(axis=(1, 2)))
    assert changed_rows.size > 0
    assert changed_rows.min() >= 400 - CAPTION_HEIGHT


def test_unwritable_image_path_is_an_engine_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="cannot write the image"):
        render_image(
            "x", style=ImageStyle.ANIME, index=0, prompt=None, path=tmp_path / "no" / "x.png"
        )


# ---------------------------------------------------------------- audio
def samples_of(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as audio:
        assert (audio.getnchannels(), audio.getsampwidth()) == (1, 2)
        frames = audio.readframes(audio.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.float64), audio.getframerate()


def test_speech_is_audible_and_plausibly_long(tmp_path: Path) -> None:
    path = tmp_path / "speech.wav"
    seconds = synthesize(SENTENCE, voice="Achird", model=FLASH, path=path)
    samples, rate = samples_of(path)
    assert rate == 22050
    assert seconds == pytest.approx(len(samples) / rate)
    assert seconds == pytest.approx(wav_duration(path))
    assert np.sqrt(np.mean(samples**2)) > 500
    assert 0.15 < seconds / len(SENTENCE.split()) < 1.0


def test_longer_text_takes_longer_and_pro_speaks_slower(tmp_path: Path) -> None:
    short = synthesize("One two three.", voice="Kore", model=FLASH, path=tmp_path / "1.wav")
    long = synthesize(SENTENCE * 2, voice="Kore", model=FLASH, path=tmp_path / "2.wav")
    slow = synthesize(SENTENCE * 2, voice="Kore", model=ModelVoice.PRO, path=tmp_path / "3.wav")
    assert long > 3 * short
    assert slow > long * 1.04


def test_thirty_voices_map_to_thirty_distinct_espeak_voices(tmp_path: Path) -> None:
    assert sorted(VOICES) == sorted(AUDIO_VOICES)
    assert len(set(VOICES.values())) == 30
    variants = Path(espeakng_loader.get_data_path()) / "voices" / "!v"
    # eSpeak silently ignores an unknown variant, so check each one exists.
    assert all((variants / spec.split("+")[1]).is_file() for spec in VOICES.values())
    digests = set()
    for voice in AUDIO_VOICES:
        path = tmp_path / f"{voice}.wav"
        synthesize("Hello there.", voice=voice, model=FLASH, path=path)
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    assert len(digests) == 30


def test_two_voices_sound_different(tmp_path: Path) -> None:
    synthesize(SENTENCE, voice="Zephyr", model=FLASH, path=tmp_path / "a.wav")
    synthesize(SENTENCE, voice="Charon", model=FLASH, path=tmp_path / "b.wav")
    first, _ = samples_of(tmp_path / "a.wav")
    second, _ = samples_of(tmp_path / "b.wav")
    length = min(len(first), len(second))
    difference = np.sqrt(np.mean((first[:length] - second[:length]) ** 2))
    assert difference > 0.5 * np.sqrt(np.mean(first[:length] ** 2))


def test_merged_duration_is_the_sum_of_the_chunks(tmp_path: Path) -> None:
    texts = ["First chunk of words.", "A second, longer chunk of several words.", "Third."]
    paths = [tmp_path / f"{index}.wav" for index in range(3)]
    durations = [
        synthesize(text, voice="Puck", model=FLASH, path=path)
        for text, path in zip(texts, paths, strict=True)
    ]
    merged = merge_wavs(paths, tmp_path / "merged.wav")
    assert merged == pytest.approx(sum(durations), rel=0.02)
    joined = np.concatenate([samples_of(path)[0] for path in paths])
    assert np.array_equal(samples_of(tmp_path / "merged.wav")[0], joined)


def test_merging_different_formats_or_nothing_is_refused(tmp_path: Path) -> None:
    speech = tmp_path / "speech.wav"
    synthesize("Hello.", voice="Puck", model=FLASH, path=speech)
    other = tmp_path / "other.wav"
    with wave.open(str(other), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(bytes(1600))
    with pytest.raises(EngineError, match="differs from the first chunk"):
        merge_wavs([speech, other], tmp_path / "merged.wav")
    with pytest.raises(EngineError, match="no audio chunks"):
        merge_wavs([], tmp_path / "merged.wav")


def test_bad_requests_are_engine_errors(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="unknown voice 'achird'"):
        synthesize("Hi.", voice="achird", model=FLASH, path=tmp_path / "x.wav")
    with pytest.raises(EngineError, match="no words"):
        synthesize(" \n ", voice="Achird", model=FLASH, path=tmp_path / "x.wav")
    (tmp_path / "fake.wav").write_text("not audio", encoding="utf-8")
    with pytest.raises(EngineError, match=r"cannot read the audio file fake\.wav"):
        wav_duration(tmp_path / "fake.wav")


def loudness_envelope(samples: np.ndarray, rate: int) -> np.ndarray:
    """RMS loudness per 20 ms: it follows the words, whatever small noise eSpeak adds."""
    frame = rate // 50
    count = len(samples) // frame
    squares = samples[: count * frame].reshape(count, frame) ** 2
    envelope: np.ndarray = np.sqrt(squares.mean(axis=1))
    return envelope


def test_synthesis_from_four_threads_at_once_matches_serial_output(tmp_path: Path) -> None:
    # eSpeak's output varies by a few samples from run to run (its voice variants add breath
    # noise and echo), so outputs are compared by duration and loudness envelope, not bytes.
    # The four texts have very different lengths: any cross-talk would show in the durations.
    jobs = [("Zephyr", "Short."), ("Puck", "Another thread talks over this one.")]
    jobs += [("Leda", SENTENCE), ("Orus", f"{SENTENCE} And then it said it all again.")]
    serial = []
    for index, (voice, text) in enumerate(jobs):
        path = tmp_path / f"serial{index}.wav"
        synthesize(text, voice=voice, model=FLASH, path=path)
        serial.append(samples_of(path))
    start = threading.Barrier(len(jobs))

    def speak(index: int) -> tuple[float, np.ndarray, int]:
        voice, text = jobs[index]
        path = tmp_path / f"thread{index}.wav"
        start.wait(timeout=10)
        seconds = synthesize(text, voice=voice, model=FLASH, path=path)
        return (seconds, *samples_of(path))

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        spoken = list(pool.map(speak, range(len(jobs))))
    for (seconds, samples, rate), (expected, _) in zip(spoken, serial, strict=True):
        assert seconds == pytest.approx(len(expected) / rate, rel=0.03)
        mine, theirs = loudness_envelope(samples, rate), loudness_envelope(expected, rate)
        length = min(len(mine), len(theirs))
        assert np.corrcoef(mine[:length], theirs[:length])[0, 1] > 0.95


def test_missing_speech_library_is_a_clear_engine_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A broken install cannot be produced for real here: point the loader at a missing file and
    # make the engine load afresh. monkeypatch puts the loaded engine back afterwards.
    monkeypatch.setattr(audio_engine, "_engine", None)
    monkeypatch.setattr(espeakng_loader, "get_library_path", lambda: str(tmp_path / "none.so"))
    with pytest.raises(EngineError, match="eSpeak NG speech engine cannot be loaded"):
        synthesize("Hello.", voice="Achird", model=FLASH, path=tmp_path / "x.wav")
