"""Per-user quotas, against private servers with small ones: bytes kept, stories in flight,
batches per minute. Each refusal names its setting; 429 carries ``Retry-After``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from batchkit.client import RetryPolicy, StoryClient
from batchkit.contract import AutoModeConfig, StoryInput
from batchkit.errors import RateLimited
from batchkit.server import EmbeddedServer

from .conftest import USERS, Api, login

STORY_ONLY = {"enabled": True, "generateImages": False, "generateAudio": False}
RECORDS_ONLY = {"enabled": False}


def _kept(server: EmbeddedServer) -> list[Path]:
    return [p for p in (server.data_dir / "uploads").rglob("*") if p.is_file()]


def _refusal(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["message"]
    return message


async def test_uploads_past_the_storage_quota_are_refused_and_not_kept(
    server_factory: Callable[..., EmbeddedServer],
) -> None:
    server = server_factory(max_user_stored_bytes=100_000)
    alice = await login(server.url, "alice", USERS["alice"])
    bob = await login(server.url, "bob", USERS["bob"])
    await alice.upload(("a.txt", b"a" * 60_000))
    before = _kept(server)
    response = await alice.http.post(
        "/api/stories/batch-upload",
        headers=alice.auth,
        files=[("files", ("b.txt", b"b" * 60_000))],
    )
    assert "max_user_stored_bytes" in _refusal(response, 413)
    assert _kept(server) == before, "the refused upload left a file behind"
    # What was refused does not count: 40,000 bytes are still free, and bob has his own quota.
    await alice.upload(("c.txt", b"c" * 40_000))  # exactly the quota
    await bob.upload(("d.txt", b"d" * 90_000))
    full = await alice.http.post(
        "/api/stories/batch-upload", headers=alice.auth, files=[("files", ("e.txt", b"e"))]
    )
    assert "max_user_stored_bytes" in _refusal(full, 413)
    await alice.http.aclose()
    await bob.http.aclose()


async def test_stories_in_flight_wait_with_429_and_retry_after(
    server_factory: Callable[..., EmbeddedServer],
) -> None:
    server = server_factory(max_user_stories_in_flight=3)
    alice = await login(server.url, "alice", USERS["alice"])
    bob = await login(server.url, "bob", USERS["bob"])
    urls = await alice.upload_texts(4, words=60)
    server.hold_batches()  # the first batch's stories stay in flight while the next is asked
    try:
        first = await alice.create_batch(urls[:2], STORY_ONLY)
        response = await alice.http.post(
            "/api/stories/batch-create",
            headers=alice.auth,
            json={"stories": [{"fileUrl": u} for u in urls[2:]], "autoMode": STORY_ONLY},
        )
        message = _refusal(response, 429)
        assert "max_user_stories_in_flight" in message
        assert int(response.headers["Retry-After"]) >= 1
        # Another user is not held back by alice's stories.
        await bob.create_batch(await bob.upload_texts(2, words=60), STORY_ONLY)
    finally:
        server.release_batches()
    await alice.wait_for_status(first["data"]["batchId"])
    await alice.create_batch(urls[2:], STORY_ONLY)  # once they finished, there is room
    await alice.http.aclose()
    await bob.http.aclose()


async def test_a_batch_larger_than_the_whole_allowance_is_413(
    server_factory: Callable[..., EmbeddedServer],
) -> None:
    server = server_factory(max_user_stories_in_flight=2)
    alice = await login(server.url, "alice", USERS["alice"])
    urls = await alice.upload_texts(3, words=60)
    response = await alice.http.post(
        "/api/stories/batch-create",
        headers=alice.auth,
        json={"stories": [{"fileUrl": u} for u in urls], "autoMode": STORY_ONLY},
    )
    assert "max_user_stories_in_flight" in _refusal(response, 413)
    assert "Retry-After" not in response.headers  # waiting would not help
    await alice.http.aclose()


async def test_a_regeneration_counts_as_a_story_in_flight(
    server_factory: Callable[..., EmbeddedServer],
) -> None:
    server = server_factory(max_user_stories_in_flight=1)
    alice = await login(server.url, "alice", USERS["alice"])
    urls = await alice.upload_texts(2, words=60)
    done = await alice.create_batch(urls[:1], STORY_ONLY)
    status = await alice.wait_for_status(done["data"]["batchId"])
    server.hold_batches()
    try:
        await alice.create_batch(urls[1:], STORY_ONLY)
        response = await alice.http.post(
            f"/api/stories/{status['storyIds'][0]}/generate",
            headers=alice.auth,
            json={"customPrompt": "again"},
        )
        assert "max_user_stories_in_flight" in _refusal(response, 429)
    finally:
        server.release_batches()
    await alice.http.aclose()


async def test_batches_per_minute_are_limited_and_replays_do_not_count(
    server_factory: Callable[..., EmbeddedServer],
) -> None:
    server = server_factory(max_user_batches_per_minute=2)
    alice = await login(server.url, "alice", USERS["alice"])
    [url] = await alice.upload_texts(1, words=60)
    key = {"Idempotency-Key": "one-batch"}
    first = await alice.create_batch([url], RECORDS_ONLY, headers=key)
    replay = await alice.create_batch([url], RECORDS_ONLY, headers=key)
    assert replay == first
    await alice.create_batch([url], RECORDS_ONLY)
    response = await alice.http.post(
        "/api/stories/batch-create",
        headers=alice.auth,
        json={"stories": [{"fileUrl": url}], "autoMode": RECORDS_ONLY},
    )
    assert "max_user_batches_per_minute" in _refusal(response, 429)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    await alice.http.aclose()


async def test_the_client_reports_a_429_it_cannot_wait_out(
    server_factory: Callable[..., EmbeddedServer],
) -> None:
    """batchkit's own client, unchanged: it honours Retry-After, and when the wait is longer than
    its deadline it raises RateLimited with the server's message."""
    server = server_factory(max_user_batches_per_minute=1)
    retry = RetryPolicy(attempts=3, base_delay=0.01, deadline=5.0)
    async with StoryClient(
        server.url, username="alice", password=USERS["alice"], env={}, retry=retry
    ) as client:
        api: Api = await login(server.url, "alice", USERS["alice"])
        [url] = await api.upload_texts(1, words=60)
        await api.http.aclose()
        stories, auto_mode = [StoryInput(file_url=url)], AutoModeConfig(enabled=False)
        await client.create_batch(stories, auto_mode)
        with pytest.raises(RateLimited, match="max_user_batches_per_minute"):
            await client.create_batch(stories, auto_mode)


async def test_default_quotas_leave_a_normal_session_alone(alice: Api) -> None:
    urls = await alice.upload_texts(3, words=60)
    status = await alice.wait_for_status(
        (await alice.create_batch(urls, STORY_ONLY))["data"]["batchId"]
    )
    assert status["status"] == "completed"
