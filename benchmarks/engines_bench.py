"""Time the reference server's local engines on a ~2,000-word story.

Run with ``python benchmarks/engines_bench.py``. The text is the four shipped samples joined;
it is written as .txt, .docx (python-docx) and .doc (LibreOffice, when ``soffice`` is on PATH),
then every engine step runs as the pipeline would, at 500 words per chunk. Each figure is the
median of several runs, in milliseconds.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
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

WORDS_PER_CHUNK = 500
REPEATS = 5


def median_ms(action: Callable[[], object], repeats: int = REPEATS) -> float:
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


def main() -> None:
    text = "\n\n".join(write_story(extract_text(path)) for path in sample_paths())
    print(f"text: {word_count(text)} words, chunks of {WORDS_PER_CHUNK}")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for path in write_documents(text, folder):
            print(f"extract_text {path.suffix:<6} {median_ms(lambda p=path: extract_text(p)):8.1f}")
        print(f"write_story         {median_ms(lambda: write_story(text)):8.1f}")
        chunks = split_into_chunks(text, WORDS_PER_CHUNK)
        for style in ImageStyle:
            per_chunk = [
                median_ms(
                    lambda c=chunk, i=index, s=style: render_image(
                        c, style=s, index=i, prompt=None, path=folder / f"{i}.png"
                    )
                )
                for index, chunk in enumerate(chunks)
            ]
            print(f"render_image {style:<13} {statistics.mean(per_chunk):6.1f} per chunk")
        time_speech(chunks, folder)


def time_speech(chunks: list[str], folder: Path) -> None:
    synthesize("warm up", voice="Achird", model=ModelVoice.FLASH, path=folder / "warm.wav")
    paths = [folder / f"{index}.wav" for index in range(len(chunks))]
    seconds = 0.0
    for model in ModelVoice:
        elapsed = []
        for chunk, path in zip(chunks, paths, strict=True):
            start = time.perf_counter()
            seconds = synthesize(chunk, voice="Achird", model=model, path=path)
            elapsed.append((time.perf_counter() - start) * 1000)
        print(
            f"synthesize {model.value:<30} {statistics.mean(elapsed):6.1f} per chunk "
            f"(last chunk {seconds:.1f} s of audio)"
        )
    merged = folder / "merged.wav"
    merge_time = median_ms(lambda: merge_wavs(paths, merged))
    total = merge_wavs(paths, merged)
    print(f"merge_wavs ({len(paths)} chunks)  {merge_time:8.1f}  -> {total:.1f} s of audio")


if __name__ == "__main__":
    main()
