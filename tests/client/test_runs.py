"""Runs on disk: the log is written as facts arrive, survives a crash, and replays to the table.

Real files in ``tmp_path``; the facts are the contract's own models, as the session feeds them.
"""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from batchkit import __version__
from batchkit.contract import (
    AutoModeComplete,
    AutoModeProgress,
    AutoModeStart,
    BatchStatusResponse,
    ServerEvent,
    StoryFiles,
    StoryFlags,
    StoryProcessingComplete,
    StoryProcessingStart,
    StoryResponse,
)
from batchkit.contract.redaction import redact_url
from batchkit.errors import RunError
from batchkit.runs import (
    CONFIG_FILE,
    EVENTS_FILE,
    FILES_CSV,
    FILES_PARQUET,
    EventLog,
    ReplayMismatchWarning,
    list_runs,
    load_run,
    read_facts,
    read_files,
    save_run,
)
from batchkit.tracker import BatchRun, FactLog, PlannedFile, TickFact, file_dtypes

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SECRET = "tok-3f9a-do-not-write"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def story_events(sid: str, start: float) -> list[ServerEvent]:
    stamp = {"story_id": sid}
    return [
        StoryProcessingStart(**stamp, timestamp=at(start), seq=1),
        StoryProcessingComplete(**stamp, timestamp=at(start + 1), seq=2),
        AutoModeStart(**stamp, step="images", timestamp=at(start + 2), seq=3),
        AutoModeProgress(
            **stamp, step="images", progress=50, current=1, total=2, timestamp=at(start + 3), seq=4
        ),
        AutoModeComplete(
            **stamp,
            step="images",
            completed_steps=["story", "images"],
            timestamp=at(start + 4),
            seq=5,
        ),
    ]


def start_run(log: FactLog | None = None) -> BatchRun:
    """Three files (one refused before upload), uploaded and in one batch, stories mapped."""
    files = [
        PlannedFile(name="a.txt", size=10),
        PlannedFile(name="b.docx", size=20),
        PlannedFile(name="c.pdf", size=5, rejection="not a .txt, .doc or .docx file"),
    ]
    run = BatchRun(files, steps=["story", "images"], stall_timeout=30, created_at=T0, log=log)
    for i in (0, 1):
        run.mark_upload_progress(i, 5, 10 * (i + 1), received_at=at(1))
        run.mark_uploaded(i, f"http://srv/uploads/original/{i}.txt", received_at=at(2))
    run.mark_batch_created("batch-1", [0, 1], job_id=42, received_at=at(3))
    run.apply_status(
        BatchStatusResponse(
            batch_id="batch-1",
            status="processing",
            total_stories=2,
            completed_stories=0,
            failed_stories=0,
            progress=0,
            story_ids=["s0", "s1"],
        ),
        received_at=at(4),
    )
    return run


def finish(run: BatchRun, first: float = 10) -> None:
    for i, event in enumerate(story_events("s0", first)):
        run.apply_event(event, received_at=at(first + i))
    s1 = story_events("s1", first + 100)
    run.apply_event(s1[0], received_at=at(first + 100))
    assert run.tick(at(first + 140))  # s1 stalls: the tick is a fact the log must replay
    assert run.files.at[1, "stalled"]
    for i, event in enumerate(s1[1:], start=1):
        run.apply_event(event, received_at=at(first + 140 + i))
    story = StoryResponse(
        id="s1",
        title="b",
        status=StoryFlags(
            story_generated=True,
            images_generated=True,
        ),
        files=StoryFiles(original_file="x"),
        created_at=T0,
        updated_at=at(first + 144),
    )
    run.apply_story(story, received_at=at(first + 110))


# ---------------------------------------------------------------- the log
def test_the_log_is_written_as_facts_arrive_and_replays_to_the_live_table(tmp_path: Path) -> None:
    with EventLog.in_directory(tmp_path) as log:
        run = start_run(log)
        lines_before = len((tmp_path / EVENTS_FILE).read_text().splitlines())
        assert lines_before == len(run.facts)  # flushed one by one, before any save
        finish(run)
        assert run.done
    replayed = BatchRun.replay(read_facts(tmp_path / EVENTS_FILE))
    assert any(isinstance(fact, TickFact) for fact in replayed.facts)
    pd.testing.assert_frame_equal(replayed.files, run.files)
    assert replayed.snapshot().files == run.snapshot().files
    assert replayed.facts == run.facts


def test_a_line_cut_short_by_a_crash_is_skipped_and_then_repaired(tmp_path: Path) -> None:
    log = EventLog.in_directory(tmp_path)
    run = start_run(log)
    log.close()
    path = tmp_path / EVENTS_FILE
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"kind": "tick", "received_at": "2025-03-01T09:')  # the process died here
    with pytest.warns(RuntimeWarning, match="cut short"):
        loaded = load_run(tmp_path)
    pd.testing.assert_frame_equal(loaded.files, run.files)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reopened = EventLog(path)  # opening drops the partial tail ...
        later = run.facts[-1].model_copy(update={"received_at": at(9)})
        reopened.append_line(later.model_dump_json())  # ... so this is a line
        reopened.close()
        assert len(read_facts(path)) == len(run.facts) + 1


def test_a_corrupt_line_inside_the_log_is_an_error_naming_it(tmp_path: Path) -> None:
    run = start_run()
    save_run(run, tmp_path)
    lines = (tmp_path / EVENTS_FILE).read_text().splitlines()
    lines[2] = '{"kind": "uploaded"}'
    (tmp_path / EVENTS_FILE).write_text("\n".join(lines) + "\n")
    with pytest.raises(RunError, match="line 3"):
        load_run(tmp_path)


def test_a_failing_log_is_counted_and_the_fold_goes_on() -> None:
    # A fake sink: a full disk cannot be produced on demand here.
    class FullDisk:
        def append_line(self, line: str) -> None:
            raise OSError(28, "No space left on device")

    run = start_run(FullDisk())
    finish(run)
    assert run.done
    assert run.log_errors == len(run.facts)


# ---------------------------------------------------------------- save and load
def test_save_and_load_round_trip_keeps_the_table_and_its_dtypes(tmp_path: Path) -> None:
    run = start_run(EventLog.in_directory(tmp_path))
    finish(run)
    save_run(
        run,
        tmp_path,
        config={"auto_mode": {"enabled": True}, "access_token": SECRET},
        server_url=f"http://demo:{SECRET}@127.0.0.1:8000/?token={SECRET}",
    )
    saved = read_files(tmp_path / FILES_PARQUET)
    pd.testing.assert_frame_equal(saved, run.files)
    assert dict(saved.dtypes) == {k: pd.api.types.pandas_dtype(v) for k, v in file_dtypes().items()}
    csv = pd.read_csv(tmp_path / FILES_CSV)
    assert csv["status"].tolist() == ["completed", "completed", "failed"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the replay matches files.parquet: no warning
        loaded = load_run(tmp_path)
    pd.testing.assert_frame_equal(loaded.files, run.files)
    assert loaded.run_id == run.run_id
    assert loaded.batch_ids == ("batch-1",)


def test_config_json_has_the_metadata_and_no_credentials(tmp_path: Path) -> None:
    run = start_run()
    save_run(
        run,
        tmp_path,
        config={"voice": "Puck", "auth": {"password": SECRET}},
        server_url=f"https://demo:{SECRET}@story.example:8443/base?token={SECRET}#x",
    )
    meta = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert meta["run_id"] == run.run_id
    assert meta["batch_ids"] == ["batch-1"]
    assert meta["server_url"] == "https://story.example:8443/base"
    assert meta["batchkit_version"] == __version__
    assert meta["config"] == {"voice": "Puck", "auth": {"password": "***"}}
    assert meta["summary"] == {"files": 3, "completed": 0, "failed": 1, "done": False}
    for name in (CONFIG_FILE, EVENTS_FILE, FILES_CSV):
        assert SECRET not in (tmp_path / name).read_text()
    assert redact_url("http://[::1]:9000/api?x=1", keep_query=False) == "http://[::1]:9000/api"


def test_a_changed_table_on_disk_is_reported_and_the_log_wins(tmp_path: Path) -> None:
    run = start_run()
    finish(run)
    save_run(run, tmp_path)
    tampered = read_files(tmp_path / FILES_PARQUET)
    tampered.at[0, "status"] = "failed"
    tampered.to_parquet(tmp_path / FILES_PARQUET, index=False)
    with pytest.warns(ReplayMismatchWarning, match="status"):
        loaded = load_run(tmp_path)
    assert loaded.files.at[0, "status"] == "completed"


def test_facts_logged_after_the_save_are_folded_on_load(tmp_path: Path) -> None:
    run = start_run(EventLog.in_directory(tmp_path))
    save_run(run, tmp_path)  # mid-run
    finish(run)  # ... then the kernel dies before the next save
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the table saved mid-run matches the replay up to then
        loaded = load_run(tmp_path)
    pd.testing.assert_frame_equal(loaded.files, run.files)
    assert loaded.done


def test_a_resumed_run_appends_to_the_same_log(tmp_path: Path) -> None:
    run = start_run()
    save_run(run, tmp_path)
    loaded = load_run(tmp_path, resume=True)
    finish(loaded)
    assert isinstance(loaded.log, EventLog)
    loaded.log.close()
    pd.testing.assert_frame_equal(
        BatchRun.replay(read_facts(tmp_path / EVENTS_FILE)).files, loaded.files
    )


def test_list_runs_lists_saved_and_unsaved_runs(tmp_path: Path) -> None:
    first = start_run()
    finish(first)
    save_run(first, tmp_path / "one", server_url="http://127.0.0.1:8000")
    second = start_run(EventLog.in_directory(tmp_path / "two"))  # never saved: a crashed kernel
    (tmp_path / "not-a-run").mkdir()
    runs = list_runs(tmp_path)
    assert runs["run_id"].tolist() == [first.run_id, second.run_id]
    assert runs["saved"].tolist() == [True, False]
    assert runs["completed"].tolist()[0] == 2
    assert pd.isna(runs["completed"].iloc[1])
    assert runs["files"].tolist() == [3, 3]
    assert runs["batch_ids"].iloc[0] == "batch-1"
    assert str(runs["created_at"].dtype) == "datetime64[ns, UTC]"
    assert list_runs(tmp_path / "nowhere").empty
