"""A restart in the middle of a batch loses nothing: it resumes, or fails clearly if told not to."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from batchkit.contract import (
    AutoModeProgress,
    BatchStatusResponse,
    BatchStoriesComplete,
    BatchStoriesProgress,
)
from batchkit.server import EmbeddedServer
from batchkit.server.launcher import Credentials

from .conftest import Api, EventStream, login

USER = ("dave", "dave-secret-4")
PACE = 0.2
"""Seconds per chunk: slow enough that a restart lands mid-way, the whole test stays ~3 s."""


async def _batch_caught_midway(
    server: EmbeddedServer, api: Api, events: EventStream
) -> tuple[str, str, int]:
    """Start a two-story batch; return (batch id, first story id, last story-room seq seen)
    once the first story is drawing its pictures."""
    urls = await api.upload_texts(2, words=140)
    server.hold_batches()
    try:
        batch_id = (await api.create_batch(urls))["data"]["batchId"]
        await events.join_batch(batch_id)
    finally:
        server.release_batches()
    first = await events.wait_for(BatchStoriesProgress, lambda e: e.current_story == 1)
    assert first.story_id is not None
    await events.join_story(first.story_id)
    progress = await events.wait_for(AutoModeProgress, lambda e: e.story_id == first.story_id)
    assert progress.seq is not None
    return batch_id, first.story_id, progress.seq


async def test_a_restart_mid_batch_resumes_it_to_completion(
    server_factory: Callable[..., EmbeddedServer],
    stream_factory: Callable[[str, str], EventStream],
    tmp_path: Path,
) -> None:
    server = server_factory(users=dict([USER]), pace=PACE, data_dir=tmp_path / "data")
    api = await login(server.url, *USER)
    try:
        before = stream_factory(server.url, api.token)
        await before.connect()
        batch_id, story_id, last_seq = await _batch_caught_midway(server, api, before)
        port = server.port

        await asyncio.to_thread(server.restart)
        assert server.port == port
        await before.wait_until(lambda: before.disconnects == 1)

        # The status comes from the database: the batch is still running, nothing was lost.
        status = await api.status(batch_id)  # the token survives the restart
        assert status["status"] == "processing"
        assert status["results"][0]["completedSteps"][:1] == ["story"]

        after = stream_factory(server.url, api.token)
        await after.connect()
        joined = await after.join_batch(batch_id)
        assert joined.status.status == "processing"
        await after.join_story(story_id)
        done = await after.wait_for(BatchStoriesComplete)
        assert (done.completed_stories, done.failed_stories) == (2, 0)
        # The batch room had start + 2 progress before the stop; numbering went on from there.
        assert done.seq == 4
        resumed = [
            e.seq
            for e in after.events
            if getattr(e, "story_id", None) == story_id and e.seq is not None
        ]
        assert resumed
        assert resumed[0] > last_seq
        assert resumed == list(range(resumed[0], resumed[0] + len(resumed)))

        final = BatchStatusResponse.model_validate(await api.status(batch_id))
        assert final.status == "completed"
        assert final.results is not None
        for result in final.results:
            assert result.completed_steps == ["story", "images", "audio", "merge"]
        story = await api.story(story_id)
        # The interrupted step ran again from scratch: three pictures, not six.
        assert [image["index"] for image in story["media"]["images"]] == [0, 1, 2]
        assert story["status"]["audioMerged"] is True
    finally:
        await api.http.aclose()


async def test_a_restart_that_does_not_resume_fails_the_batch_clearly(
    server_factory: Callable[..., EmbeddedServer],
    stream_factory: Callable[[str, str], EventStream],
    tmp_path: Path,
) -> None:
    server = server_factory(users=dict([USER]), pace=PACE, data_dir=tmp_path / "data")
    api = await login(server.url, *USER)
    events = stream_factory(server.url, api.token)
    await events.connect()
    batch_id, _, _ = await _batch_caught_midway(server, api, events)
    settings = server.settings
    await asyncio.to_thread(server.stop)

    strict = EmbeddedServer(
        replace(settings, resume_interrupted=False), Credentials(*USER), owns_data_dir=False
    )
    await asyncio.to_thread(strict.start)
    try:
        status = BatchStatusResponse.model_validate(await api.status(batch_id))
        assert status.status == "failed"
        assert status.results is not None
        assert all(r.status == "failed" for r in status.results)
        assert status.errors
        assert all("interrupted" in error for error in status.errors)
    finally:
        await api.http.aclose()
        await asyncio.to_thread(strict.stop)
