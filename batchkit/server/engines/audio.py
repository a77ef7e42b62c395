"""The audio and merge steps: speech from the eSpeak NG engine that the espeakng-loader wheel ships.

eSpeak NG is a C library with one global state (current voice, parameters, output callback), so
every use goes through :data:`_ENGINE_LOCK`; it is loaded and initialised once, lazily, in
synchronous mode: ``espeak_Synth`` returns when the whole text has been spoken into our callback.
Each of the contract's 30 voice names maps to its own eSpeak voice (an English accent plus a
voice variant), so different voices really sound different.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import wave
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

from batchkit.contract import ModelVoice
from batchkit.errors import EngineError

__all__ = ["VOICES", "estimated_wav_bytes", "merge_wavs", "synthesize", "wav_duration"]

VOICES: Final[Mapping[str, str]] = MappingProxyType(
    {
        # Voices the contract's source describes as female get eSpeak's female variants.
        "Zephyr": "en-us+f1",
        "Kore": "en+f2",
        "Leda": "en-gb-x-rp+f3",
        "Aoede": "en-gb-scotland+f4",
        "Callirrhoe": "en-029+f5",
        "Autonoe": "en-us+f3",
        "Despina": "en+f4",
        "Erinome": "en-gb-x-gbclan+f1",
        "Laomedeia": "en-gb-x-rp+f5",
        "Achernar": "en-us-nyc+f2",
        "Gacrux": "en-gb-x-gbcwmd+f3",
        "Pulcherrima": "en-us+f5",
        "Vindemiatrix": "en-gb-scotland+f1",
        "Sulafat": "en+f5",
        "Puck": "en-us+m1",
        "Charon": "en+m2",
        "Fenrir": "en-gb-scotland+m3",
        "Orus": "en-gb-x-rp+m1",
        "Enceladus": "en-029+m2",
        "Iapetus": "en-us+m4",
        "Umbriel": "en-gb-x-gbcwmd+m5",
        "Algieba": "en+m6",
        "Algenib": "en-us-nyc+m3",
        "Rasalgethi": "en-gb-x-rp+m7",
        "Alnilam": "en-us+m7",
        "Schedar": "en-gb-x-gbclan+m4",
        "Achird": "en-us+m3",
        "Zubenelgenubi": "en-gb-scotland+m6",
        "Sadachbia": "en-029+m5",
        "Sadaltager": "en+m8",
    }
)
"""Contract voice name → eSpeak NG voice spec (``language+variant``); all 30 are distinct."""

_WORDS_PER_MINUTE: Final = {ModelVoice.FLASH.value: 175, ModelVoice.PRO.value: 160}
"""The "pro" model speaks a little slower, as a more deliberate narrator would."""
_DEFAULT_WORDS_PER_MINUTE: Final = 175
_AUDIO_OUTPUT_SYNCHRONOUS: Final = 2
_INITIALIZE_DONT_EXIT: Final = 0x8000
"""Without it, eSpeak calls exit() when its data cannot be found."""
_POS_CHARACTER: Final = 1
_CHARS_UTF8: Final = 0x01
_END_PAUSE: Final = 0x1000
_PARAMETER_RATE: Final = 1
_EE_OK: Final = 0
_SAMPLE_WIDTH: Final = 2
_EXPECTED_SAMPLE_RATE: Final = 22_050
"""What eSpeak NG reports at initialisation; used only to estimate sizes before speaking."""
_WAV_HEADER_BYTES: Final = 44
_COPY_FRAMES: Final = 64 * 1024

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


@dataclass(slots=True)
class _Engine:
    """The loaded library, its sample rate, and where the callback puts samples."""

    library: ctypes.CDLL
    sample_rate: int
    callback: object
    """Kept referenced: eSpeak holds a raw pointer to it."""
    samples: list[bytes]


_ENGINE_LOCK: Final = threading.Lock()
_engine: _Engine | None = None


def synthesize(text: str, *, voice: str, model: str, path: Path) -> float:
    """Speak ``text`` in ``voice`` and write a mono 16-bit WAV to ``path``; return its seconds.

    ``model`` is a contract voice model: ``gemini-2.5-pro-preview-tts`` speaks a little slower;
    any other value speaks at the normal rate.

    Raises:
        EngineError: an unknown voice, no words to speak, eSpeak NG cannot be loaded or fails,
            or the file cannot be written.
    """
    spec = VOICES.get(voice)
    if spec is None:
        raise EngineError(f"unknown voice {voice!r}; expected one of: {', '.join(VOICES)}")
    if not text.strip():
        raise EngineError("there are no words to speak")
    rate = _WORDS_PER_MINUTE.get(model, _DEFAULT_WORDS_PER_MINUTE)
    with _ENGINE_LOCK:
        engine = _loaded_engine()
        pcm = _speak(engine, text, spec, rate)
        sample_rate = engine.sample_rate
    _write_wav(path, pcm, sample_rate)
    return len(pcm) / _SAMPLE_WIDTH / sample_rate


def estimated_wav_bytes(words: int, model: str) -> int:
    """About how many bytes of WAV :func:`synthesize` writes for ``words`` words (a little more
    than it does: pauses at punctuation are shorter than the words they replace)."""
    rate = _WORDS_PER_MINUTE.get(model, _DEFAULT_WORDS_PER_MINUTE)
    return round(words / rate * 60 * _EXPECTED_SAMPLE_RATE * _SAMPLE_WIDTH) + _WAV_HEADER_BYTES


def merge_wavs(paths: Sequence[Path], path: Path) -> float:
    """Join WAV files end to end (no gap: each chunk already ends in a pause); return seconds.

    Raises:
        EngineError: no inputs, an input is unreadable, or the inputs differ in format.
    """
    if not paths:
        raise EngineError("there are no audio chunks to merge")
    try:
        with wave.open(str(path), "wb") as merged:
            expected = None
            for source_path in paths:
                with wave.open(str(source_path), "rb") as source:
                    form = (source.getnchannels(), source.getsampwidth(), source.getframerate())
                    if expected is None:
                        expected = form
                        merged.setnchannels(form[0])
                        merged.setsampwidth(form[1])
                        merged.setframerate(form[2])
                    elif form != expected:
                        raise EngineError(
                            f"cannot merge {source_path.name}: its format {form} differs from "
                            f"the first chunk's {expected} (channels, sample width, rate)"
                        )
                    while frames := source.readframes(_COPY_FRAMES):
                        merged.writeframes(frames)
    except (wave.Error, EOFError, OSError) as error:
        raise EngineError(f"cannot merge the audio chunks: {error}") from error
    return wav_duration(path)


def wav_duration(path: Path) -> float:
    """Length of a WAV file in seconds.

    Raises:
        EngineError: the file is missing or not a readable WAV file.
    """
    try:
        with wave.open(str(path), "rb") as audio:
            return audio.getnframes() / audio.getframerate()
    except (wave.Error, EOFError, OSError) as error:
        raise EngineError(f"cannot read the audio file {path.name}: {error}") from error


def _loaded_engine() -> _Engine:
    """Load and initialise eSpeak NG the first time; the caller holds the lock."""
    global _engine  # one process-wide C engine, guarded by _ENGINE_LOCK
    if _engine is None:
        _engine = _initialise()
    return _engine


def _initialise() -> _Engine:
    try:
        import espeakng_loader

        library = ctypes.CDLL(espeakng_loader.get_library_path())
        data_path = espeakng_loader.get_data_path()
    except (ImportError, OSError, RuntimeError) as error:
        raise EngineError(
            f"the eSpeak NG speech engine cannot be loaded ({error}); "
            "install the server extra: pip install 'batchkit[server]'"
        ) from error
    _declare_signatures(library)
    sample_rate = library.espeak_Initialize(
        _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INITIALIZE_DONT_EXIT
    )
    if sample_rate <= 0:
        raise EngineError(f"the eSpeak NG speech engine failed to start with data at {data_path}")
    samples: list[bytes] = []

    def collect(wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int | None) -> int:
        if wav and count > 0:
            samples.append(ctypes.string_at(wav, count * _SAMPLE_WIDTH))
        return 0  # 0 = go on synthesising

    callback = _SynthCallback(collect)
    library.espeak_SetSynthCallback(callback)
    return _Engine(library, sample_rate, callback, samples)


def _declare_signatures(library: ctypes.CDLL) -> None:
    library.espeak_Initialize.argtypes = [
        ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
    ]  # fmt: skip
    library.espeak_Initialize.restype = ctypes.c_int
    library.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    library.espeak_SetSynthCallback.restype = None
    library.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    library.espeak_SetVoiceByName.restype = ctypes.c_int
    library.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    library.espeak_SetParameter.restype = ctypes.c_int
    library.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
    ]  # fmt: skip
    library.espeak_Synth.restype = ctypes.c_int


def _speak(engine: _Engine, text: str, spec: str, words_per_minute: int) -> bytes:
    """16-bit little-endian PCM of ``text``; the caller holds the lock."""
    library = engine.library
    if library.espeak_SetVoiceByName(spec.encode()) != _EE_OK:
        raise EngineError(f"eSpeak NG has no voice {spec!r}")
    library.espeak_SetParameter(_PARAMETER_RATE, words_per_minute, 0)
    encoded = text.encode("utf-8")
    engine.samples.clear()
    try:
        status = library.espeak_Synth(
            encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _END_PAUSE, None, None
        )
        pcm = b"".join(engine.samples)
    finally:
        engine.samples.clear()
    if status != _EE_OK or not pcm:
        raise EngineError(f"eSpeak NG could not speak the text (status {status})")
    if sys.byteorder == "big":
        swapped = array("h", pcm)
        swapped.byteswap()
        pcm = swapped.tobytes()
    return pcm


def _write_wav(path: Path, pcm: bytes, sample_rate: int) -> None:
    try:
        with wave.open(str(path), "wb") as audio:
            audio.setnchannels(1)
            audio.setsampwidth(_SAMPLE_WIDTH)
            audio.setframerate(sample_rate)
            audio.writeframes(pcm)
    except (wave.Error, OSError) as error:
        raise EngineError(f"cannot write the audio file {path.name}: {error}") from error
