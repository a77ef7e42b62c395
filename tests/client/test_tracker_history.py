"""The run's fact history: every kind of fact comes back equal, and the bulk costs the collector
nothing (CPython's full collections walk every tracked object, so a history of models paused the
event loop in long runs)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from batchkit.contract import (
    AutoModeComplete,
    AutoModeProgress,
    BatchState,
    BatchStatusResponse,
    StoryFiles,
    StoryFlags,
    StoryProcessingStart,
    StoryResponse,
)
from batchkit.contract.limits import PipelineStep
from batchkit.tracker import (
    BatchCreatedFact,
    BatchRun,
    EventFact,
    Fact,
    PlannedFile,
    StatusFact,
    StoryFact,
    TickFact,
)
from batchkit.tracker.facts import (
    BatchFailedFact,
    FilesPlanned,
    RegenerateFact,
    UploadedFact,
    UploadFailedFact,
    UploadProgressFact,
)
from batchkit.tracker.history import FactHistory

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def processing() -> BatchStatusResponse:
    """Batch ``b`` of one story, ``s0``, under way."""
    return BatchStatusResponse(
        batch_id="b",
        status=BatchState.PROCESSING,
        total_stories=1,
        completed_stories=0,
        failed_stories=0,
        progress=0.0,
        story_ids=["s0"],
    )


def one_of_each() -> list[Fact]:
    story = StoryResponse(
        _id="s0",
        title="A story",
        status=StoryFlags(story_generated=True),
        files=StoryFiles(original_file="/uploads/original/x.txt"),
        created_at=T0,
        updated_at=T0,
    )
    steps = (PipelineStep.STORY, PipelineStep.IMAGES)
    event = {"story_id": "s0", "timestamp": T0}
    return [
        FilesPlanned(
            received_at=T0,
            run_id="r",
            files=(PlannedFile(name="<b>x</b>.txt", size=3),),
            steps=steps,
            reportable_steps=steps,
            stall_timeout=5.0,
        ),
        UploadProgressFact(received_at=T0, index=0, sent=1, total=3),
        UploadedFact(received_at=T0, index=0, file_url="/uploads/original/x.txt"),
        UploadFailedFact(received_at=T0, index=0, error="la fin\u200f\n"),
        BatchCreatedFact(received_at=T0, batch_id="b", indices=(0,), job_id="7"),
        BatchFailedFact(received_at=T0, indices=(0,), error="503"),
        StatusFact(received_at=T0, status=processing()),
        StoryFact(received_at=T0, story=story),
        EventFact(received_at=T0, event=StoryProcessingStart(seq=1, **event)),
        EventFact(
            received_at=T0,
            event=AutoModeProgress(seq=2, step="images", progress=12.5, current=1, **event),
        ),
        EventFact(
            received_at=T0,
            event=AutoModeComplete(seq=3, step="images", completed_steps=["story"], **event),
        ),
        RegenerateFact(received_at=T0, index=0),
        TickFact(received_at=T0, now=T0 + timedelta(seconds=9)),
    ]


def test_every_kind_of_fact_comes_back_equal_with_what_it_did() -> None:
    history = FactHistory()
    facts = one_of_each()
    for n, fact in enumerate(facts):
        # A JSON line given by the caller (the run's log line) stands for the fact.
        line = fact.model_dump_json() if n % 2 else None
        history.append(fact, "applied" if n % 3 else "duplicate", n if n % 4 else None, line)
    assert len(history) == len(facts)
    assert list(history) == [
        (fact, "applied" if n % 3 else "duplicate", n if n % 4 else None)
        for n, fact in enumerate(facts)
    ]
    assert [type(fact) for fact, _, _ in history] == [type(fact) for fact in facts]


def progress_facts(count: int, stories: int = 10) -> Iterator[EventFact]:
    for n in range(count):
        event = AutoModeProgress(
            story_id=f"s{n % stories}", step="audio", progress=n % 100, seq=n + 1, timestamp=T0
        )
        yield EventFact(received_at=T0 + timedelta(microseconds=n), event=event)


def test_the_bulk_of_a_long_run_leaves_nothing_for_the_garbage_collector_to_walk() -> None:
    history = FactHistory()
    gc.collect()
    before = len(gc.get_objects())
    for fact in progress_facts(20_000):
        history.append(fact, "applied", 3)
    # A tuple of plain values stops being tracked when a collection looks at it; one nested in
    # another can take a second collection.
    gc.collect()
    gc.collect()
    gained = len(gc.get_objects()) - before
    # As models, each fact would leave about six tracked objects: 120,000 here.
    assert gained < 50, f"{gained:,} tracked objects for 20,000 facts"
    assert len(history) == 20_000
    last = list(history)[-1][0]
    assert isinstance(last, EventFact)
    assert last.event == AutoModeProgress(
        story_id="s9", step="audio", progress=99, seq=20_000, timestamp=T0
    )


def test_a_run_replays_from_its_kept_history_to_the_same_table() -> None:
    run = BatchRun([PlannedFile(name="a.txt", size=3)], steps=["story"], created_at=T0)
    run.mark_uploaded(0, "/uploads/original/a.txt", received_at=T0)
    run.mark_batch_created("b", [0], received_at=T0)
    run.apply_status(processing(), received_at=T0)
    for fact in progress_facts(30, stories=1):
        run.apply(fact)
    again = BatchRun.replay(run.facts)
    assert again.files.equals(run.files)
    assert again.events.equals(run.events)
    assert len(run.events) == len(run.facts) == 34
