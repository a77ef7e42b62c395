"""A whole run against the real reference server: plan, upload, create, follow, end equal to it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from batchkit.client import StoryClient
from batchkit.config import BatchConfig
from batchkit.contract import FileState, PipelineStep
from batchkit.server.launcher import EmbeddedServer
from batchkit.session import BatchSession, FollowOptions, attach
from batchkit.tracker import BatchRun

from .conftest import wait_for

ALL = "story,images,audio,merge"
FAST = FollowOptions(poll_interval=0.2, quiet_poll_interval=1.0)
# Four image chunks of 50 words at 0.15 s each: a story spends ~0.6 s in its images step.
SLOW_IMAGES = BatchConfig(generate_audio=False, words_per_chunk_image=50)


def mid_images(run: BatchRun) -> bool:
    frame = run.files
    return bool(((frame["step"] == "images") & (frame["step_progress"] > 0)).any())


async def assert_equals_server_truth(run: BatchRun, client: StoryClient) -> None:
    """Every row that reached the server says what the server's batch status says."""
    frame = run.files
    for batch_id in run.batch_ids:
        status = await client.batch_status(batch_id)
        assert status.results is not None
        rows = frame[frame["batch_id"] == batch_id].sort_values("batch_index")
        assert len(rows) == len(status.results)
        for (_, row), result in zip(rows.iterrows(), status.results, strict=True):
            assert row["story_id"] == result.story_id
            assert row["status"] == str(result.status), (row["name"], result.error)
            assert row["completed_steps"] == ",".join(str(s) for s in result.completed_steps)
            if result.status is FileState.FAILED:
                assert result.error
                assert result.error in str(row["error"])


async def test_every_file_completes_with_all_steps(
    client: StoryClient, documents: Callable[..., list[Path]]
) -> None:
    session = BatchSession(client, follow=FAST)
    run = await session.run_batch(documents(3), BatchConfig())

    frame = run.files
    assert list(frame["status"]) == ["completed"] * 3
    assert list(frame["completed_steps"]) == [ALL] * 3
    assert frame["story_id"].notna().all()
    assert (frame["elapsed_s"] > 0).all()
    assert run.snapshot().progress == pytest.approx(1.0)
    await assert_equals_server_truth(run, client)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"auto_mode": False}, ""),
        ({"generate_images": False, "generate_audio": False}, "story"),
        ({"generate_audio": False}, "story,images"),
        ({"generate_images": False, "merge_audio": False}, "story,audio"),
        ({"generate_images": False}, "story,audio,merge"),
    ],
    ids=["auto-off", "story-only", "no-audio", "audio-no-merge", "audio-merge"],
)
async def test_the_steps_follow_the_config(
    client: StoryClient,
    documents: Callable[..., list[Path]],
    settings: dict[str, bool],
    expected: str,
) -> None:
    config = BatchConfig(**settings)
    run = await BatchSession(client, follow=FAST).run_batch(documents(2), config)

    assert list(run.files["status"]) == ["completed", "completed"]
    assert list(run.files["completed_steps"]) == [expected, expected]
    await assert_equals_server_truth(run, client)


async def test_bad_files_fail_alone(
    client: StoryClient, documents: Callable[..., list[Path]], tmp_path: Path
) -> None:
    good = documents(2)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    disguised = tmp_path / "notes.docx"
    disguised.write_text("plain text wearing a .docx name")
    wrong_type = tmp_path / "picture.png"
    wrong_type.write_bytes(b"\x89PNG\r\n\x1a\n")

    run = await BatchSession(client, follow=FAST).run_batch(
        [good[0], empty, disguised, wrong_type, good[1]], BatchConfig(generate_audio=False)
    )

    frame = run.files.set_index("name")
    assert list(frame["status"]) == ["completed", "failed", "failed", "failed", "completed"]
    assert "empty" in frame.at["empty.txt", "error"]
    assert "Word" in frame.at["notes.docx", "error"]
    assert ".png" in frame.at["picture.png", "error"]
    assert frame.loc[["empty.txt", "notes.docx", "picture.png"], "batch_id"].isna().all()


async def test_more_than_ten_files_run_as_one_run_in_several_batches(
    client: StoryClient, documents: Callable[..., list[Path]]
) -> None:
    config = BatchConfig(generate_images=False, generate_audio=False)
    run = await BatchSession(client, follow=FAST).run_batch(documents(12, 40), config)

    frame = run.files
    assert len(frame) == 12
    assert (frame["status"] == "completed").all()
    assert frame["batch_id"].nunique() == 2
    assert frame.groupby("batch_id").size().sort_values().tolist() == [2, 10]
    assert list(frame["batch_index"]) == [*range(10), 0, 1]
    await assert_equals_server_truth(run, client)


async def test_a_held_dataframe_changes_in_place(
    client: StoryClient, documents: Callable[..., list[Path]]
) -> None:
    session = BatchSession(client, follow=FAST)
    run = await session.start(documents(2), BatchConfig(generate_audio=False))
    held = run.files
    assert list(held["status"]) == ["pending", "pending"]

    await session.wait()
    assert held is run.files
    assert list(held["status"]) == ["completed", "completed"]


async def test_dropped_sockets_mid_batch_lose_nothing(
    slow_server: EmbeddedServer, documents: Callable[..., list[Path]]
) -> None:
    async with StoryClient(
        slow_server.url, username="alice", password="alice-pw", env={}
    ) as client:
        session = BatchSession(client, follow=FAST)
        run = await session.start(documents(3, 200), SLOW_IMAGES)
        await wait_for(run, mid_images)
        assert not run.done

        dropped = await asyncio.to_thread(slow_server.drop_connections)
        await session.wait()

        assert dropped >= 1
        follower = session.follower
        assert follower is not None
        assert follower.stream is not None
        assert follower.stream.stats.connects >= 2, "the stream must reconnect by itself"
        assert list(run.files["status"]) == ["completed"] * 3
        await assert_equals_server_truth(run, client)


async def test_server_restart_mid_batch_on_the_same_data_dir(
    slow_server: EmbeddedServer, documents: Callable[..., list[Path]]
) -> None:
    async with StoryClient(
        slow_server.url, username="alice", password="alice-pw", env={}
    ) as client:
        session = BatchSession(client, follow=FAST)
        run = await session.start(documents(3, 200), SLOW_IMAGES)
        await wait_for(run, mid_images)
        assert not run.done

        await asyncio.to_thread(slow_server.restart)
        await asyncio.wait_for(session.wait(), 60)

        assert set(run.files["status"]) <= {"completed", "failed"}
        await assert_equals_server_truth(run, client)


async def test_reattach_after_a_kernel_restart(
    slow_server: EmbeddedServer, documents: Callable[..., list[Path]], tmp_path: Path
) -> None:
    async with StoryClient(
        slow_server.url, username="alice", password="alice-pw", env={}
    ) as client:
        first = BatchSession(client, follow=FAST, runs_dir=tmp_path / "runs")
        run = await first.start(documents(2, 200), BatchConfig(generate_audio=False))
        await wait_for(run, lambda r: len(r.batch_ids) == 1 and (r.files["step"] == "images").any())
        await first.cancel()  # the kernel died: nothing follows the batch any more
        batch_id, run_dir = run.batch_ids[0], first.run_dir
        assert run_dir is not None
        assert not run.done

        from_log = await attach(client, batch_id, run_dir=run_dir, follow=FAST)
        from_server = await attach(
            client, batch_id, config=BatchConfig(generate_audio=False), follow=FAST
        )
        rebuilt_from_log = await from_log.wait()
        rebuilt_from_server = await from_server.wait()

    for rebuilt in (rebuilt_from_log, rebuilt_from_server):
        assert list(rebuilt.files["status"]) == ["completed", "completed"]
        assert list(rebuilt.files["completed_steps"]) == ["story,images"] * 2
        assert list(rebuilt.files["name"]) == ["story_00.txt", "story_01.txt"]
    # The log kept what the first session saw: its upload facts are still there.
    assert (rebuilt_from_log.files["upload_status"] == "uploaded").all()
    pd.testing.assert_series_equal(
        rebuilt_from_log.files["story_id"], rebuilt_from_server.files["story_id"]
    )


async def test_regenerate_runs_the_story_again(
    client: StoryClient, documents: Callable[..., list[Path]]
) -> None:
    session = BatchSession(client, follow=FAST)
    run = await session.run_batch(documents(1), BatchConfig(generate_audio=False))
    first_finish = run.files.at[0, "finished_at"]

    await session.regenerate(0, "Tell it again, as a ballad.")
    await session.wait()

    assert run.files.at[0, "status"] == "completed"
    assert run.files.at[0, "finished_at"] > first_finish
    assert PipelineStep.IMAGES in run.snapshot().files[0].completed_steps


async def test_regenerating_after_the_run_was_saved_logs_every_fact(
    client: StoryClient, documents: Callable[..., list[Path]], tmp_path: Path
) -> None:
    """Saving a finished run closes its log; the regeneration's facts must still reach it."""
    session = BatchSession(client, follow=FAST, runs_dir=tmp_path / "runs")
    run = await session.run_batch(documents(1), BatchConfig(generate_audio=False))
    assert session.run_dir is not None
    log_path = session.run_dir / "events.jsonl"

    await session.regenerate(0, "Tell it again, as a ballad.")
    await session.wait()

    assert run.log_errors == 0
    lines = [line for line in log_path.read_text(encoding="utf-8").splitlines() if line]
    assert len(lines) == run.fact_count
    assert any('"kind":"regenerate"' in line for line in lines)
