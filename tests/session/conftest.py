"""Fixtures of the session tests: the real reference server and the production double, real files.

Waiting is always on a condition of the run (its subscribers), never on a fixed sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from production import ProductionDouble, start_production_double

from batchkit.client import StoryClient
from batchkit.server.launcher import EmbeddedServer, start_embedded_server
from batchkit.tracker import BatchRun

USERS = {"alice": "alice-pw", "bob": "bob-pw"}
STORY = (
    "The lighthouse keeper counted the ships coming home. Each evening she climbed the stairs, "
    "trimmed the wick and watched the harbour fill with small boats and tired voices. "
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    with start_embedded_server(data_dir=tmp_path / "srv", users=USERS, workers=2) as running:
        yield running


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """Paced so that a batch is still running when the test interferes with it."""
    with start_embedded_server(
        data_dir=tmp_path / "slow", users=USERS, workers=2, pace=0.15
    ) as running:
        yield running


@pytest.fixture
async def client(server: EmbeddedServer) -> AsyncIterator[StoryClient]:
    async with StoryClient(server.url, username="alice", password="alice-pw", env={}) as c:
        yield c


@pytest.fixture
def production() -> Iterator[ProductionDouble]:
    with start_production_double(pace=0.02) as double:
        yield double


def write_texts(folder: Path, count: int, words: int = 120) -> list[Path]:
    """``count`` real .txt documents of about ``words`` words each."""
    folder.mkdir(parents=True, exist_ok=True)
    text = " ".join((STORY * (words // len(STORY.split()) + 1)).split()[:words])
    paths = []
    for i in range(count):
        path = folder / f"story_{i:02d}.txt"
        path.write_text(f"Chapter {i}. {text}", encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture
def documents(tmp_path: Path) -> Callable[..., list[Path]]:
    return lambda count, words=120: write_texts(tmp_path / "docs", count, words)


async def wait_for(
    run: BatchRun, condition: Callable[[BatchRun], bool], within: float = 30
) -> None:
    """Return as soon as ``condition(run)`` holds, checked after every change of the run."""
    reached = asyncio.Event()

    def check(changed: BatchRun) -> None:
        if condition(changed):
            reached.set()

    unsubscribe = run.subscribe(check)
    try:
        check(run)
        await asyncio.wait_for(reached.wait(), within)
    finally:
        unsubscribe()
