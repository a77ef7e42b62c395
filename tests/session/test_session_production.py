"""A whole run against the production double: every quirk of contract section 7 survived.

The double (``tests/production``) stands in for production, which cannot run here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from production import ProductionDouble, start_production_double

from batchkit.client import StoryClient
from batchkit.config import BatchConfig
from batchkit.errors import AuthError, ConfigError
from batchkit.events import EventStream
from batchkit.session import BatchSession, FollowOptions

FAST = FollowOptions(poll_interval=0.1, quiet_poll_interval=0.5)


def production_client(double: ProductionDouble) -> StoryClient:
    return StoryClient(
        double.url,
        username=double.username,
        password=double.password,
        profile="production",
        env={},
    )


async def test_a_batch_finishes_without_batch_events_or_merge(
    production: ProductionDouble, documents: Callable[..., list[Path]]
) -> None:
    async with production_client(production) as client:
        run = await BatchSession(client, follow=FAST).run_batch(documents(3), BatchConfig())

    frame = run.files
    assert list(frame["status"]) == ["completed"] * 3
    # Production never merges; the run does not wait for it.
    assert list(frame["completed_steps"]) == ["story,images,audio"] * 3
    assert frame["story_id"].nunique() == 3
    assert production.batches_created == 1


async def test_a_failure_reported_before_anyone_listened_ends_the_file_not_the_run(
    production: ProductionDouble, documents: Callable[..., list[Path]], tmp_path: Path
) -> None:
    # Production reports a failed story only by an event in its room, and a story that fails
    # at once does so before any client can join that room: the event is lost. The run must
    # still end, with that file failed for a reason a user understands.
    failing = tmp_path / "broken.txt"
    failing.write_bytes(b"FAIL")
    good = documents(2)
    follow = FollowOptions(poll_interval=0.1, quiet_poll_interval=0.5, give_up_after=1.0)
    async with production_client(production) as client:
        run = await BatchSession(client, follow=follow).run_batch(
            [good[0], failing, good[1]], BatchConfig(generate_audio=False)
        )

    assert list(run.files["status"]) == ["completed", "failed", "completed"]
    assert "no word from the server" in run.files.at[1, "error"]
    assert run.files.at[1, "story_id"] is not None


async def test_worker_crash_duplicates_do_not_confuse_the_table(
    documents: Callable[..., list[Path]],
) -> None:
    with start_production_double(pace=0.02, crash_batches=1) as double:
        async with production_client(double) as client:
            run = await BatchSession(client, follow=FAST).run_batch(
                documents(4), BatchConfig(generate_audio=False)
            )
            assert len(await_story_ids(double, run.batch_ids[0])) > 4  # duplicates exist

    assert list(run.files["status"]) == ["completed"] * 4
    assert run.files["story_id"].nunique() == 4


def await_story_ids(double: ProductionDouble, batch_id: str) -> list[str]:
    return list(double.story_ids(batch_id))


async def test_styles_production_refuses_are_refused_before_sending(
    production: ProductionDouble, documents: Callable[..., list[Path]]
) -> None:
    async with production_client(production) as client:
        with pytest.raises(ConfigError, match="oil-painting"):
            await BatchSession(client).start(documents(1), BatchConfig(image_style="oil-painting"))
    assert production.batches_created == 0


async def test_a_socket_without_token_is_a_clear_auth_error_not_a_loop(
    production: ProductionDouble,
) -> None:
    async with production_client(production) as client:
        await client.login()
        stream = EventStream(
            production.url,
            lambda: "",  # the socket gets no token, although REST has one
            on_events=lambda burst: None,
            verify_credentials=client.verify_credentials,
            reconnect_delay=(0.01, 0.05),
        )
        await stream.connect()
        try:
            await wait_for_failure(stream)
        finally:
            await stream.close()

    assert isinstance(stream.failure, AuthError)
    assert "token" in str(stream.failure)
    assert stream.stats.server_disconnects <= 6


async def wait_for_failure(stream: EventStream) -> None:
    import asyncio

    async with asyncio.timeout(20):
        while stream.failure is None:  # noqa: ASYNC110 - the stream has no event for this
            await asyncio.sleep(0.01)  # polling a condition under a deadline, not a fixed wait
