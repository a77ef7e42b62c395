"""A run report: one HTML file that opens anywhere, with no network and no kernel.

:func:`report` writes, for one or several saved runs: the runs and their servers, the settings,
each run's per-file table with its per-step statuses, its timeline and step durations (SVG inside
the page), its failures, the comparison of the runs, the comparison matrix with its pictures,
sound and marks, and the versions of batchkit and what it runs on. Anchored on Dask's
``performance_report``: a file to hand to someone.

Media (``media=``):

* ``"embed"`` (the default): inside the file, made small: pictures as thumbnails of at most
  ``thumbnail_px`` (240) pixels, audio as the first ``audio_seconds`` (30) seconds at 8 kHz
  µ-law (8 kB a second). Pictures go in first, then clips, until ``max_media_mb`` (20 MB) of
  media are in; past that cap a cell says what was left out and how to get it.
* ``"link"``: links to the files kept next to the runs (full size; the report then needs them
  beside it, at the same relative place).
* ``"none"``: no media.

The report reads only files: fetch the media first (:func:`~batchkit.analysis.fetch_media`, or
:func:`~batchkit.analysis.open_matrix`, or ``batchkit report``, which fetches what is missing).
A Content-Security-Policy in the page forbids it any request (in link mode: any but local files).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Final, Literal
from urllib.parse import quote

from batchkit import __version__
from batchkit.analysis.comparison import GridPoint
from batchkit.analysis.matrix import (
    ComparisonMatrix,
    MatrixCell,
    MatrixColumn,
    RunsGiven,
    comparison_matrix,
)
from batchkit.analysis.matrix_html import MediaItem, escape, matrix_table
from batchkit.analysis.media_formats import Media, as_media, audio_clip, thumbnail, wav_seconds
from batchkit.analysis.report_parts import versions_table
from batchkit.analysis.report_runs import (
    comparison_section,
    marks_section,
    run_section,
    runs_overview,
)
from batchkit.analysis.sources import RunLike, as_run
from batchkit.errors import ConfigError
from batchkit.tracker import BatchRun

__all__ = ["MEDIA_MODES", "ReportMedia", "report"]

ReportMedia = Literal["embed", "link", "none"]
MEDIA_MODES: Final = ("embed", "link", "none")
_HERE: Final = Path(__file__).parent
_CSP: Final = {
    "embed": "img-src data:; media-src data:",
    "link": "img-src data: 'self' file:; media-src data: 'self' file:",
    "none": "img-src data:; media-src 'none'",
}


def report(
    runs: RunsGiven,
    path: str | os.PathLike[str] = "report.html",
    *,
    grid: Iterable[GridPoint] | None = None,
    media: ReportMedia = "embed",
    max_media_mb: float = 20.0,
    thumbnail_px: int = 240,
    audio_seconds: float | None = 30.0,
    title: str = "batchkit run report",
) -> Path:
    """Write the report of ``runs`` (runs, run folders, or label → run) to ``path``; returns it.

    See the module docstring for what it holds and for ``media``; ``audio_seconds=None`` embeds
    whole clips. Written whole or not at all.
    """
    if media not in MEDIA_MODES:
        raise ConfigError(f"choose one of {', '.join(MEDIA_MODES)}, not {media!r}", field="media")
    if max_media_mb < 0 or thumbnail_px < 16:
        raise ConfigError("give a media cap of 0 MB or more and thumbnails of 16 px or more",
                          field="max_media_mb")  # fmt: skip
    target = Path(path).expanduser()
    loaded = _loaded(runs)
    matrix = comparison_matrix(loaded, grid)
    placed = _MediaPlacer(media, int(max_media_mb * 1_000_000), thumbnail_px, audio_seconds)
    placed.place(matrix, target.parent.resolve())
    page = _page(title, matrix, list(loaded.values()), placed)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(page, encoding="utf-8")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _loaded(runs: RunsGiven) -> dict[str, BatchRun]:
    """The runs by label (a run's own id when it has none), each loaded once."""
    pairs: list[tuple[str | None, RunLike]] = (
        [(str(key), run) for key, run in runs.items()]
        if isinstance(runs, Mapping)
        else [(None, run) for run in runs]
    )
    loaded: dict[str, BatchRun] = {}
    for key, run in pairs:
        batch_run = as_run(run)
        loaded[key or batch_run.run_id] = batch_run
    return loaded


class _MediaPlacer:
    """Decides, for each picture and clip, what the page holds: a ``data:`` URI, a link, or
    nothing (and why). Pictures first, then clips, until the cap."""

    def __init__(
        self, mode: ReportMedia, cap: int, thumbnail_px: int, audio_seconds: float | None
    ) -> None:
        self.mode = mode
        self.cap = cap
        self.thumbnail_px = thumbnail_px
        self.audio_seconds = audio_seconds
        self.sources: dict[Path, str] = {}
        self.captions: dict[Path, str] = {}
        self.embedded = 0
        self.left_out = 0

    def place(self, matrix: ComparisonMatrix, folder: Path) -> None:
        cells = [cell for cell in matrix.cells.values() if cell.media is not None]
        images = [path for cell in cells for path in cell.media.images]  # type: ignore[union-attr]
        audio = [path for cell in cells for path in cell.media.audio]  # type: ignore[union-attr]
        if self.mode == "none":
            self.left_out = len(images) + len(audio)
            return
        for path in [*images, *audio]:
            if self.mode == "link":
                self.sources[path] = _link(path, folder)
                continue
            small = self._small(path, path in audio)
            encoded = base64.b64encode(small.data).decode("ascii")
            if self.embedded + len(encoded) > self.cap:
                self.left_out += 1
                continue
            self.embedded += len(encoded)
            self.sources[path] = f"data:{small.mime};base64,{encoded}"

    def _small(self, path: Path, is_audio: bool) -> Media:
        data = path.read_bytes()
        if not is_audio:
            return thumbnail(data, self.thumbnail_px)
        seconds = wav_seconds(data)
        if self.audio_seconds is not None and seconds and seconds > self.audio_seconds:
            self.captions[path] = f"first {self.audio_seconds:g} s of {seconds:.0f} s"
        clip = audio_clip(data, self.audio_seconds)
        return clip if clip.mime == "audio/wav" else as_media(data)

    def why_missing(self) -> str:
        if self.mode == "none":
            return "left out of this report (media='none')"
        return (
            f"not embedded: the report's media cap ({self.cap / 1e6:g} MB) was reached; "
            "make it with a larger max_media_mb (--max-media-mb) or media='link' (--media link)"
        )

    # MatrixParts
    def media(self, item: MediaItem) -> str:
        source = self.sources.get(item.path)
        if source is None:
            return f'<p class="bk-mx-note">{escape(item.label)}: {escape(self.why_missing())}</p>'
        if item.kind == "image":
            return f'<img src="{escape(source)}" alt="{escape(item.alt)}" width="240" height="150">'
        caption = escape(item.label)
        if item.path in self.captions:
            caption += f" ({escape(self.captions[item.path])})"
        return (
            f"<figure><figcaption>{caption}</figcaption><audio controls "
            f'preload="metadata" src="{escape(source)}" aria-label="{escape(item.alt)}"></audio>'
            "</figure>"
        )

    def mark(self, cell: MatrixCell, cell_key: str, column: MatrixColumn) -> str:
        mark = cell.mark
        if mark is None:
            return ""
        rating = mark.rating.value if mark.rating is not None else None
        shown = {"better": "▲ better", "worse": "▼ worse"}.get(rating or "", "noted")
        note = f": {escape(mark.note)}" if mark.note else ""
        return (
            f'<p class="bk-mx-mark"><span class="bk-mx-rating-{rating or "none"}">{shown}</span>'
            f"{note}</p>"
        )


def _link(path: Path, folder: Path) -> str:
    try:
        return quote(Path(os.path.relpath(path.resolve(), folder)).as_posix())
    except ValueError:  # another drive: only an absolute link reaches it
        return path.resolve().as_uri()


@cache
def _stylesheet() -> str:
    shared = (_HERE / "matrix.css").read_text(encoding="utf-8")
    return (_HERE / "report.css").read_text(encoding="utf-8") + shared


def _page(title: str, matrix: ComparisonMatrix, runs: list[BatchRun], placed: _MediaPlacer) -> str:
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections = [("runs", "Runs", runs_overview(matrix, runs))]
    if len(runs) > 1:
        sections.append(("comparison", "The runs compared", comparison_section(matrix, runs)))
    sections.append(("matrix", "Stories, pictures and sound", _matrix_section(matrix, placed)))
    marks = marks_section(matrix, runs)
    if marks:
        sections.append(("marks", "Marks", marks))
    for number, (column, run) in enumerate(zip(matrix.columns, runs, strict=True), start=1):
        sections.append((f"run-{number}", f"Run {column.label}", run_section(column, run)))
    sections.append(("versions", "Versions", versions_table()))
    nav = "".join(f'<li><a href="#{key}">{escape(name)}</a></li>' for key, name, _ in sections)
    body = "".join(
        f'<section id="{key}" aria-labelledby="{key}-h"><h2 id="{key}-h">{escape(name)}</h2>'
        f"{content}</section>"
        for key, name, content in sections
    )
    csp = f"default-src 'none'; style-src 'unsafe-inline'; {_CSP[placed.mode]}"
    summary = (
        f"{len(runs)} run{'s' if len(runs) != 1 else ''} · {len(matrix.documents)} documents · "
        f"made {made} by batchkit {escape(__version__)}"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="batchkit {escape(__version__)}">'
        f"<title>{escape(title)}</title><style>{_stylesheet()}</style></head><body>"
        '<a class="bk-skip" href="#main">Skip to the report</a>'
        f'<header><h1>{escape(title)}</h1><p class="bk-meta">{summary}</p>'
        f'<nav aria-label="Contents"><ul>{nav}</ul></nav></header>'
        f'<main id="main">{body}</main>'
        f"<footer><p>{escape(_media_words(placed))}</p></footer></body></html>"
    )


def _matrix_section(matrix: ComparisonMatrix, placed: _MediaPlacer) -> str:
    if not matrix.documents:
        return "<p>No document in these runs.</p>"
    filters = (
        '<div class="bk-filters" role="group" aria-label="Filters">'
        '<label><input type="checkbox" id="bk-only-failures"> only documents that failed '
        "somewhere</label>"
        '<label><input type="checkbox" id="bk-only-differences"> only documents whose cells '
        "differ</label></div>"
    )
    caption = "Each document (rows) under each run's settings (columns)"
    return filters + matrix_table(matrix, placed, caption=caption)


def _media_words(placed: _MediaPlacer) -> str:
    if placed.mode == "link":
        return "Media are linked to the files kept next to the runs (full size)."
    if placed.mode == "none":
        return "Media were left out of this report."
    words = f"Media embedded: {placed.embedded / 1e6:.1f} MB (cap {placed.cap / 1e6:g} MB)"
    if placed.left_out:
        words += f"; {placed.left_out} left out past the cap"
    return words + ". Pictures are thumbnails; clips are 8 kHz µ-law."
