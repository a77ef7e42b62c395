"""A full disk, for real: ``batchkit serve`` on a data directory that is a 4 MiB tmpfs (see
``small_disk``). Uploads on the full disk answer 507 with a message, keep nothing,
log no traceback, and the server goes on once there is room again. Partial uploads left by a
crash are removed at start-up.
"""

from __future__ import annotations

from pathlib import Path

from batchkit.server import start_embedded_server

from .conftest import USERS, StartServer, login

MiB = 1024 * 1024


async def test_an_upload_on_a_full_disk_is_507_keeps_nothing_and_logs_no_traceback(
    small_disk: StartServer,
) -> None:
    server = await small_disk(size_mib=4)
    alice = await login(server.url, "alice", USERS["alice"])
    too_big = await alice.http.post(
        "/api/stories/batch-upload",
        headers=alice.auth,
        files=[("files", ("fits.txt", b"small words")), ("files", ("big.txt", b"x" * 6 * MiB))],
    )
    assert too_big.status_code == 507, too_big.text
    assert "disk is full" in too_big.json()["message"]
    assert server.uploads() == [], "the refused upload left files behind"
    # The space it took is given back: the next upload fits.
    [stored] = await alice.upload(("after.txt", b"the disk has room again"))
    assert server.uploads() == [stored["filePath"].rsplit("/", 1)[1]]
    # The database on a full disk: 507 too, then normal again once there is room.
    ballast = server.fill(leave=0)
    body = {"stories": [{"fileUrl": stored["fileUrl"]}], "autoMode": {"enabled": False}}
    full = await alice.http.post("/api/stories/batch-create", headers=alice.auth, json=body)
    assert full.status_code == 507, full.text
    ballast.unlink()
    again = await alice.http.post("/api/stories/batch-create", headers=alice.auth, json=body)
    assert again.status_code == 201, again.text
    await alice.http.aclose()
    log = await server.log_after_stop()
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
