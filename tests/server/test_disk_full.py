"""A full disk, for real: ``batchkit serve`` on a data directory that is a 4 MiB tmpfs.

The tmpfs is mounted in a mount namespace of the server's own (``unshare --mount``), so nothing
outside the test sees it and it vanishes with the process; the test reaches the server's files
through ``/proc/<pid>/root``. Uploads on the full disk answer 507 with a message, keep nothing,
log no traceback, and the server goes on once there is room again. Partial uploads left by a
crash are removed at start-up.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from batchkit.server import start_embedded_server

from .conftest import TIMEOUT, USERS, login
from .test_command import _read_until_listening

MiB = 1024 * 1024
DISK = "4m"


@dataclass
class SmallDiskServer:
    process: asyncio.subprocess.Process
    url: str
    mount: Path

    @property
    def data_dir(self) -> Path:
        """The data directory as the server sees it (its tmpfs), from outside its namespace."""
        return Path(f"/proc/{self.process.pid}/root") / self.mount.relative_to("/")

    def uploads(self) -> list[str]:
        return sorted(p.name for p in (self.data_dir / "uploads" / "original").iterdir())


@pytest.fixture
async def small_disk(tmp_path: Path) -> AsyncIterator[SmallDiskServer]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    isolate = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        isolate.insert(1, "--map-root-user")
    script = (
        f'mount -t tmpfs -o size={DISK} tmpfs "$1" && exec "$2" -m batchkit.cli serve --port 0'
        f' --data-dir "$1" --user alice:{USERS["alice"]}'
    )
    process = await asyncio.create_subprocess_exec(
        *isolate, "sh", "-c", script, "sh", str(mount), sys.executable,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        url, _ = await _read_until_listening(process)
        yield SmallDiskServer(process, url, mount)
    finally:
        if process.returncode is None:
            process.terminate()
            async with asyncio.timeout(TIMEOUT):
                await process.wait()


def _fill(directory: Path) -> None:
    """Write a ballast file until the disk is full."""
    with pytest.raises(OSError, match="No space"):
        (directory / "ballast").write_bytes(b"\0" * 8 * MiB)  # twice the disk: what fits stays


async def test_an_upload_on_a_full_disk_is_507_keeps_nothing_and_logs_no_traceback(
    small_disk: SmallDiskServer,
) -> None:
    alice = await login(small_disk.url, "alice", USERS["alice"])
    too_big = await alice.http.post(
        "/api/stories/batch-upload",
        headers=alice.auth,
        files=[("files", ("fits.txt", b"small words")), ("files", ("big.txt", b"x" * 6 * MiB))],
    )
    assert too_big.status_code == 507, too_big.text
    assert "disk is full" in too_big.json()["message"]
    assert small_disk.uploads() == [], "the refused upload left files behind"
    # The space it took is given back: the next upload fits.
    [stored] = await alice.upload(("after.txt", b"the disk has room again"))
    assert small_disk.uploads() == [stored["filePath"].rsplit("/", 1)[1]]
    # The database on a full disk: 507 too, then normal again once there is room.
    _fill(small_disk.data_dir)
    body = {"stories": [{"fileUrl": stored["fileUrl"]}], "autoMode": {"enabled": False}}
    full = await alice.http.post("/api/stories/batch-create", headers=alice.auth, json=body)
    assert full.status_code == 507, full.text
    (small_disk.data_dir / "ballast").unlink()
    again = await alice.http.post("/api/stories/batch-create", headers=alice.auth, json=body)
    assert again.status_code == 201, again.text
    await alice.http.aclose()
    small_disk.process.terminate()
    async with asyncio.timeout(TIMEOUT):
        await small_disk.process.wait()
    assert small_disk.process.stderr is not None
    log = (await small_disk.process.stderr.read()).decode()
    assert "Traceback" not in log
    # One line for each refusal, and nothing else.
    assert [line.split(":")[0] for line in log.strip().splitlines()] == [
        "POST /api/stories/batch-upload",
        "POST /api/stories/batch-create",
    ], log


def test_partial_uploads_left_by_a_crash_are_removed_at_start(tmp_path: Path) -> None:
    originals = tmp_path / "data" / "uploads" / "original"
    originals.mkdir(parents=True)
    (originals / "cut_1796000000000_0badf00d.txt.part").write_bytes(b"half of it")
    (originals / "whole_1796000000000_0000beef.txt").write_bytes(b"all of it")
    with start_embedded_server(data_dir=tmp_path / "data", users=USERS):
        assert sorted(p.name for p in originals.iterdir()) == ["whole_1796000000000_0000beef.txt"]
