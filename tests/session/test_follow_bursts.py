"""A followed run never answers without an event its stream holds.

The session's stream holds progress messages to hand them over in bursts; the run asks for them
before every read. Here the hold is an hour, so only that asking can show them: a real batch is
kept in its story step (pace 30 s), and the reference server's burst hook sends ten progress
events into the story's room once the follower has joined it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from batchkit.client import StoryClient
from batchkit.config import BatchConfig
from batchkit.contract import AutoModeProgress, JoinedStoryRoom
from batchkit.server.launcher import start_embedded_server
from batchkit.session import BatchSession, FollowOptions
from batchkit.tracker import BatchRun, EventFact
from session.conftest import USERS, wait_for, write_texts


def _joined_its_story(run: BatchRun) -> bool:
    return any(isinstance(f, EventFact) and isinstance(f.event, JoinedStoryRoom) for f in run.facts)


def _burst_events(run: BatchRun) -> int:
    return sum(
        1
        for fact in run.facts
        if isinstance(fact, EventFact)
        and isinstance(fact.event, AutoModeProgress)
        and fact.event.message.startswith("burst event")
    )


async def test_a_read_shows_the_progress_the_stream_still_holds(tmp_path: Path) -> None:
    with start_embedded_server(
        data_dir=tmp_path / "srv", users=USERS, workers=2, pace=30.0
    ) as server:
        async with StoryClient(server.url, username="alice", password="alice-pw", env={}) as c:
            session = BatchSession(c, follow=FollowOptions(poll_interval=0.1, hold_interval=3600))
            run = await session.start(write_texts(tmp_path / "docs", 1), BatchConfig())
            await wait_for(run, _joined_its_story)
            follower = session.follower
            assert follower is not None
            assert follower.stream is not None
            stats = follower.stream.stats
            before = stats.received
            [story_id] = run.story_ids
            await asyncio.to_thread(server.emit_burst, story_id, 10)
            async with asyncio.timeout(10):
                while stats.received < before + 10:  # noqa: ASYNC110 - no event for a held message
                    await asyncio.sleep(0.01)  # polling a condition under a deadline
            # Still held (an hour), yet the read has them: it asked the stream first.
            assert _burst_events(run) == 10
            await session.cancel()
