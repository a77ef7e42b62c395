"""The launcher's benchmark hook: a burst of events on demand, numbered like any other event."""

from __future__ import annotations

import asyncio
import time

import pytest

from batchkit.contract import AutoModeProgress
from batchkit.server import EmbeddedServer

from .conftest import Api, EventStream


async def _own_story(alice: Api) -> str:
    urls = await alice.upload_texts(1)
    batch_id = (await alice.create_batch(urls, {"enabled": False}))["data"]["batchId"]
    [story_id] = (await alice.wait_for_status(batch_id))["storyIds"]
    return str(story_id)


async def test_a_burst_reaches_the_story_room_numbered_in_order(
    server: EmbeddedServer, alice: Api, alice_events: EventStream
) -> None:
    story_id = await _own_story(alice)
    await alice_events.join_story(story_id)

    await asyncio.to_thread(server.emit_burst, story_id, 40)

    await alice_events.wait_until(lambda: len(alice_events.of(AutoModeProgress)) >= 40)
    burst = alice_events.of(AutoModeProgress)
    assert len(burst) == 40
    assert {event.story_id for event in burst} == {story_id}
    seqs = [event.seq for event in burst]
    assert seqs[0] is not None
    assert seqs == list(range(seqs[0], seqs[0] + 40))
    progress = [event.progress for event in burst]
    assert progress == sorted(progress)
    assert progress[-1] == 100.0


async def test_a_paced_burst_takes_at_least_its_schedule(
    server: EmbeddedServer, alice: Api, alice_events: EventStream
) -> None:
    story_id = await _own_story(alice)
    await alice_events.join_story(story_id)

    started = time.perf_counter()
    await asyncio.to_thread(server.emit_burst, story_id, 11, 200.0)
    elapsed = time.perf_counter() - started

    assert elapsed >= 10 / 200.0  # eleven events at 200/s: the last is due 50 ms after the first
    await alice_events.wait_until(lambda: len(alice_events.of(AutoModeProgress)) >= 11)


def test_a_burst_with_a_bad_count_or_rate_is_refused(server: EmbeddedServer) -> None:
    with pytest.raises(ValueError, match="count of 0 or more"):
        server.emit_burst("any-story", -1)
    with pytest.raises(ValueError, match="rate above 0"):
        server.emit_burst("any-story", 1, 0.0)
