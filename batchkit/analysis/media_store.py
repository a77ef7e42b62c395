"""The stories' text, pictures and sound kept next to a run, read without the network.

:func:`~batchkit.analysis.fetch_media` fills it; this module only reads and names it::

    <run>/media/<story id>/a<attempt>/story.json        what the server said, and what was kept
    <run>/media/<story id>/a<attempt>/image-000.png     each picture
    <run>/media/<story id>/a<attempt>/audio-merged.wav  the merged audio, else each chunk's

``story.json`` is written last, so its presence means the story's media are all there: opening
the runs again costs no request. A server that lists no media (production) is remembered as
such, and said so in words. Folder and file names are made here, never taken from the server.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from batchkit.analysis.sources import RunLike, as_run, run_directory
from batchkit.tracker import FileStatus

__all__ = [
    "MEDIA_FOLDER",
    "NOT_LISTED",
    "StoryMedia",
    "cached_media",
    "finished_stories",
    "story_folder",
    "uncached_stories",
]

MEDIA_FOLDER: Final = "media"
"""The folder of a run that keeps its stories' media."""
MANIFEST: Final = "story.json"
_SAFE_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
NOT_LISTED: Final = "this server does not list a story's media (production has no media URLs)"


class CachedFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    url: str
    label: str
    size: int


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    story_id: str
    attempt: int
    title: str
    text: str | None
    listed: bool
    fetched_at: AwareDatetime
    images: list[CachedFile]
    audio: list[CachedFile]


@dataclass(frozen=True, slots=True)
class StoryMedia:
    """One story's text and the media kept on disk for it (paths of files that exist)."""

    story_id: str
    attempt: int
    title: str
    text: str | None
    listed: bool
    """False when the server lists no media at all (production)."""
    images: tuple[Path, ...]
    audio: tuple[Path, ...]
    audio_labels: tuple[str, ...]
    """``merged audio``, or ``audio chunk 1``, ``audio chunk 2``..."""

    @property
    def note(self) -> str | None:
        """Why there is nothing to see or hear, in words; None when there is."""
        if not self.listed:
            return NOT_LISTED
        if not self.images and not self.audio:
            return "the server has no images or audio for this story"
        return None


def story_folder(directory: Path, story_id: str, attempt: int) -> Path:
    """Where one attempt of a story is kept: the id as given when it is a plain id, else a
    hash of it (a server's id is not trusted with a path)."""
    safe = (
        story_id if _SAFE_ID.fullmatch(story_id) else hashlib.sha256(story_id.encode()).hexdigest()
    )
    return directory / MEDIA_FOLDER / safe / f"a{max(int(attempt), 1)}"


def cached_media(directory: Path, story_id: str, attempt: int) -> StoryMedia | None:
    """The story's media kept in run folder ``directory``; None when it was never fetched (or a
    file has gone missing). Reads files only."""
    folder = story_folder(directory, story_id, attempt)
    try:
        manifest = Manifest.model_validate_json((folder / MANIFEST).read_bytes())
    except (OSError, ValidationError):
        return None
    files = [*manifest.images, *manifest.audio]
    if manifest.story_id != story_id or not all((folder / f.name).is_file() for f in files):
        return None
    return StoryMedia(
        story_id=story_id,
        attempt=manifest.attempt,
        title=manifest.title,
        text=manifest.text,
        listed=manifest.listed,
        images=tuple(folder / f.name for f in manifest.images),
        audio=tuple(folder / f.name for f in manifest.audio),
        audio_labels=tuple(f.label for f in manifest.audio),
    )


@dataclass(frozen=True, slots=True)
class Wanted:
    """A finished story of a saved run, whose media are wanted."""

    directory: Path
    story_id: str
    attempt: int
    name: str


def finished_stories(run: RunLike) -> list[tuple[int, str, int]]:
    """``(row, story_id, attempt)`` of each file of ``run`` that has a story and has finished."""
    files = as_run(run).files
    terminal = {str(FileStatus.COMPLETED), str(FileStatus.FAILED)}
    found: list[tuple[int, str, int]] = []
    columns = ("index", "story_id", "attempt", "status")
    for index, story_id, attempt, status in zip(*(files[c].tolist() for c in columns), strict=True):
        if pd.isna(story_id) or str(status) not in terminal:
            continue
        found.append((int(index), str(story_id), 1 if pd.isna(attempt) else int(attempt)))
    return found


def wanted_stories(runs: Iterable[RunLike]) -> list[Wanted]:
    wanted: list[Wanted] = []
    for run in runs:
        directory = run_directory(run)
        if directory is None:
            continue
        names = as_run(run).files["name"].tolist()
        for row, story_id, attempt in finished_stories(run):
            wanted.append(Wanted(directory, story_id, attempt, str(names[row])))
    return wanted


def uncached_stories(runs: Iterable[RunLike]) -> int:
    """How many finished stories of ``runs`` have no media kept yet (what a fetch would ask)."""
    return sum(
        cached_media(w.directory, w.story_id, w.attempt) is None for w in wanted_stories(runs)
    )


def write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)
