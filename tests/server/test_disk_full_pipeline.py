"""A disk that fills up during a pipeline: the story fails clearly, the server goes on.

The disk is real: ``batchkit serve`` runs in a mount namespace of its own (``unshare``; with a
user namespace too when the tests do not run as root) where its data directory is a small
tmpfs, so every write of the server, its SQLite database and its engine workers can really fail
with ``ENOSPC``. The test reaches that filesystem through ``/proc/<pid>/root``, fills it with a
file of zeros while a batch waits to start, frees it again, and checks the server's answers.
"""

from __future__ import annotations

import asyncio

from .conftest import TIMEOUT, USERS, Api, StartServer, login, story_text

AUDIO_ONLY = {
    "enabled": True,
    "generateImages": False,
    "generateAudio": True,
    "mergeAudio": True,
}


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
    log = await server.log_after_stop()
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
    log = await server.log_after_stop()
    assert "Traceback" not in log
    assert "never retrieved" not in log
