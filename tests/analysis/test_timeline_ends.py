"""A timeline draws each stage from its own start to its own end.

The real case: the reference server goes away while a file's images step is under way. The run
gives up on the file some seconds later (no usable answer), and fails it then; the images stage
must end at the last word the run had about it, not be drawn on to the moment it was given up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from batchkit.analysis import timeline
from batchkit.client import RetryPolicy, StoryClient
from batchkit.config import BatchConfig
from batchkit.samples import sample_paths
from batchkit.server.launcher import start_embedded_server
from batchkit.session import BatchSession, FollowOptions
from batchkit.tracker import BatchRun


async def test_a_stage_given_up_on_ends_at_its_last_word(tmp_path: Path) -> None:
    follow = FollowOptions(unanswered_after=1.0, poll_interval=0.1, quiet_poll_interval=0.1)
    server = start_embedded_server(data_dir=tmp_path / "server", users={"ada": "pw"}, pace=0.3)
    try:
        async with StoryClient(
            server.url, username="ada", password="pw", env={}, timeout=2.0,
            retry=RetryPolicy(attempts=1),
        ) as client:  # fmt: skip
            session = BatchSession(client, runs_dir=tmp_path / "runs", follow=follow)
            run = await session.start(sample_paths()[:1], BatchConfig())
            images_running = asyncio.Event()

            def watch(changed: BatchRun) -> None:
                if str(changed.files["images_status"].iloc[0]) == "running":
                    images_running.set()

            run.subscribe(watch)
            await images_running.wait()
            await asyncio.to_thread(server.stop)
            await session.wait()
    finally:
        server.stop()
    files = run.files
    assert files["status"].tolist() == ["failed"]
    assert files["images_status"].tolist() == ["failed"]
    lines = timeline(run).set_index("stage")
    images = lines.loc["images"]
    heard = run.events[(run.events["step"] == "images") & (run.events["kind"] == "event")]
    assert images["outcome"] == "failed"
    assert images["end"] == heard["received_at"].max()  # its own last word
    assert images["end"] < files["finished_at"].iloc[0]  # not when the run gave up on it
    assert lines.loc["story", "outcome"] == "done"
