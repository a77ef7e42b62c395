"""Time the reference server's local engines on a ~2,000-word story.

    python -m benchmarks.engines_bench [--quick] [--json]

The text is the four shipped samples joined (``--quick``: one of them); it is written as .txt,
.docx (python-docx) and .doc (LibreOffice, when ``soffice`` is on PATH), then every engine step
runs as the pipeline would, at 500 words per chunk. Each figure is the median of several runs
(``--quick``: one), in milliseconds. Baselines from the same run: reading the .txt for the other
formats, the fastest style for each image style, and the length of the audio produced for
speech (so the ratio is the real-time factor).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from batchkit.contract import ImageStyle, ModelVoice
from batchkit.samples import sample_paths
from batchkit.server.engines import (
    extract_text,
    merge_wavs,
    render_image,
    split_into_chunks,
    synthesize,
    word_count,
    write_story,
)
from benchmarks.report import Row, main

__all__ = ["run"]

WORDS_PER_CHUNK = 500
REPEATS = 5


def median_ms(action: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def write_documents(text: str, folder: Path) -> list[Path]:
    import docx  # python-docx: only this benchmark needs it

    paths = [folder / "story.txt", folder / "story.docx"]
    paths[0].write_text(text, encoding="utf-8")
    document = docx.Document()
    for paragraph in text.split("\n\n"):
        document.add_paragraph(paragraph)
    document.save(str(paths[1]))
    soffice = shutil.which("soffice")
    if soffice:
        profile = (folder / "lo-profile").as_uri()
        subprocess.run(
            [soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to",
             "doc:MS Word 97", "--outdir", str(folder), str(paths[1])],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        paths.append(folder / "story.doc")
    return paths


def run(quick: bool) -> list[Row]:
    samples = sample_paths()[:1] if quick else sample_paths()
    repeats = 1 if quick else REPEATS
    text = "\n\n".join(write_story(extract_text(path)) for path in samples)
    words = f"{word_count(text):,} words"
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        paths = write_documents(text, folder)
        reads = {p.suffix: median_ms(partial(extract_text, p), repeats) for p in paths}
        for suffix, ms in reads.items():
            baseline = None if suffix == ".txt" else reads[".txt"]
            rows.append(
                Row(f"6 engine: extract_text {suffix}, {words}", ms, "ms", baseline, ".txt")
            )
        story_ms = median_ms(lambda: write_story(text), repeats)
        rows.append(Row(f"6 engine: write_story, {words}", story_ms, "ms"))
        chunks = split_into_chunks(text, WORDS_PER_CHUNK)
        rows += image_rows(chunks, folder, repeats)
        rows += speech_rows(chunks, folder)
    return rows


def image_rows(chunks: list[str], folder: Path, repeats: int) -> list[Row]:
    per_style: dict[str, float] = {}
    for style in ImageStyle:
        per_chunk = [
            median_ms(
                partial(
                    render_image,
                    chunk,
                    style=style,
                    index=index,
                    prompt=None,
                    path=folder / f"{index}.png",
                ),
                repeats,
            )
            for index, chunk in enumerate(chunks)
        ]
        per_style[str(style)] = statistics.mean(per_chunk)
    fastest = min(per_style, key=lambda style: per_style[style])
    return [
        Row(f"6 engine: render_image {style}, per chunk", ms, "ms", per_style[fastest], fastest)
        for style, ms in per_style.items()
    ]


def speech_rows(chunks: list[str], folder: Path) -> list[Row]:
    synthesize("warm up", voice="Achird", model=ModelVoice.FLASH, path=folder / "warm.wav")
    paths = [folder / f"{index}.wav" for index in range(len(chunks))]
    rows = []
    for model in ModelVoice:
        elapsed, audio = 0.0, 0.0
        for chunk, path in zip(chunks, paths, strict=True):
            start = time.perf_counter()
            audio += synthesize(chunk, voice="Achird", model=model, path=path)
            elapsed += time.perf_counter() - start
        rows.append(
            Row(
                f"6 engine: synthesize {model.value}, per chunk",
                elapsed / len(chunks) * 1000,
                "ms",
                baseline=audio / len(chunks) * 1000,
                baseline_label="audio made",
            )
        )
    merged = folder / "merged.wav"
    merge_ms = median_ms(lambda: merge_wavs(paths, merged), 1)
    seconds = merge_wavs(paths, merged)
    rows.append(
        Row(
            f"6 engine: merge_wavs, {len(paths)} chunks",
            merge_ms,
            "ms",
            note=f"{seconds:.0f} s of audio",
        )
    )
    return rows


if __name__ == "__main__":
    raise SystemExit(main(run, __doc__))
