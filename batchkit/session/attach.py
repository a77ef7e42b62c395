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
    names, urls = await _files_of(client, status)
    files = [PlannedFile(name=name, size=0) for name in names]
    run = new_run(files, config.enabled_steps(), client.profile, follow)
    with run.batch():
        for index, url in enumerate(urls):
            if url:
                run.mark_uploaded(index, url)
        run.mark_batch_created(batch_id, range(len(names)))
        run.apply_status(status)
    return run


async def _files_of(
    client: StoryClient, status: BatchStatusResponse
) -> tuple[list[str], list[str | None]]:
    """The batch's files as (names, file URLs), in input order."""
    if status.results:
        return [r.file_name for r in status.results], [r.file_url for r in status.results]
    # Without results (production) the stories say which file each was made from; a batch run
    # again after a crash lists a file's story more than once (§7.7): one row per file.
    names: list[str] = []
    urls: list[str | None] = []
    for story_id in status.story_ids:
        story = await client.story(story_id)
        if story.files.original_file not in urls:
            urls.append(story.files.original_file)
            names.append(story.title)
    if not names:
        count = status.total_stories
        return [f"story {i + 1}" for i in range(count)], [None] * count
    return names, urls
