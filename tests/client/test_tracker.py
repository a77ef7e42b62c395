"""The tracker folds real contract events and REST bodies into one live table, never backwards.

No server is needed: each test builds a valid sequence of the contract's own models (the ones the
event stream and the client hand to the tracker) and checks the table, the snapshot and the
run's promises (in-place updates, waits, subscribers) after folding them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from batchkit.contract import (
    AutoModeComplete,
    AutoModeError,
    AutoModeProgress,
    AutoModeStart,
    BatchStatusResponse,
    BatchStoriesComplete,
    BatchStoriesError,
    BatchStoriesProgress,
    BatchStoriesStart,
    FileResult,
    JoinedStoryRoom,
    PipelineStep,
    RoomStory,
    ServerEvent,
    StoryFiles,
    StoryFlags,
    StoryProcessingComplete,
    StoryProcessingProgress,
    StoryProcessingStart,
    StoryResponse,
)
from batchkit.errors import RunError
from batchkit.tracker import BatchRun, EventFact, PlannedFile, RunSnapshot

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ALL = ("story", "images", "audio", "merge")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def pipeline(
    story_id: str, steps: Sequence[str], *, start: float = 0.0, chunks: int = 2, seq: bool = True
) -> list[ServerEvent]:
    """One story's events in the order the reference server sends them (seq 1, 2, ...)."""
    numbers = itertools.count(1)
    clock = itertools.count()

    def meta() -> dict[str, object]:
        return {
            "story_id": story_id,
            "timestamp": at(start + next(clock)),
            "seq": next(numbers) if seq else None,
        }

    events: list[ServerEvent] = []
    done: list[str] = []
    if "story" in steps:
        events += [
            StoryProcessingStart(**meta()),
            StoryProcessingProgress(progress=50, **meta()),
            StoryProcessingComplete(**meta()),
        ]
        done.append("story")
    for step in (s for s in steps if s != "story"):
        events.append(AutoModeStart(step=step, **meta()))
        for k in range(1, chunks + 1):
            progress = 100 * k / chunks
            events.append(
                AutoModeProgress(step=step, progress=progress, current=k, total=chunks, **meta())
            )
        done.append(step)
        events.append(AutoModeComplete(step=step, completed_steps=list(done), **meta()))
    return events


def feed(run: BatchRun, events: Sequence[ServerEvent], start: float = 100.0) -> float:
    """Apply ``events`` half a second apart from ``start``; returns the time after the last."""
    for i, event in enumerate(events):
        run.apply_event(event, received_at=at(start + i / 2))
    return start + len(events) / 2


def make_run(n: int, steps: Sequence[str] = ALL, *, batch_size: int = 10, **kw: object) -> BatchRun:
    """``n`` files uploaded and put in batches ``b0``, ``b1``... of at most ``batch_size``."""
    files = [PlannedFile(name=f"doc{i}.txt", size=1000 + i) for i in range(n)]
    run = BatchRun(files, steps=steps, created_at=T0, **kw)
    for i in range(n):
        run.mark_upload_progress(i, 500, 1000 + i, received_at=at(1))
        run.mark_uploaded(i, f"http://srv/uploads/original/doc{i}.txt", received_at=at(2))
    for b, first in enumerate(range(0, n, batch_size)):
        run.mark_batch_created(
            f"b{b}", range(first, min(first + batch_size, n)), job_id=b, received_at=at(3)
        )
    return run


def status(
    batch_id: str, story_ids: Sequence[str], state: str = "processing", **kw: object
) -> BatchStatusResponse:
    return BatchStatusResponse(
        batch_id=batch_id,
        status=state,
        total_stories=len(story_ids),
        completed_stories=0,
        failed_stories=0,
        progress=0.0,
        story_ids=list(story_ids),
        **kw,
    )


def story(story_id: str, updated: float, **flags: bool) -> StoryResponse:
    return StoryResponse(
        id=story_id,
        title=story_id,
        status=StoryFlags(**flags),
        files=StoryFiles(original_file="uploads/original/x.txt"),
        created_at=T0,
        updated_at=at(updated),
    )


def column(run: BatchRun, name: str) -> list[object]:
    return run.files[name].tolist()


# ---------------------------------------------------------------- whole runs
def test_a_run_with_every_step_ends_completed_with_step_times() -> None:
    run = make_run(3)
    ids = [f"s{i}" for i in range(3)]
    feed(run, [BatchStoriesStart(batch_id="b0", total_stories=3, timestamp=at(4), seq=1)], 4)
    for i, sid in enumerate(ids):
        run.apply_event(
            BatchStoriesProgress(
                batch_id="b0",
                current_story=i + 1,
                total_stories=3,
                progress=33.3 * (i + 1),
                timestamp=at(5),
                seq=2 + i,
                story_id=sid,
            ),
            received_at=at(5),
        )
    assert column(run, "story_id") == ids
    assert column(run, "status") == ["queued"] * 3
    for i, sid in enumerate(ids):
        feed(run, pipeline(sid, ALL), start=10 + 30 * i)
    files = run.files
    assert column(run, "status") == ["completed"] * 3
    assert column(run, "completed_steps") == ["story,images,audio,merge"] * 3
    assert files["images_chunks"].tolist() == [2, 2, 2]
    assert files.at[0, "story_s"] == 1.0  # start at 10.0, complete at 11.0
    assert files.at[0, "images_s"] == 1.5
    assert (
        files.at[0, "elapsed_s"]
        == (files.at[0, "finished_at"] - files.at[0, "started_at"]).total_seconds()
    )
    snap = run.snapshot()
    assert (snap.completed, snap.failed, snap.done, snap.all_done) == (3, 0, 3, True)
    assert snap.progress == 1.0
    assert snap.eta_s == 0.0
    assert run.done


def test_only_the_story_step() -> None:
    run = make_run(2, ["story"])
    run.apply_status(status("b0", ["s0", "s1"]), received_at=at(4))
    feed(run, pipeline("s0", ["story"]))
    assert column(run, "status") == ["completed", "queued"]
    assert run.files.at[0, "step_progress"] == 1.0
    feed(run, pipeline("s1", ["story"]), 200)
    assert run.done


def test_auto_mode_off_completes_when_the_records_exist() -> None:
    run = make_run(2, [])
    assert column(run, "status") == ["queued", "queued"]
    run.apply_event(
        BatchStoriesProgress(
            batch_id="b0",
            current_story=1,
            total_stories=2,
            progress=50,
            timestamp=at(4),
            seq=1,
            story_id="s0",
        ),
        received_at=at(4),
    )
    assert column(run, "status") == ["completed", "queued"]
    run.apply_status(status("b0", ["s0", "s1"], "completed"), received_at=at(5))
    assert run.done
    assert column(run, "story_id") == ["s0", "s1"]


def test_more_than_ten_files_run_in_three_batches() -> None:
    run = make_run(25)
    assert run.batch_ids == ("b0", "b1", "b2")
    assert run.files["batch_id"].value_counts().to_dict() == {"b0": 10, "b1": 10, "b2": 5}
    assert run.files.at[24, "batch_index"] == 4
    for b, rows in enumerate((range(10), range(10, 20), range(20, 25))):
        run.apply_status(status(f"b{b}", [f"s{r}" for r in rows]), received_at=at(4))
    assert column(run, "story_id") == [f"s{r}" for r in range(25)]
    for r in reversed(range(25)):
        feed(run, pipeline(f"s{r}", ALL, chunks=1))
    assert run.done
    assert run.snapshot().completed == 25
    assert run.batches["files"].tolist() == [10, 10, 5]


def test_a_file_rejected_before_upload_stays_failed_and_sinks_nothing() -> None:
    files = [
        PlannedFile(name="ok.txt", size=10),
        PlannedFile(name="x.pdf", size=9, rejection="not a document"),
    ]
    run = BatchRun(files, steps=["story"], created_at=T0)
    assert column(run, "status") == ["pending", "failed"]
    assert run.files.at[1, "error"] == "not a document"
    assert run.files.at[1, "upload_status"] == "rejected"
    run.mark_uploaded(0, "http://srv/u/ok.txt", received_at=at(1))
    run.mark_batch_created("b0", [0], received_at=at(2))
    run.apply_status(status("b0", ["s0"]), received_at=at(3))
    feed(run, pipeline("s0", ["story"]))
    assert column(run, "status") == ["completed", "failed"]
    assert run.done
    assert run.snapshot().failed == 1


def test_upload_progress_failure_and_retry() -> None:
    run = BatchRun([PlannedFile(name="a.txt", size=200)], steps=["story"], created_at=T0)
    run.mark_upload_progress(0, 50, 200, received_at=at(1))
    assert (run.files.at[0, "status"], run.files.at[0, "upload_progress"]) == ("uploading", 0.25)
    assert not run.mark_upload_progress(0, 40, 200, received_at=at(2))  # never backwards
    run.mark_upload_failed(0, "connection reset", received_at=at(3))
    assert (run.files.at[0, "status"], run.files.at[0, "error"]) == ("failed", "connection reset")
    run.mark_uploaded(0, "http://srv/u/a.txt", received_at=at(4))  # a retry succeeded
    assert run.files.at[0, "status"] == "uploaded"
    assert pd.isna(run.files.at[0, "error"])


def test_a_batch_that_could_not_be_created_fails_its_files() -> None:
    run = BatchRun(
        [PlannedFile(name=f"{i}.txt", size=1) for i in range(2)], steps=["story"], created_at=T0
    )
    run.mark_batch_failed([0, 1], "503 from POST /api/stories/batch-create", received_at=at(1))
    assert column(run, "status") == ["failed", "failed"]
    assert run.done


# ---------------------------------------------------------------- order, duplicates, buffering
def test_events_before_the_mapping_snapshot_are_kept_and_folded_later() -> None:
    run = make_run(2, ["story", "images"])
    feed(run, pipeline("s1", ["story", "images"]))
    assert column(run, "status") == ["queued", "queued"]
    assert set(run.events["outcome"].iloc[-7:]) == {"buffered"}
    run.apply_status(status("b0", ["s0", "s1"]), received_at=at(200))
    assert column(run, "status") == ["queued", "completed"]
    assert run.files.at[1, "story_started_at"] == at(100)  # the buffered event's own time


def test_a_repeated_fact_changes_nothing() -> None:
    # The fold is idempotent (evidence only grows), so it needs no duplicate check of its own:
    # the event stream drops re-deliveries by seq before they get here (test_event_stream.py).
    run = make_run(1, ["story"])
    run.apply_status(status("b0", ["s0"]), received_at=at(4))
    event = StoryProcessingProgress(story_id="s0", progress=40, timestamp=at(5), seq=7)
    assert run.apply_event(event, received_at=at(5))
    version, table = run.version, run.files.copy()
    assert not run.apply_event(event, received_at=at(5))
    assert not run.apply_status(status("b0", ["s0"]), received_at=at(4))
    assert run.version == version
    pd.testing.assert_frame_equal(run.files, table)
    assert run.events["outcome"].tolist()[-2:] == ["unchanged", "unchanged"]


def test_late_events_never_move_a_file_backwards() -> None:
    run = make_run(1, ["story", "images"])
    run.apply_status(status("b0", ["s0"]), received_at=at(4))
    events = pipeline("s0", ["story", "images"], chunks=3)
    feed(run, events[4:])  # images start .. images complete: the story step is implied done
    assert run.files.at[0, "status"] == "completed"
    assert run.files.at[0, "completed_steps"] == "story,images"
    version = run.version
    feed(run, [events[0], events[1], events[5]], 200)  # story start/progress, an images progress
    assert run.files.at[0, "status"] == "completed"
    assert run.files.at[0, "step_progress"] == 1.0
    assert run.files.at[0, "story_started_at"] == at(200)  # late evidence still tells the time
    assert run.version > version


# ---------------------------------------------------------------- production's behaviour
def test_production_no_batch_events_merge_not_reported_progress_zero_flags_flipping() -> None:
    run = make_run(2, ALL, reportable_steps=["story", "images", "audio"])
    run.apply_status(status("b0", ["s0", "s1"], "completed"), received_at=at(4))  # records only
    assert column(run, "status") == ["queued", "queued"]
    t = feed(
        run,
        [
            StoryProcessingStart(story_id="s0", timestamp=at(5)),
            StoryProcessingComplete(story_id="s0", timestamp=at(6)),
            AutoModeStart(story_id="s0", step="images", timestamp=at(7)),
            AutoModeProgress(story_id="s0", step="images", progress=0, timestamp=at(8)),
            AutoModeComplete(story_id="s0", step="images", timestamp=at(9)),
        ],
    )
    assert run.files.at[0, "step"] == "audio"
    assert run.files.at[0, "step_progress"] == 0.0
    run.apply_story(
        story("s0", 10, story_generated=True, images_generated=True, audio_generated=True),
        received_at=at(t),
    )
    flipped = story("s0", 11, story_generated=True, images_generated=True, audio_generated=False)
    run.apply_story(flipped, received_at=at(t + 1))
    assert run.files.at[0, "status"] == "completed"  # merge is not waited for
    assert run.files.at[0, "completed_steps"] == "story,images,audio"
    run.apply_story(
        story("s1", 12, story_generated=True, images_generated=True), received_at=at(t + 2)
    )
    run.apply_story(story("s1", 13, story_generated=True), received_at=at(t + 3))  # a flip
    assert run.files.at[1, "status"] == "processing"
    assert run.files.at[1, "step"] == "audio"
    assert run.files.at[1, "completed_steps"] == "story,images"
    run.apply_story(
        story("s1", 14, story_generated=True, images_generated=True, audio_generated=True),
        received_at=at(t + 4),
    )
    assert run.done


def test_a_story_room_join_reply_carries_the_flags() -> None:
    run = make_run(1, ["story"])
    run.apply_status(status("b0", ["s0"]), received_at=at(4))
    reply = JoinedStoryRoom(
        story_id="s0",
        timestamp=at(5),
        story=RoomStory(
            id="s0",
            title="t",
            status=StoryFlags(story_generated=True),
            created_at=T0,
            updated_at=at(5),
        ),
    )
    run.apply_event(reply, received_at=at(5))
    assert run.done


def test_ext_results_map_stories_by_index_and_report_steps() -> None:
    run = make_run(2, ["story", "images"])
    results = [
        FileResult(
            index=0,
            file_url="u0",
            file_name="doc0.txt",
            story_id="s0",
            status="processing",
            step="images",
            step_progress=40.0,
        ),
        FileResult(
            index=1,
            file_url="u1",
            file_name="doc1.txt",
            story_id="s1",
            status="failed",
            error="empty document",
        ),
    ]
    run.apply_status(status("b0", [], results=results), received_at=at(4))
    assert column(run, "status") == ["processing", "failed"]
    assert run.files.at[0, "completed_steps"] == "story"
    assert run.files.at[0, "step_progress"] == 0.4
    assert run.files.at[1, "error"] == "empty document"


def test_batch_errors_and_batch_verdicts() -> None:
    run = make_run(3, ["story"])
    run.apply_status(status("b0", ["s0", "s1", "s2"]), received_at=at(4))
    feed(run, pipeline("s0", ["story"]))
    run.apply_event(
        BatchStoriesComplete(
            batch_id="b0",
            total_stories=3,
            completed_stories=2,
            failed_stories=1,
            errors=["Story 2: the file is empty"],
            timestamp=at(9),
            seq=9,
        ),
        received_at=at(150),
    )
    assert column(run, "status") == ["completed", "failed", "completed"]
    assert run.files.at[1, "error"] == "the file is empty"
    other = make_run(2, ["story"])
    other.apply_status(status("b0", ["s0", "s1"]), received_at=at(4))
    feed(other, pipeline("s0", ["story"]))
    other.apply_event(
        BatchStoriesError(batch_id="b0", error="worker crashed", timestamp=at(9)),
        received_at=at(150),
    )
    assert column(other, "status") == ["completed", "failed"]
    assert other.files.at[1, "error"] == "worker crashed"


def test_a_step_error_fails_the_file_at_that_step() -> None:
    run = make_run(1, ["story", "images", "audio"])
    run.apply_status(status("b0", ["s0"]), received_at=at(4))
    feed(
        run,
        [
            *pipeline("s0", ["story"]),
            AutoModeError(story_id="s0", step="images", error="no image", timestamp=at(9), seq=4),
        ],
    )
    row = run.files.loc[0]
    assert (row["status"], row["step"], row["error"]) == ("failed", "images", "no image")


# ---------------------------------------------------------------- never hang
def test_stalled_after_the_timeout_and_not_once_it_moves() -> None:
    run = make_run(2, ["story"], stall_timeout=30)
    run.apply_status(status("b0", ["s0", "s1"]), received_at=at(4))
    feed(run, pipeline("s0", ["story"])[:2], 10)  # s0 starts at 10, progresses at 10.5
    assert not run.tick(at(40))  # 29.5 s idle
    assert run.tick(at(41))
    assert column(run, "stalled") == [True, False]  # s1 is queued: waiting is not stalling
    assert run.snapshot().stalled == 1
    assert not run.tick(at(50))  # still stalled: nothing new
    run.apply_event(
        StoryProcessingProgress(story_id="s0", progress=80, timestamp=at(51), seq=3),
        received_at=at(51),
    )
    assert column(run, "stalled") == [False, False]
    assert run.tick(at(90))
    assert column(run, "stalled") == [True, False]
    run.apply_event(
        StoryProcessingComplete(story_id="s0", timestamp=at(91), seq=4), received_at=at(91)
    )
    assert column(run, "stalled") == [False, False]


def test_a_silent_file_is_failed_after_give_up_and_revived_by_news() -> None:
    run = make_run(2, ["story"], stall_timeout=30, give_up_after=60)
    run.apply_status(status("b0", ["s0", "s1"]), received_at=at(4))
    feed(run, pipeline("s0", ["story"]), 10)  # s0 completes; s1 never says a word
    assert not run.tick(at(63))  # its record was listed at 4: 59 s of silence
    assert run.tick(at(65))
    assert column(run, "status") == ["completed", "failed"]
    assert "no word from the server" in str(column(run, "error")[1])
    assert run.done
    # It was only slow: its first event brings it back.
    run.apply_event(
        StoryProcessingStart(story_id="s1", timestamp=at(70), seq=1), received_at=at(70)
    )
    assert column(run, "status") == ["completed", "processing"]
    assert not run.done
    # The rule replays: the same facts fold to the same table.
    replayed = BatchRun.replay(run.facts)
    pd.testing.assert_frame_equal(replayed.files, run.files)


# ---------------------------------------------------------------- regeneration
def test_a_newer_start_regenerates_and_older_events_are_stale() -> None:
    run = make_run(1, ["story", "images"])
    run.apply_status(status("b0", ["s0"]), received_at=at(4))
    first = pipeline("s0", ["story", "images"])
    held_back = first.pop(4)  # an images progress of the first attempt, delivered very late
    feed(run, first)
    assert run.files.at[0, "status"] == "completed"
    again = [
        e.model_copy(update={"seq": e.seq + 20, "timestamp": e.timestamp + timedelta(minutes=5)})
        for e in pipeline("s0", ["story", "images"])
    ]
    feed(run, again[:1], 400)
    assert (run.files.at[0, "status"], run.files.at[0, "completed_steps"]) == ("processing", "")
    assert run.files.at[0, "story_started_at"] == at(400)
    assert not run.apply_event(held_back, received_at=at(401))
    assert run.events["outcome"].iloc[-1] == "stale"
    assert run.files.at[0, "status"] == "processing"
    feed(run, again[1:], 402)
    assert run.files.at[0, "status"] == "completed"
    assert run.files.at[0, "finished_at"] > at(402)


def test_a_regenerate_fact_restarts_and_ignores_snapshots_from_before() -> None:
    run = make_run(1, ["story"])
    run.apply_status(status("b0", ["s0"]), received_at=at(4))
    feed(run, pipeline("s0", ["story"], seq=False))
    run.apply_story(story("s0", 3, story_generated=True), received_at=at(150))
    assert run.files.at[0, "status"] == "completed"
    run.mark_regenerate(0, received_at=at(200))
    assert run.files.at[0, "status"] == "queued"
    run.apply_story(story("s0", 3, story_generated=True), received_at=at(201))  # stale poll
    assert run.files.at[0, "status"] == "queued"
    feed(run, pipeline("s0", ["story"], start=300, seq=False), 300)
    assert run.files.at[0, "status"] == "completed"
    assert run.files.at[0, "story_started_at"] == at(300)


# ---------------------------------------------------------------- the run's promises
def test_the_frame_is_updated_in_place_and_held_references_see_it() -> None:
    run = make_run(1, ["story"])
    df = run.files
    lazy_copy = df[["status"]]  # copy-on-write: a user's slice keeps the values it was taken with
    run.apply_status(status("b0", ["s0"]), received_at=at(4))
    feed(run, pipeline("s0", ["story"]))
    assert run.files is df
    assert df.at[0, "status"] == "completed"
    assert lazy_copy.at[0, "status"] == "queued"


def test_subscribers_are_told_and_a_raising_one_breaks_nothing() -> None:
    run = make_run(1, ["story"])
    seen: list[int] = []

    def broken(_: BatchRun) -> None:
        raise RuntimeError("a view's bug")

    run.subscribe(broken)
    stop = run.subscribe(lambda r: seen.append(r.version))
    run.apply_status(status("b0", ["s0"]), received_at=at(4))
    feed(run, pipeline("s0", ["story"]))
    assert run.done
    assert run.subscriber_errors == 4
    assert seen == list(range(seen[0], seen[0] + 4))
    stop()
    with run.batch():
        run.mark_regenerate(0, received_at=at(300))
        feed(run, pipeline("s0", ["story"], start=400, seq=False), 400)
    assert len(seen) == 4
    assert run.subscriber_errors == 5


async def test_wait_returns_when_every_file_is_terminal() -> None:
    run = make_run(2, ["story"])
    run.apply_status(status("b0", ["s0", "s1"]), received_at=at(4))
    waiting = asyncio.create_task(run.wait(timeout=5))
    feed(run, pipeline("s0", ["story"]))
    await asyncio.sleep(0)  # let the waiter run: it must still be waiting for s1
    assert not waiting.done()
    feed(run, pipeline("s1", ["story"]))
    snapshot = await asyncio.wait_for(waiting, 5)
    assert isinstance(snapshot, RunSnapshot)
    assert snapshot.all_done
    assert (await run.wait()).version == run.version  # already done: returns at once


async def test_wait_times_out_on_a_run_that_does_not_end() -> None:
    run = make_run(1, ["story"])
    with pytest.raises(TimeoutError):
        await run.wait(timeout=0.01)


def test_snapshot_progress_and_eta() -> None:
    run = make_run(
        2, ["story", "images"], step_weights={PipelineStep.STORY: 1.0, PipelineStep.IMAGES: 3.0}
    )
    run.apply_status(status("b0", ["s0", "s1"]), received_at=at(4))
    assert run.snapshot().eta_s is None
    assert run.snapshot().progress == 0.0
    feed(run, pipeline("s0", ["story", "images"], chunks=4)[:5])  # story done, images 1 of 4
    snap = run.snapshot()
    assert snap.progress == pytest.approx((1 + 3 * 0.25) / 4 / 2)
    assert snap.in_progress == (0,)
    assert snap.files[0].step == "images"
    assert snap.step_counts[PipelineStep.STORY].completed == 1
    assert snap.step_counts[PipelineStep.IMAGES].running == 1
    assert snap.eta_s is not None  # one step confirmed, 22 % of the work done
    assert snap.eta_s > 0
    assert snap.files[0].progress == pytest.approx(1.75 / 4)
    assert run.snapshot() is snap  # nothing new: the same snapshot
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.progress = 1.0


def test_apply_many_counts_what_changed_the_run() -> None:
    run = make_run(1, ["story"])
    run.apply_status(status("b0", ["s0"]), received_at=at(4))
    events = pipeline("s0", ["story"])
    facts = [EventFact(received_at=at(10 + i), event=e) for i, e in enumerate(events)]
    assert run.apply_many([*facts, facts[1]]) == len(events)  # the repeat changed nothing
    assert run.done


def test_a_fact_about_a_file_the_run_lacks_is_refused_and_not_logged() -> None:
    run = make_run(1, ["story"])
    count = len(run.facts)
    with pytest.raises(RunError, match="no file 5"):
        run.mark_uploaded(5, "http://srv/u/x")
    assert len(run.facts) == count


def test_the_events_table_lists_every_fact() -> None:
    run = make_run(1, ["story"])
    run.apply_status(status("b0", ["s0"]), received_at=at(4))
    feed(run, pipeline("s0", ["story"]))
    events = run.events
    assert len(events) == len(run.facts)
    assert events is run.events
    assert events["kind"].iloc[0] == "files-planned"
    story_rows = events[events["kind"] == "event"]
    assert story_rows["event"].tolist() == [
        "story:processing:start",
        "story:processing:progress",
        "story:processing:complete",
    ]
    assert story_rows["index"].tolist() == [0, 0, 0]
    assert str(events["received_at"].dtype) == "datetime64[ns, UTC]"
