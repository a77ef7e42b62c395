"""The table tells what production did, on every path the production double reproduces.

Production cannot run here; the double (``tests/production``) reproduces its behaviour: events
that run ahead of the work, no merge, crashed batches retried with duplicate stories, a restart
that forgets every batch, a server that keeps dropping sockets, timestamps without an offset.
Each test compares the run's table with what the double actually did (its stories' flags).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from production import ProductionDouble, start_production_double
from production.worker import SLOW_PREFIX

from batchkit import headless
from batchkit.client import StoryClient
from batchkit.config import BatchConfig
from batchkit.contract import PipelineStep
from batchkit.errors import StreamError
from batchkit.session import BatchSession, FollowOptions
from batchkit.tracker import BatchRun, FileStatus
from session.conftest import wait_for

FAST = FollowOptions(poll_interval=0.05, quiet_poll_interval=0.2, lost_after=0.5)
FLAGS = {
    PipelineStep.STORY: "story_generated",
    PipelineStep.IMAGES: "images_generated",
    PipelineStep.AUDIO: "audio_generated",
}


def client_of(double: ProductionDouble, **kw: object) -> StoryClient:
    credentials: dict[str, object] = {"username": double.username, "password": double.password}
    credentials.update(kw)
    return StoryClient(double.url, profile="production", env={}, **credentials)  # type: ignore[arg-type]


def flags_now(double: ProductionDouble, story_id: str) -> dict[str, bool]:
    last = double.flag_history(story_id)[-1]
    return {name: bool(getattr(last, name)) for name in FLAGS.values()}


def confirmed_by_the_double(double: ProductionDouble, run: BatchRun) -> None:
    """Every step a row shows completed was done on the double (its flag was true)."""
    for row in run.snapshot().files:
        for step, shown in row.steps.items():
            if shown != "completed" or step not in FLAGS:
                continue
            assert row.story_id is not None
            history = double.flag_history(row.story_id)
            assert any(getattr(f, FLAGS[step]) for f in history), (row.name, step, history)


async def test_a_step_counts_only_once_the_server_has_done_it(
    documents: Callable[..., list[Path]],
) -> None:
    # The double queues a step (start, progress 0, "complete") before it does the work: the
    # run must not call a file completed until the story's flags say the audio exists.
    seen_when_completed: dict[int, dict[str, bool]] = {}
    with start_production_double(pace=0.15) as double:
        async with client_of(double) as client:
            session = BatchSession(client, follow=FAST)
            run = await session.start(documents(3), BatchConfig(merge_audio=False))

            def on_change(changed: BatchRun) -> None:
                for row in changed.snapshot().files:
                    if row.status is FileStatus.COMPLETED and row.story_id:
                        seen_when_completed.setdefault(row.index, flags_now(double, row.story_id))

            run.subscribe(on_change)
            await session.wait()
    assert list(run.files["status"]) == ["completed"] * 3
    assert len(seen_when_completed) == 3
    assert all(all(flags.values()) for flags in seen_when_completed.values()), seen_when_completed
    for step in ("story", "images", "audio"):
        assert list(run.files[f"{step}_status"]) == ["completed"] * 3
    # Each finish time is when REST confirmed the step, not when the event claimed it.
    assert (run.files["audio_finished_at"] >= run.files["audio_started_at"]).all()


def test_the_cli_exits_only_once_every_audio_exists(tmp_path: Path) -> None:
    docs = [tmp_path / f"doc{i}.txt" for i in range(2)]
    for i, doc in enumerate(docs):
        doc.write_text(f"Story {i}. The river ran past the mill and the miller sang.")
    # Each audio job works for a second after its events said it was done.
    with start_production_double(pace=0.05, step_seconds=1.0) as double:
        argv = [
            *map(str, docs),
            "--url",
            double.url,
            "--username",
            double.username,
            "--password",
            double.password,
            "--profile",
            "production",
            "--poll",
            "0.05",
            "--quiet",
            "--out",
            str(tmp_path / "runs"),
        ]
        code = headless.main(argv)
        # Read the double at the moment the command returned, before it could catch up.
        story_ids = [sid for batch in double.batch_ids() for sid in double.story_ids(batch)]
        flags = [flags_now(double, sid) for sid in story_ids]
    assert code == 0
    assert len(flags) == 2
    assert all(f["audio_generated"] for f in flags), flags


def test_the_cli_exits_0_for_a_batch_production_ran_again_after_a_crash(tmp_path: Path) -> None:
    docs = [tmp_path / f"doc{i}.txt" for i in range(3)]
    for i, doc in enumerate(docs):
        doc.write_text(f"Story {i}. The baker rose before the sun and lit the ovens.")
    # The batch reads "failed" for the 1.5 s between its two attempts; the CLI polls every 0.05 s.
    with start_production_double(pace=0.02, crash_batches=1, retry_backoff=1.5) as double:
        argv = [
            *map(str, docs),
            *("--url", double.url, "--username", double.username),
            *("--password", double.password, "--profile", "production"),
            *("--poll", "0.05", "--quiet", "--out", str(tmp_path / "runs")),
        ]
        code = headless.main(argv)
        duplicates = len(double.story_ids(double.batch_ids()[0]))
    assert duplicates > 3
    assert code == 0


async def test_merge_that_production_never_does_is_shown_unconfirmed(
    production: ProductionDouble, documents: Callable[..., list[Path]]
) -> None:
    async with client_of(production) as client:
        run = await BatchSession(client, follow=FAST).run_batch(
            documents(2), BatchConfig(merge_audio=True)
        )
    assert list(run.files["status"]) == ["completed"] * 2
    assert list(run.files["merge_status"]) == ["unconfirmed"] * 2
    assert list(run.files["completed_steps"]) == ["story,images,audio"] * 2
    snapshot = run.snapshot()
    assert snapshot.unconfirmed_steps == (PipelineStep.MERGE,)
    assert any("merge" in note and "unconfirmed" in note for note in snapshot.notes)


async def test_a_crashed_batch_that_production_runs_again_is_followed_not_failed(
    documents: Callable[..., list[Path]],
) -> None:
    # The batch reads "failed" between attempts; the second attempt makes every story again.
    with start_production_double(pace=0.02, crash_batches=1, retry_backoff=0.6) as double:
        async with client_of(double) as client:
            session = BatchSession(client, follow=FAST)
            run = await session.start(documents(4), BatchConfig(generate_audio=False))
            failed_seen = asyncio.Event()

            async def watch() -> None:
                while not run.done:
                    for batch_id in run.batch_ids:
                        status = await client.batch_status(batch_id)
                        if status.status == "failed":
                            failed_seen.set()
                    await asyncio.sleep(0.02)  # a second poller, to observe the failed status

            watcher = asyncio.create_task(watch())
            await session.wait()
            watcher.cancel()
            listed = double.story_ids(run.batch_ids[0])
            files_of = {sid: double.story_file(sid) for sid in listed}
    assert failed_seen.is_set(), "the double must show 'failed' between attempts"
    assert list(run.files["status"]) == ["completed"] * 4
    assert len(listed) > 4  # duplicates exist
    # Each row follows a story made from its own file, and keeps its duplicates.
    for row in range(4):
        story_id = run.files.at[row, "story_id"]
        assert files_of[story_id] == run.files.at[row, "file_url"]
    rows_of_duplicates = [run.story_ids[sid] for sid in listed]
    assert sorted(set(rows_of_duplicates)) == [0, 1, 2, 3]
    assert len(rows_of_duplicates) == len(listed)


async def test_a_batch_production_has_forgotten_ends_promptly_and_truthfully(
    documents: Callable[..., list[Path]], tmp_path: Path
) -> None:
    fast_doc, *slow_docs = documents(3)
    for doc in slow_docs:  # these two wait, silently, while the first completes
        doc.write_bytes(SLOW_PREFIX + b" and then a story " * 20)
    with start_production_double(pace=0.02, slow_for=30) as double:
        async with client_of(double) as client:
            session = BatchSession(client, follow=FAST, runs_dir=tmp_path / "runs")
            run = await session.start([fast_doc, *slow_docs], BatchConfig(generate_audio=False))
            await wait_for(run, lambda r: r.status_of(0) is FileStatus.COMPLETED)
            claimed = {sid: double.flag_history(sid) for sid in run.story_ids}
            double.forget()  # a restart with the memory gone
            async with asyncio.timeout(60):  # a way out, not a timing assertion
                await session.wait()
    frame = run.files
    assert list(frame["status"]) == ["completed", "failed", "failed"]
    assert all("no longer knows this batch" in frame.at[i, "error"] for i in (1, 2))
    # No row claims a step the server did not finish before it forgot.
    for row in range(3):
        story_id = frame.at[row, "story_id"]
        history = claimed.get(story_id, [])
        for step, flag in FLAGS.items():
            if frame.at[row, f"{step}_status"] == "completed":
                assert any(getattr(f, flag) for f in history), (row, step)
    assert (tmp_path / "runs" / run.run_id / "files.csv").exists()


async def test_a_server_that_keeps_dropping_the_socket_is_followed_by_polling(
    production: ProductionDouble, documents: Callable[..., list[Path]]
) -> None:
    production.drop_sockets_after(0.05)  # the token is good; the server just keeps closing
    production.limit_records(0)  # the batch waits until the stream has given up
    async with client_of(production) as client:
        session = BatchSession(client, follow=FAST)
        run = await session.start(documents(2), BatchConfig(generate_audio=False))
        follower = session.follower
        assert follower is not None
        async with asyncio.timeout(60):
            while follower.stream is None or follower.stream.failure is None:  # noqa: ASYNC110
                await asyncio.sleep(0.02)  # a condition polled under a deadline, no event for it
        production.limit_records(None)
        await session.wait()
    assert list(run.files["status"]) == ["completed"] * 2
    assert follower.stream is not None
    failure = follower.stream.failure
    assert isinstance(failure, StreamError), failure  # not "its token is probably refused"
    assert "keeps closing the event socket" in str(failure)
    assert production.url in str(failure)


async def test_timestamps_without_an_offset_do_not_break_the_run(
    documents: Callable[..., list[Path]],
) -> None:
    with start_production_double(pace=0.3, naive_times=True) as double:
        async with client_of(double) as client:
            run = await BatchSession(client, follow=FAST).run_batch(
                documents(2), BatchConfig(generate_audio=False)
            )
    assert list(run.files["status"]) == ["completed"] * 2
    assert run.files["last_event_at"].notna().all()


async def test_progress_events_stuck_at_zero_are_news_not_silence(
    documents: Callable[..., list[Path]],
) -> None:
    # Production's step runs longer than give_up_after, but says "0 %" every so often: the file
    # was never silent, so it must not be given up.
    follow = FollowOptions(poll_interval=0.05, quiet_poll_interval=0.2, give_up_after=0.6)
    with start_production_double(pace=0.02, step_seconds=1.5, heartbeat=0.1) as double:
        async with client_of(double) as client:
            only_audio = BatchConfig(generate_story=False, generate_images=False)
            run = await BatchSession(client, follow=follow).run_batch(documents(1), only_audio)
    assert list(run.files["status"]) == ["completed"]
    assert "no word" not in str(run.files.at[0, "error"])


async def test_a_file_given_up_for_silence_is_followed_again_when_news_comes(
    documents: Callable[..., list[Path]],
) -> None:
    # REST only. The slow file says nothing for longer than give_up_after (it is given up),
    # while the other file's steps keep the run going (news every 0.8 s < 1.2 s); the slow
    # file's story then appears (at about 1.8 s, before the other ends at 2.4 s), so it must
    # come back and be followed to its end. Margins of 0.4 s or more on each side.
    slow, quick = documents(2)
    slow.write_bytes(SLOW_PREFIX + b" the slow one " * 20)
    follow = FollowOptions(poll_interval=0.05, use_events=False, give_up_after=1.2)
    given_up: list[bool] = []
    with start_production_double(pace=0.8, slow_for=1.0) as double:
        async with client_of(double) as client:
            session = BatchSession(client, follow=follow)
            run = await session.start([slow, quick], BatchConfig())
            run.subscribe(
                lambda r: (
                    given_up.append(True) if "no word" in str(r.snapshot().files[0].error) else None
                )
            )
            await session.wait()
    assert given_up, "the slow file must have been given up for a while"
    assert list(run.files["status"]) == ["completed", "completed"]
