"""The workbench's small parts: background tasks, settings, media formats, what a run offers."""

from __future__ import annotations

import asyncio
import struct

import pytest

from batchkit.errors import ConfigError, RunError
from batchkit.files import Document
from batchkit.samples import sample_paths
from batchkit.tracker import BatchRun, PlannedFile
from batchkit.widgets import Notifier
from batchkit.workbench import (
    DEFAULT_PACE,
    TaskKeeper,
    completed_stories,
    describe_error,
    embedded_pace,
    media_format,
    retryable,
    uploads_over,
)
from workbench.made_runs import MadeRun


# ---------------------------------------------------------------- tasks
async def test_a_failing_task_is_painted_into_the_notifier_not_lost() -> None:
    notifier = Notifier()
    keeper = TaskKeeper(notifier.error)

    async def broken() -> None:
        raise RunError("the server went away")

    task = keeper.spawn(broken(), failure="could not start")
    assert task in keeper.tasks  # referenced while it runs
    await keeper.wait()
    assert keeper.tasks == set()
    assert keeper.failures == 1
    notice = notifier.log[-1]
    assert (notice.level.value, notice.text) == ("error", "could not start: the server went away")
    assert "could not start: the server went away" in notifier.message


async def test_cancelled_tasks_are_not_failures() -> None:
    notifier = Notifier()
    keeper = TaskKeeper(notifier.error)
    keeper.spawn(asyncio.Event().wait(), failure="waiting")
    await keeper.cancel_all()
    assert keeper.failures == 0
    assert notifier.log == []


def test_describe_error_names_foreign_exceptions() -> None:
    assert describe_error(RunError("no run")) == "no run"
    assert describe_error(ValueError("bad")) == "ValueError: bad"
    assert describe_error(KeyError()) == "KeyError"


# ---------------------------------------------------------------- settings
def test_embedded_pace_from_the_environment() -> None:
    assert embedded_pace({}) == DEFAULT_PACE
    assert embedded_pace({"BATCHKIT_PACE": "0"}) == 0.0
    assert embedded_pace({"BATCHKIT_PACE": " 0.2 "}) == 0.2
    for bad in ("-1", "fast", "nan", "inf"):
        with pytest.raises(ConfigError) as caught:
            embedded_pace({"BATCHKIT_PACE": bad})
        assert caught.value.field == "BATCHKIT_PACE"


# ---------------------------------------------------------------- media
def test_media_format_reads_the_first_bytes_before_the_url() -> None:
    wav = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt "
    assert media_format(wav, "/media/x.bin") == "wav"
    assert media_format(b"\x89PNG\r\n\x1a\n....", "/a.jpg") == "png"
    assert media_format(b"\xff\xd8\xff\xe0", "/a") == "jpeg"
    assert media_format(b"ID3\x04", "/a") == "mp3"
    assert media_format(b"????", "/media/a.JPG?sig=1") == "jpeg"
    assert media_format(b"????", "/media/clip.ogg") == "ogg"


# ---------------------------------------------------------------- what a run offers
def test_only_accepted_failed_files_are_retried(failed_run: MadeRun) -> None:
    snapshot = failed_run.run.snapshot()
    # Row i of a run is the i-th document the session was given; the bytes do not matter here.
    documents = [Document.from_bytes(name, b"text") for name in failed_run.run.files["name"]]
    again = retryable(snapshot, documents)
    assert [d.name for d in again] == [p.name for p in sample_paths()[:2]]
    assert completed_stories(snapshot) == []
    assert uploads_over(snapshot)


def test_completed_files_offer_their_stories(completed_run: MadeRun) -> None:
    offered = completed_stories(completed_run.run.snapshot())
    assert [(name, index) for name, index, _ in offered] == [
        (p.name, i) for i, p in enumerate(sample_paths())
    ]
    assert all(story_id for _, _, story_id in offered)


def test_uploads_are_not_over_while_a_file_waits_to_be_sent() -> None:
    run = BatchRun([PlannedFile(name="a.txt", size=10)], steps=["story"])
    assert not uploads_over(run.snapshot())
    run.mark_upload_progress(0, 5, 10)
    assert not uploads_over(run.snapshot())
    run.mark_upload_failed(0, "connection refused")
    assert uploads_over(run.snapshot())
