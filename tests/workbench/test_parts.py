"""The workbench's small parts: settings, media formats, what a run offers and why not."""

from __future__ import annotations

import struct

import pytest

from batchkit.contract.signatures import media_format
from batchkit.errors import ConfigError
from batchkit.samples import sample_paths
from batchkit.tracker import BatchRun, PlannedFile
from batchkit.workbench import (
    DEFAULT_PACE,
    completed_stories,
    embedded_pace,
    retry_offer,
    uploads_over,
)
from batchkit.workbench.offers import regenerate_refusal, start_refusal
from workbench.made_runs import MadeRun


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
    # The session says which rows can be sent again; the rejected ones never are.
    offer = retry_offer(snapshot, range(len(snapshot.files)), running=False)
    assert [snapshot.files[i].name for i in offer.rows] == [p.name for p in sample_paths()[:2]]
    assert offer.reason == ""
    assert completed_stories(snapshot) == []
    assert uploads_over(snapshot)


def test_why_retry_cannot_run_is_said_in_words(failed_run: MadeRun) -> None:
    snapshot = failed_run.run.snapshot()
    offer = retry_offer(snapshot, (), running=False)
    assert offer.rows == ()
    names = [p.name for p in sample_paths()[:2]]
    assert offer.reason == (
        f"empty.txt and report.pdf were rejected: fix and add again; "
        f"{names[0]} and {names[1]} were removed before reaching the server"
    )
    assert retry_offer(snapshot, (0, 1), running=True).reason == "the batch is still running"
    assert retry_offer(None, (), running=False).reason == "nothing has run yet"


def test_why_start_and_regenerate_cannot_run() -> None:
    base = {"waiting_for": "", "closed": False, "receiving": False, "documents": 2, "rejected": 0}
    assert start_refusal(**base, problems=[]) == ""
    assert start_refusal(**{**base, "documents": 0}, problems=[]) == "add documents first"
    assert start_refusal(**{**base, "documents": 0, "rejected": 1}, problems=[]) == (
        "every file in the list was rejected"
    )
    assert start_refusal(**{**base, "receiving": True}, problems=[]) == (
        "files are still arriving from the browser"
    )
    assert start_refusal(**{**base, "waiting_for": "logging in"}, problems=[]) == (
        "waiting for the server: logging in"
    )
    problems = [("Words per image", "must be between 50 and 2000 words, not 10"), ("B", "c")]
    assert start_refusal(**base, problems=problems) == (
        "fix the settings first: Words per image: must be between 50 and 2000 words, not 10 "
        "(and 1 more)"
    )
    assert regenerate_refusal(0, "", lambda _: False) == "write a prompt for the new story"
    assert regenerate_refusal(0, "x" * 2001, lambda _: False).startswith("the prompt is 2,001")
    assert regenerate_refusal(0, "a", lambda _: True, running_name="a.txt") == (
        "a.txt is still being generated"
    )
    assert regenerate_refusal(None, "a", lambda _: False) == "no story has completed yet"
    assert regenerate_refusal(0, "a", lambda _: False) == ""


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
