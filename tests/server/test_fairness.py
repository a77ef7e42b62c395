"""Fair scheduling on the real server: a user's first story does not queue behind another's.

With one worker, alice's four heavy stories (about sixty jobs each) are queued first; bob's tiny
story (a handful of jobs) comes after. Users take turns at the worker, so bob's story is done
while alice's first story is still running, her three others not even started. This is a
statement about order, not time (how long bob waits is measured in ``benchmarks/fairness.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batchkit.server import EmbeddedServer

from .conftest import USERS, login

HEAVY: dict[str, Any] = {
    "enabled": True,
    "imageStyle": "anime",
    "wordPerChunkImage": 50,
    "wordPerChunkAudio": 50,
}


async def test_bobs_tiny_story_ends_before_alices_heavy_batch_gets_past_its_first_story(
    server_factory: Callable[..., EmbeddedServer],
) -> None:
    server = server_factory(workers=1)
    alice = await login(server.url, "alice", USERS["alice"])
    bob = await login(server.url, "bob", USERS["bob"])
    try:
        heavy = await alice.upload_texts(4, words=1_500)
        tiny = await bob.upload_texts(1, words=60)
        alices = (await alice.create_batch(heavy, HEAVY))["data"]["batchId"]
        await alice.wait_for_status(alices, frozenset({"processing"}))
        bobs = (await bob.create_batch(tiny, HEAVY))["data"]["batchId"]

        done = await bob.wait_for_status(bobs)
        alices_now = await alice.status(alices)

        assert done["status"] == "completed"
        assert [r["status"] for r in alices_now["results"][1:]] == ["pending"] * 3
        assert alices_now["results"][0]["status"] == "processing"
    finally:
        await alice.http.aclose()
        await bob.http.aclose()
