"""Fetching the stories' text, pictures and sound, once, into the runs' folders.

:func:`fetch_media` asks the server for each finished story of the runs not kept yet (its text,
and the media URLs the reference server lists, contract EXT) and downloads the pictures and the
audio concurrently (``concurrency`` requests at a time over the client's connection pool) into
the run's folder (:mod:`~batchkit.analysis.media_store`). :func:`open_matrix` does that, then
builds the comparison matrix. The only modules of :mod:`batchkit.analysis` that use the network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from batchkit.analysis.comparison import GridPoint
from batchkit.analysis.matrix import ComparisonMatrix, RunsGiven, comparison_matrix
from batchkit.analysis.media_formats import MIME_TYPES
from batchkit.analysis.media_store import (
    MANIFEST,
    CachedFile,
    Manifest,
    Wanted,
    cached_media,
    story_folder,
    wanted_stories,
    write_atomically,
)
from batchkit.analysis.sources import RunLike
from batchkit.client import StoryClient
from batchkit.contract.rest import StoryResponse
from batchkit.contract.signatures import media_format
from batchkit.errors import BatchkitError

__all__ = ["MediaFetch", "fetch_media", "open_matrix"]


@dataclass(frozen=True, slots=True)
class MediaFetch:
    """What :func:`fetch_media` did: stories found on disk, fetched, and the failures."""

    stories: int
    cached: int
    fetched: int
    files: int
    """Media files downloaded."""
    failures: tuple[str, ...]
    """One sentence per story whose media could not be fetched (they are not cached)."""


async def fetch_media(
    runs: Iterable[RunLike], client: StoryClient, *, concurrency: int = 8, max_images: int = 12
) -> MediaFetch:
    """Fetch and keep the text and media of every finished story of ``runs`` not kept yet.

    At most ``concurrency`` requests are in flight at once; at most ``max_images`` pictures are
    kept per story. A story whose media cannot be fetched is left out (and tried again next
    time), its reason in :attr:`MediaFetch.failures`; the others are kept. Runs that live only
    in memory (no folder) are skipped.
    """
    wanted = wanted_stories(runs)
    missing = [w for w in wanted if cached_media(w.directory, w.story_id, w.attempt) is None]
    gate = asyncio.Semaphore(max(concurrency, 1))
    results = await asyncio.gather(
        *(_fetch_story(client, item, gate, max_images) for item in missing)
    )
    failures = tuple(message for message, _ in results if message is not None)
    return MediaFetch(
        stories=len(wanted),
        cached=len(wanted) - len(missing),
        fetched=len(missing) - len(failures),
        files=sum(count for _, count in results),
        failures=failures,
    )


async def _fetch_story(
    client: StoryClient, item: Wanted, gate: asyncio.Semaphore, max_images: int
) -> tuple[str | None, int]:
    try:
        async with gate:
            story = await client.story(item.story_id)
        folder = story_folder(item.directory, item.story_id, item.attempt)
        folder.mkdir(parents=True, exist_ok=True)
        images, audio = _wanted_files(story, max_images)
        kept = await asyncio.gather(
            *(_download(client, gate, folder, *entry) for entry in (*images, *audio))
        )
    except (BatchkitError, OSError) as error:
        return f"{item.name} (story {item.story_id}): could not fetch its media: {error}", 0
    manifest = Manifest(
        story_id=item.story_id,
        attempt=item.attempt,
        title=story.title,
        text=story.generated_content,
        listed=story.media is not None,
        fetched_at=datetime.now(UTC),
        images=list(kept[: len(images)]),
        audio=list(kept[len(images) :]),
    )
    write_atomically(folder / MANIFEST, manifest.model_dump_json(indent=1).encode())
    return None, len(kept)


def _wanted_files(story: StoryResponse, max_images: int) -> tuple[list[_Entry], list[_Entry]]:
    media = story.media
    if media is None:
        return [], []
    images = [(f"image-{i:03d}", img.url, f"picture {i + 1}") for i, img in enumerate(media.images)]
    if media.merged_audio is not None:
        audio = [("audio-merged", media.merged_audio.url, "merged audio")]
    else:
        audio = [
            (f"audio-{i:03d}", clip.url, f"audio chunk {i + 1}")
            for i, clip in enumerate(sorted(media.audio, key=lambda c: c.index))
        ]
    return images[:max_images], audio


_Entry = tuple[str, str, str]


async def _download(
    client: StoryClient, gate: asyncio.Semaphore, folder: Path, stem: str, url: str, label: str
) -> CachedFile:
    async with gate:
        data = await client.fetch_media(url)
    found = media_format(data, url)
    name = f"{stem}.{found if found in MIME_TYPES else 'bin'}"  # never a suffix from the URL
    write_atomically(folder / name, data)
    return CachedFile(name=name, url=url, label=label, size=len(data))


async def open_matrix(
    runs: RunsGiven,
    client: StoryClient | None = None,
    grid: Iterable[GridPoint] | None = None,
    *,
    concurrency: int = 8,
) -> ComparisonMatrix:
    """:func:`fetch_media` for the stories not kept yet (with ``client``; none: only what is
    on disk), then :func:`~batchkit.analysis.comparison_matrix`. Opening it again costs no
    request."""
    if client is not None:
        given = list(runs.values()) if isinstance(runs, Mapping) else list(runs)
        await fetch_media(given, client, concurrency=concurrency)
    return comparison_matrix(runs, grid)
