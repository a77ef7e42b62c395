"""Every way of following a run ends, with a reason, against the real reference server.

Each test reproduces one way the follower used to hang or lie: a token the server stopped
accepting, a batch the server does not know, a regeneration whose first events beat the
answer to its request, a retry of some files of a run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from batchkit.client import RetryPolicy, StoryClient
from batchkit.config import BatchConfig
from batchkit.contract import PipelineStep
from batchkit.errors import AuthError, RunError
from batchkit.server.launcher import EmbeddedServer, start_embedded_server
from batchkit.session import BatchSession, FollowOptions, new_run
from batchkit.tracker import FileStatus, PlannedFile
from session.conftest import USERS, wait_for

FAST = FollowOptions(poll_interval=0.05, quiet_poll_interval=0.2, lost_after=0.5)


async def test_a_token_the_server_no_longer_accepts_ends_the_run_with_an_auth_error(
    slow_server: EmbeddedServer, documents: Callable[..., list[Path]], tmp_path: Path
) -> None:
    async with StoryClient(slow_server.url, username="alice", password="alice-pw", env={}) as login:
        token = await login.ensure_token()
    # A session that has only a token: it cannot log in again when the token is refused.
    async with StoryClient(slow_server.url, token=token, env={}) as client:
        session = BatchSession(client, follow=FAST, runs_dir=tmp_path / "runs")
        run = await session.start(documents(2, 300), BatchConfig(generate_audio=False))
        await wait_for(run, lambda r: bool(r.batch_ids))
        rotate_signing_key(slow_server)
        async with asyncio.timeout(30):  # a way out for the test, not a timing assertion
            with pytest.raises(AuthError, match="log in again") as refused:
                await session.wait()
    assert "refused our credentials" in str(refused.value)
    frame = run.files
    assert set(frame["status"]) == {"failed"}
    assert frame["error"].str.contains("refused our credentials").all()
    assert session.run_dir is not None
    assert (session.run_dir / "files.csv").exists()  # saved, with its reasons


async def test_a_batch_the_server_does_not_know_fails_its_files_and_ends(
    client: StoryClient, tmp_path: Path
) -> None:
    run = new_run(
        [PlannedFile(name="ghost.txt", size=3)],
        [PipelineStep.STORY],
        client.profile,
        FAST,
    )
    run.mark_uploaded(0, "http://nowhere/uploads/original/ghost.txt")
    run.mark_batch_created("no-such-batch", [0])
    session = BatchSession(client, follow=FAST)
    session.follow_existing(run)
    async with asyncio.timeout(30):
        await session.wait()
    assert run.files.at[0, "status"] == "failed"
    assert "no longer knows this batch" in run.files.at[0, "error"]


async def test_a_regeneration_whose_events_beat_its_answer_is_followed_to_the_end(
    client: StoryClient, documents: Callable[..., list[Path]]
) -> None:
    # The server starts the story before it answers POST /generate. Here the answer is held
    # back until the new attempt's first event has been folded, so that order is certain.
    session = BatchSession(client, follow=FAST)
    run = await session.run_batch(documents(1), BatchConfig(generate_audio=False))
    first_finish = run.files.at[0, "finished_at"]
    send = client.generate

    async def generate_late(*args: object, **kwargs: object) -> object:
        answer = await send(*args, **kwargs)  # type: ignore[arg-type]
        await wait_for(run, lambda r: r.files.at[0, "story_status"] != "completed")
        await wait_for(run, lambda r: r.status_of(0) is not FileStatus.QUEUED)
        return answer

    client.generate = generate_late  # type: ignore[method-assign]
    session.follow_existing(run)  # so its events arrive while the request is out
    await session.regenerate(0, "Tell it again, as a ballad.")
    async with asyncio.timeout(30):
        await session.wait()
    assert run.files.at[0, "status"] == "completed"
    assert run.files.at[0, "attempt"] == 2
    assert run.files.at[0, "finished_at"] > first_finish


async def test_a_refused_regeneration_is_undone(
    client: StoryClient, documents: Callable[..., list[Path]]
) -> None:
    session = BatchSession(client, follow=FAST)
    run = await session.run_batch(documents(1), BatchConfig(generate_audio=False))
    before = run.files.copy()
    with pytest.raises(Exception, match="prompt"):
        await session.regenerate(0, "")  # an empty prompt is refused by the server
    assert run.files.at[0, "status"] == "completed"
    assert run.files.at[0, "attempt"] == 1
    assert run.files.at[0, "completed_steps"] == before.at[0, "completed_steps"]


async def test_retry_sends_the_failed_files_again_in_the_same_run_with_their_own_titles(
    server: EmbeddedServer, client: StoryClient, documents: Callable[..., list[Path]]
) -> None:
    good, bad, other = documents(3)
    config = BatchConfig(
        generate_audio=False,
        titles={good.name: "The good one", bad.name: "The second try"},
        prompts={other.name: "Make it short."},
    )
    server.set_fail_rates({"images": 1.0})
    session = BatchSession(client, follow=FAST)
    run = await session.run_batch([good, bad, other], config)
    assert set(run.files["status"]) == {"failed"}
    server.set_fail_rates({})
    # Only the second file: the others' own titles and prompts must not get in the way.
    await session.retry([1])
    await session.wait()
    frame = run.files
    assert list(frame["status"]) == ["failed", "completed", "failed"]
    assert list(frame["attempt"]) == [1, 2, 1]
    assert len(run.batch_ids) == 2
    story = await client.story(frame.at[1, "story_id"])
    assert story.title == "The second try"
    assert session.retryable() == (0, 2)
    with pytest.raises(RunError, match="has not failed"):
        await session.retry([1])


def rotate_signing_key(server: EmbeddedServer) -> None:
    """Restart the server with a new token signing key: every token issued before is refused."""
    server.stop()  # the data dir is the test's own, so it is kept
    (server.settings.data_dir / "jwt-secret").unlink()
    server.start()


async def test_a_batch_refused_for_now_is_sent_again_when_the_server_says(
    tmp_path: Path, documents: Callable[..., list[Path]]
) -> None:
    # The server lets alice have 10 stories in flight: the run's second batch (its 11th file) is
    # refused with 429 and Retry-After until the first batch has finished. The client's own
    # retries are off, so only the session's patience can carry the file through.
    with start_embedded_server(
        data_dir=tmp_path / "srv", users=USERS, workers=2, max_user_stories_in_flight=10
    ) as server:
        async with StoryClient(
            server.url, username="alice", password="alice-pw", env={}, retry=RetryPolicy(attempts=1)
        ) as client:
            session = BatchSession(client, follow=FAST)
            run = await session.start(
                documents(11, 40),
                BatchConfig(generate_images=False, generate_audio=False, merge_audio=False),
            )
            async with asyncio.timeout(60):  # a way out for the test, not a timing assertion
                await session.wait()
    frame = run.files
    assert list(frame["status"]) == ["completed"] * 11, frame["error"].tolist()
    assert len(run.batch_ids) == 2
