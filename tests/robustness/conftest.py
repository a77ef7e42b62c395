"""Fixtures of the robustness tests: real reference servers, real clients, the server's own truth.

Everything runs against the real reference server on loopback (uvicorn, socket.io, SQLite, the
local engines). Waiting is on conditions of the run (its subscribers) or, where nothing can be
subscribed to, on a polled condition with a deadline; never on a fixed sleep.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from session.conftest import USERS

from batchkit.client import RetryPolicy, StoryClient
from batchkit.contract import FileState
from batchkit.server import EmbeddedServer, start_embedded_server
from batchkit.session import FollowOptions
from batchkit.tracker import BatchRun

FAST = FollowOptions(poll_interval=0.2, quiet_poll_interval=1.0)
STORED_NAME = re.compile(r"[\w-]{1,60}_\d{13}_[0-9a-f]{8}\.(txt|doc|docx)")
"""A name the server makes for an upload: a sanitised stem, milliseconds, random hex."""
WITHIN = 30.0
"""Deadline of one wait: generous for a loaded 2-core machine, never reached when green."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    with start_embedded_server(data_dir=tmp_path / "srv", users=USERS, workers=2) as running:
        yield running


def login(
    server: EmbeddedServer,
    user: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
) -> StoryClient:
    """A client of ``server`` for one of :data:`USERS` (it logs in on its first request)."""
    return StoryClient(
        server.url,
        username=user,
        password=USERS[user],
        env={},
        transport=transport,
        retry=retry,
    )


@pytest.fixture
async def alice(server: EmbeddedServer) -> AsyncIterator[StoryClient]:
    async with login(server, "alice") as client:
        await client.login()
        yield client


@pytest.fixture
async def bob(server: EmbeddedServer) -> AsyncIterator[StoryClient]:
    async with login(server, "bob") as client:
        await client.login()
        yield client


async def wait_for_runs(
    runs: Iterable[BatchRun], condition: Callable[[], bool], within: float = WITHIN
) -> None:
    """Return as soon as ``condition()`` holds, checked after every change of any of ``runs``."""
    reached = asyncio.Event()

    def check(_: BatchRun) -> None:
        if condition():
            reached.set()

    unsubscribes = [run.subscribe(check) for run in runs]
    try:
        if condition():
            return
        await asyncio.wait_for(reached.wait(), within)
    finally:
        for unsubscribe in unsubscribes:
            unsubscribe()


async def until(condition: Callable[[], bool], within: float = WITHIN) -> None:
    """Poll ``condition`` (for state nothing can subscribe to) until it holds or time is up."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the state polled offers no event to await
            await asyncio.sleep(0.02)


async def assert_rows_equal_server_truth(run: BatchRun, client: StoryClient) -> None:
    """Every row of every batch says what the server's status says: story id, status, steps
    and, for a failed file, the server's error."""
    frame = run.files
    for batch_id in run.batch_ids:
        status = await client.batch_status(batch_id)
        assert status.results is not None
        rows = frame[frame["batch_id"] == batch_id].sort_values("batch_index")
        assert len(rows) == len(status.results) == status.total_stories
        for (_, row), result in zip(rows.iterrows(), status.results, strict=True):
            assert row["story_id"] == result.story_id, row["name"]
            assert row["status"] == str(result.status), (row["name"], result.error)
            steps = ",".join(str(step) for step in result.completed_steps)
            assert row["completed_steps"] == steps, row["name"]
            if result.status is FileState.FAILED:
                assert result.error, row["name"]
                assert result.error in str(row["error"]), row["name"]


def count_rows(server: EmbeddedServer, table: str) -> int:
    """Rows of one table in the server's own SQLite file, read behind its back."""
    if table not in {"batches", "stories", "uploads", "batch_files"}:
        raise ValueError(table)
    database = server.data_dir / "batchkit.sqlite3"
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        (count,) = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608 - a checked table name
    return int(count)


def stored_upload_paths(server: EmbeddedServer) -> list[str]:
    """The ``file_path`` of every upload the server recorded."""
    database = server.data_dir / "batchkit.sqlite3"
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        return [path for (path,) in connection.execute("SELECT file_path FROM uploads")]


def assert_uploads_stay_inside(server: EmbeddedServer, tmp_path: Path) -> None:
    """Every stored original is in ``uploads/original/`` under a name the server made."""
    root = server.data_dir.resolve()
    originals = root / "uploads" / "original"
    on_disk = [p for p in (root / "uploads").rglob("*") if p.is_file()]
    assert on_disk, "nothing was stored at all"
    for path in on_disk:
        assert path.resolve().parent == originals, path
        assert STORED_NAME.fullmatch(path.name), path.name
    recorded = stored_upload_paths(server)
    assert {str((root / p).resolve()) for p in recorded} == {str(p.resolve()) for p in on_disk}
    # Nothing landed where a traversal would have put it, relative to any folder of the test.
    escaped = [p for p in tmp_path.rglob("*") if p.resolve().parent != originals]
    assert not [p for p in escaped if "passwd" in p.name or "evil" in p.name or p.name == "etc"]
