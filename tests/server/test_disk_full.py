"""A disk that fills up during a pipeline: the story fails clearly, the server goes on.

The disk is real: ``batchkit serve`` runs in a mount namespace of its own (``unshare``; with a
user namespace too when the tests do not run as root) where its data directory is a small
tmpfs, so every write of the server, its SQLite database and its engine workers can really fail
with ``ENOSPC``. The test reaches that filesystem through ``/proc/<pid>/root``, fills it with a
file of zeros while a batch waits to start, frees it again, and checks the server's answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest

from .conftest import TIMEOUT, USERS, Api, login, story_text

DISK_MIB = 24
LISTENING = re.compile(rb"listening on (http://127\.0\.0\.1:\d+)")
AUDIO_ONLY = {
    "enabled": True,
    "generateImages": False,
    "generateAudio": True,
    "mergeAudio": True,
}


@dataclass
class SmallDiskServer:
    url: str
    process: asyncio.subprocess.Process
    data_dir: Path
    """The data directory as this process sees it: the server's tmpfs, through /proc."""

    def fill(self, *, leave: int) -> Path:
        """Write zeros until the disk is full, then give back ``leave`` bytes."""
        filler = self.data_dir / "filler"
        chunk = b"\0" * (1024 * 1024)
        with filler.open("wb", buffering=0) as out:
            assert _write_until_refused(out, chunk) == errno.ENOSPC
        written = filler.stat().st_size
        os.truncate(filler, max(0, written - leave))
        return filler


def _write_until_refused(out: BinaryIO, chunk: bytes) -> int | None:
    """Write ``chunk`` again and again; the errno of the write that was refused."""
    while True:
        try:
            out.write(chunk)
        except OSError as exc:
            return exc.errno


def _unshare_command(data_dir: Path, *options: str) -> list[str]:
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    mount = f'mount -t tmpfs -o size={DISK_MIB}m tmpfs "$0" && exec "$@"'
    serve = [
        sys.executable, "-m", "batchkit.cli", "serve", "--port", "0", "--workers", "1",
        "--data-dir", str(data_dir), "--user", f"alice:{USERS['alice']}", *options,
    ]  # fmt: skip
    return ["unshare", "--mount", *user, "sh", "-c", mount, str(data_dir), *serve]


StartServer = Callable[..., Awaitable[SmallDiskServer]]


@pytest.fixture
async def small_disk(tmp_path: Path) -> AsyncIterator[StartServer]:
    """Start ``batchkit serve OPTIONS...`` on a small disk of its own (stopped at teardown)."""
    processes: list[asyncio.subprocess.Process] = []

    async def start(*options: str) -> SmallDiskServer:
        mount_point = tmp_path / "disk"
        mount_point.mkdir()
        process = await asyncio.create_subprocess_exec(
            *_unshare_command(mount_point, *options),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        processes.append(process)
        assert process.stdout is not None
        async with asyncio.timeout(TIMEOUT):
            while not (match := LISTENING.search(await process.stdout.readline())):
                assert process.returncode is None, "the server in its namespace did not start"
        inside = Path(f"/proc/{process.pid}/root") / str(mount_point).lstrip("/")
        return SmallDiskServer(match.group(1).decode(), process, inside)

    yield start
    for process in processes:
        if process.returncode is None:
            process.terminate()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TIMEOUT):
                await process.wait()


async def _log_after_stop(server: SmallDiskServer) -> str:
    server.process.terminate()
    assert server.process.stderr is not None
    return (await server.process.stderr.read()).decode()


async def test_a_disk_full_mid_pipeline_fails_the_story_and_the_server_works_once_freed(
    small_disk: StartServer,
) -> None:
    """The speech worker runs out of room: it removes its half-written clip, which leaves the
    server room enough to record the failure at once."""
    server = await small_disk()
    api: Api = await login(server.url, "alice", USERS["alice"])
    try:
        # ~2,000 words: four clips of ~7 MB of speech, more than the disk will have.
        [uploaded, short] = await api.upload(
            ("tale.txt", story_text(2_000).encode()), ("short.txt", story_text(200).encode())
        )
        filler = server.fill(leave=2 * 1024 * 1024)

        batch = await api.create_batch([uploaded["fileUrl"]], AUDIO_ONLY)
        status = await api.wait_for_status(batch["data"]["batchId"])
        [result] = status["results"]
        assert status["status"] == "failed"
        assert result["status"] == "failed"
        assert result["completedSteps"] == ["story"]
        assert "the server's disk is full" in result["error"]
        assert "free some space and run it again" in result["error"]
        assert not list((server.data_dir / "media").rglob("*.wav"))  # nothing half-written

        filler.unlink()
        again = await api.create_batch([short["fileUrl"]], AUDIO_ONLY)
        status = await api.wait_for_status(again["data"]["batchId"])
        assert status["status"] == "completed", status["results"][0]["error"]
        assert status["results"][0]["completedSteps"] == ["story", "audio", "merge"]
    finally:
        await api.http.aclose()
    log = await _log_after_stop(server)
    assert "Traceback" not in log
    assert "never retrieved" not in log


async def _until_story_text_is_written(api: Api, batch_id: str) -> None:
    """Poll (a condition with a deadline) until the story step reports 40 %: its text is on disk
    and the pace holds the story there for a while."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            if (await api.status(batch_id))["results"][0]["stepProgress"] == 40:
                return
            await asyncio.sleep(0.02)


async def test_a_failure_the_full_disk_cannot_hold_is_recorded_once_space_is_freed(
    small_disk: StartServer,
) -> None:
    """The disk fills up completely between two steps (the pace of 2 s holds the story there),
    so SQLite itself cannot record the failure: the story stays as it was until there is room,
    then ends failed with the reason, and nothing is left stuck."""
    server = await small_disk("--pace", "2")
    api: Api = await login(server.url, "alice", USERS["alice"])
    assert server.process.stderr is not None
    try:
        [uploaded] = await api.upload(("short.txt", story_text(200).encode()))
        batch_id = (await api.create_batch([uploaded["fileUrl"]], AUDIO_ONLY))["data"]["batchId"]
        await _until_story_text_is_written(api, batch_id)
        filler = server.fill(leave=0)
        async with asyncio.timeout(TIMEOUT):
            while b"will be recorded once there is room" not in (
                await server.process.stderr.readline()
            ):
                pass
        assert (await api.status(batch_id))["results"][0]["status"] == "processing"

        filler.unlink()
        status = await api.wait_for_status(batch_id)
        [result] = status["results"]
        assert (status["status"], result["status"]) == ("failed", "failed")
        assert "the server's disk is full" in result["error"]
    finally:
        await api.http.aclose()
    log = await _log_after_stop(server)
    assert "Traceback" not in log
    assert "never retrieved" not in log
