"""Where the server keeps things under its data directory, and the names it gives them."""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["PRIVATE_DIR_MODE", "DataPaths", "safe_stem", "stored_upload_path"]

logger = logging.getLogger(__name__)

PRIVATE_DIR_MODE = 0o700
"""The data directory holds the signing secret and the password hashes: its owner's only."""

UPLOADS_PREFIX = "uploads/original"
_STEM_MAX = 60
_UNSAFE = re.compile(r"[^\w\-]+")
_MEDIA_NAME = re.compile(r"^[a-z0-9_]{1,64}\.(png|wav|txt)$")


def safe_stem(client_name: str) -> str:
    """A file-name stem made from what a client called its file, safe to use on disk.

    Drops any directory part (``/`` or ``\\``), the extension, control characters and anything
    but letters, digits, ``-`` and ``_``; never empty, never longer than 60 characters.
    """
    base = re.split(r"[\\/]", client_name)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = "".join(
        ch for ch in unicodedata.normalize("NFKC", stem) if unicodedata.category(ch)[0] != "C"
    )
    stem = _UNSAFE.sub("_", stem).strip("_-")
    return stem[:_STEM_MAX].rstrip("_-") or "file"


def stored_upload_path(client_name: str, extension: str) -> str:
    """``uploads/original/<stem>_<ms>_<rand><ext>``: unique, and nothing the client chose
    but a sanitised stem."""
    millis = int(time.time() * 1000)
    return f"{UPLOADS_PREFIX}/{safe_stem(client_name)}_{millis}_{secrets.token_hex(4)}{extension}"


@dataclass(frozen=True, slots=True)
class DataPaths:
    """The layout of a data directory: ``batchkit.sqlite3``, ``uploads/``, ``media/<story>/``."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "batchkit.sqlite3"

    @property
    def uploads(self) -> Path:
        return self.root / UPLOADS_PREFIX

    def stored_file(self, relative_path: str) -> Path | None:
        """The file of an upload's ``filePath``; ``None`` if the path could leave ``uploads/``."""
        parts = PurePosixPath(relative_path).parts
        if len(parts) != 3 or "/".join(parts[:2]) != UPLOADS_PREFIX or parts[2] in {".", ".."}:
            return None
        return self.uploads / parts[2]

    def media_dir(self, story_id: str) -> Path:
        return self.root / "media" / story_id

    def media_file(self, story_id: str, name: str) -> Path | None:
        """A generated file's path; ``None`` for a name the server would never have made."""
        if not _MEDIA_NAME.match(name) or not re.fullmatch(r"[0-9a-f]{24}", story_id):
            return None
        return self.media_dir(story_id) / name

    def make_dirs(self) -> None:
        """Make the layout, the data directory itself private to its owner."""
        self.root.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        os.chmod(self.root, PRIVATE_DIR_MODE)
        self.uploads.mkdir(parents=True, exist_ok=True)
        (self.root / "media").mkdir(parents=True, exist_ok=True)

    def remove_partial_uploads(self) -> int:
        """Delete the ``.part`` files an upload cut short by a crash left; returns how many.

        Called before the server serves, when no upload can be in progress.
        """
        removed = 0
        for partial in self.uploads.glob("*.part"):
            partial.unlink(missing_ok=True)
            removed += 1
        if removed:
            logger.info("removed %d partial upload(s) left by an earlier stop", removed)
        return removed
