"""Runs made by ``BatchSession`` against a real reference server, for the tests to study."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from batchkit.client import StoryClient
from batchkit.config import BatchConfig
from batchkit.server.launcher import EmbeddedServer
from batchkit.session import BatchSession
from batchkit.tracker import BatchRun

USERS = {"ada": "ada-password"}


@dataclass(frozen=True, slots=True)
class MadeRun:
    """A finished run and the directory it was saved to."""

    run: BatchRun
    directory: Path
    config: BatchConfig


def bad_files(folder: Path) -> list[Path]:
    """An empty .txt and a PDF: both rejected before anything is sent."""
    folder.mkdir(parents=True, exist_ok=True)
    empty = folder / "empty.txt"
    empty.write_bytes(b"")
    pdf = folder / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%fake\n")
    return [empty, pdf]


async def make_run(
    server: EmbeddedServer, runs_dir: Path, documents: list[Path], config: BatchConfig
) -> MadeRun:
    async with StoryClient(server.url, username="ada", password=USERS["ada"], env={}) as client:
        session = BatchSession(client, runs_dir=runs_dir)
        run = await session.run_batch(documents, config)
        assert session.run_dir is not None
        return MadeRun(run, session.run_dir, config)
