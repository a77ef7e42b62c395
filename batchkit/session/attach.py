"""Following again a batch started earlier, after a kernel restart lost the session."""

from __future__ import annotations

import os
from pathlib import Path

from batchkit.client import StoryClient
from batchkit.config import BatchConfig
from batchkit.contract.rest import BatchStatusResponse
from batchkit.runs import load_run
from batchkit.session.batch_session import BatchSession, new_run
from batchkit.session.follower import FollowOptions
from batchkit.tracker import BatchRun, PlannedFile

__all__ = ["attach"]


async def attach(
    client: StoryClient,
    batch_id: str,
    *,
    config: BatchConfig | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    follow: FollowOptions | None = None,
) -> BatchSession:
    """A session following ``batch_id`` again; its run is ``session.run``.

    With ``run_dir`` holding the run saved by the session that started it, the run is rebuilt
    from its own log, so nothing it knew is lost. Otherwise it is rebuilt from the server: the
    files from the batch's status (their names from ``results``, or from the stories' titles
    where the server gives no ``results``), and the steps from ``config`` (the defaults when not
    given, since the server does not say which steps a batch was created with).
    """
    session = BatchSession(client, follow=follow)
    if run_dir is not None and (Path(run_dir) / "events.jsonl").exists():
        run = load_run(run_dir, resume=True)
        session.run_dir = Path(run_dir)
    else:
        run = await _rebuild(client, batch_id, config or BatchConfig(), follow or FollowOptions())
    if batch_id not in run.batch_ids:
        raise ValueError(f"the saved run in {run_dir} does not hold batch {batch_id}")
    session.follow_existing(run, config)
    return session


async def _rebuild(
    client: StoryClient, batch_id: str, config: BatchConfig, follow: FollowOptions
) -> BatchRun:
    status = await client.batch_status(batch_id)
    names = await _file_names(client, status)
    files = [PlannedFile(name=name, size=0) for name in names]
    run = new_run(files, config.enabled_steps(), client.profile, follow)
    with run.batch():
        run.mark_batch_created(batch_id, range(len(names)))
        run.apply_status(status)
    return run


async def _file_names(client: StoryClient, status: BatchStatusResponse) -> list[str]:
    if status.results:
        return [result.file_name for result in status.results]
    titles = []
    for story_id in status.story_ids:
        titles.append((await client.story(story_id)).title)
    return titles or [f"story {i + 1}" for i in range(status.total_stories)]
