"""The per-file state machine's tables (batchkit.tracker.machine), row by row, through real facts.

Each table is checked two ways: as a table (complete, and where it matters, order-free), and
row by row through the facts that produce it, folded by a real run, so that the tables and the
fold that uses them cannot drift apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from batchkit.contract import (
    AutoModeComplete,
    AutoModeError,
    AutoModeProgress,
    AutoModeStart,
    BatchStatusResponse,
    BatchStoriesComplete,
    FileResult,
    PipelineStep,
    StoryFiles,
    StoryFlags,
    StoryProcessingComplete,
    StoryProcessingError,
    StoryProcessingProgress,
    StoryProcessingStart,
    StoryResponse,
)
from batchkit.tracker import BatchRun, FileStatus, PlannedFile, StepStatus
from batchkit.tracker.machine import (
    EVIDENCE,
    FILE_RULES,
    SHOWN,
    STEP_TRANSITIONS,
    Evidence,
    FileOutcome,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
IMAGES = PipelineStep.IMAGES
URL = "http://srv/uploads/original/doc.txt"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def a_run(
    *, events_confirm: bool, steps: tuple[str, ...] = ("story", "images", "audio")
) -> BatchRun:
    """One uploaded file in batch ``b``, its story ``s`` known: ready for story facts."""
    run = BatchRun(
        [PlannedFile(name="doc.txt", size=10)],
        steps=steps,
        reportable_steps=[s for s in steps if s != "merge"],
        created_at=T0,
        events_confirm=events_confirm,
        retried_batches=not events_confirm,
    )
    run.mark_uploaded(0, URL, received_at=at(1))
    run.mark_batch_created("b", [0], received_at=at(2))
    run.apply_status(status(["s"]), received_at=at(3))
    if not events_confirm:  # production places a story by its file
        run.apply_story(story(updated=3), received_at=at(3))
    return run


def status(story_ids: list[str], state: str = "processing", **kw: object) -> BatchStatusResponse:
    return BatchStatusResponse(
        batch_id="b",
        status=state,
        total_stories=1,
        completed_stories=0,
        failed_stories=0,
        progress=0.0,
        story_ids=story_ids,
        **kw,
    )


def story(updated: float, **flags: bool) -> StoryResponse:
    return StoryResponse(
        id="s",
        title="doc",
        status=StoryFlags(**flags),
        files=StoryFiles(original_file=URL),
        created_at=T0,
        updated_at=at(updated),
    )


def evidence_of(run: BatchRun, step: PipelineStep = IMAGES) -> Evidence:
    """White-box: the fold's evidence for ``step`` of the file's story."""
    lead = run._fold.tracks[0].lead()
    return Evidence.NONE if lead is None else lead.step_evidence(step)


# ------------------------------------------------------------------ the step table
def test_the_step_table_is_complete() -> None:
    assert set(STEP_TRANSITIONS) == set(itertools.product(Evidence, Evidence))


def test_the_step_table_is_order_free() -> None:
    # A join: commutative, associative and idempotent, so any order of evidence ends the same.
    def join(a: Evidence, b: Evidence) -> Evidence:
        return STEP_TRANSITIONS[(a, b)]

    for a, b in itertools.product(Evidence, Evidence):
        assert join(a, b) == join(b, a)
        assert join(a, a) == a
        assert join(join(a, b), b) == join(a, b)
    for a, b, c in itertools.product(Evidence, Evidence, Evidence):
        assert join(join(a, b), c) == join(a, join(b, c))


# Facts that put images in a state, and facts that bring each kind of evidence (production:
# the only server where an event can merely claim a step).
_REACH: dict[Evidence, Callable[[BatchRun], object]] = {
    Evidence.NONE: lambda run: None,
    Evidence.STARTED: lambda run: run.apply_event(
        AutoModeStart(story_id="s", step="images", timestamp=at(10)), received_at=at(10)
    ),
    Evidence.CLAIMED: lambda run: run.apply_event(
        AutoModeComplete(story_id="s", step="images", timestamp=at(10)), received_at=at(10)
    ),
    Evidence.FAILED: lambda run: run.apply_event(
        AutoModeError(story_id="s", step="images", error="boom", timestamp=at(10)),
        received_at=at(10),
    ),
    Evidence.CONFIRMED: lambda run: run.apply_story(
        story(10, story_generated=True, images_generated=True), received_at=at(10)
    ),
}
_BRING: dict[Evidence, Callable[[BatchRun], object]] = {
    Evidence.NONE: lambda run: run.apply_story(story(20, story_generated=True), received_at=at(20)),
    Evidence.STARTED: lambda run: run.apply_event(
        AutoModeProgress(story_id="s", step="images", progress=0, timestamp=at(20)),
        received_at=at(20),
    ),
    Evidence.CLAIMED: lambda run: run.apply_event(
        AutoModeComplete(story_id="s", step="images", timestamp=at(20)), received_at=at(20)
    ),
    Evidence.FAILED: lambda run: run.apply_event(
        AutoModeError(story_id="s", step="images", error="late", timestamp=at(20)),
        received_at=at(20),
    ),
    Evidence.CONFIRMED: lambda run: run.apply_story(
        story(20, story_generated=True, images_generated=True), received_at=at(20)
    ),
}


@pytest.mark.parametrize(("now", "evidence"), list(STEP_TRANSITIONS), ids=str)
def test_each_row_of_the_step_table_is_what_the_fold_does(
    now: Evidence, evidence: Evidence
) -> None:
    run = a_run(events_confirm=False)
    _REACH[now](run)
    assert evidence_of(run) is now
    _BRING[evidence](run)
    assert evidence_of(run) is STEP_TRANSITIONS[(now, evidence)]


# ------------------------------------------------------------------ the evidence table
def _result(state: str, **kw: object) -> BatchStatusResponse:
    return status(
        ["s"],
        results=[
            FileResult(index=0, file_url=URL, file_name="doc.txt", story_id="s", status=state, **kw)
        ],
    )


# For each row of EVIDENCE: the step it speaks of, and the fact (applied after a story step
# that is under way, so that the "earlier step" row has an earlier step to speak of).
_FACT_OF: dict[str, tuple[PipelineStep, Callable[[BatchRun], object]]] = {
    "story:processing:start": (
        PipelineStep.STORY,
        lambda r: r.apply_event(StoryProcessingStart(story_id="s", timestamp=at(5))),
    ),
    "story:processing:progress": (
        PipelineStep.STORY,
        lambda r: r.apply_event(
            StoryProcessingProgress(story_id="s", progress=50, timestamp=at(5))
        ),
    ),
    "story:processing:complete": (
        PipelineStep.STORY,
        lambda r: r.apply_event(StoryProcessingComplete(story_id="s", timestamp=at(5))),
    ),
    "story-processing-error": (
        PipelineStep.STORY,
        lambda r: r.apply_event(
            StoryProcessingError(story_id="s", error="x", step="story_generation", timestamp=at(5))
        ),
    ),
    "auto-mode-start": (
        IMAGES,
        lambda r: r.apply_event(AutoModeStart(story_id="s", step="images", timestamp=at(5))),
    ),
    "auto-mode-progress": (
        IMAGES,
        lambda r: r.apply_event(
            AutoModeProgress(story_id="s", step="images", progress=0, timestamp=at(5))
        ),
    ),
    "auto-mode-complete": (
        IMAGES,
        lambda r: r.apply_event(AutoModeComplete(story_id="s", step="images", timestamp=at(5))),
    ),
    "auto-mode-error": (
        IMAGES,
        lambda r: r.apply_event(
            AutoModeError(story_id="s", step="images", error="x", timestamp=at(5))
        ),
    ),
    "earlier step of a started one": (
        PipelineStep.STORY,
        lambda r: r.apply_event(AutoModeStart(story_id="s", step="audio", timestamp=at(5))),
    ),
    "status flag true": (
        IMAGES,
        lambda r: r.apply_story(story(5, images_generated=True)),
    ),
    "status flag false": (IMAGES, lambda r: r.apply_story(story(5, images_generated=False))),
    "results: step running": (
        IMAGES,
        lambda r: r.apply_status(_result("processing", step="images", step_progress=10)),
    ),
    "results: step completed": (
        IMAGES,
        lambda r: r.apply_status(_result("processing", completed_steps=["images"])),
    ),
    "results: story completed": (IMAGES, lambda r: r.apply_status(_result("completed"))),
    "batch-stories-complete": (
        IMAGES,
        lambda r: r.apply_event(
            BatchStoriesComplete(
                batch_id="b",
                total_stories=1,
                completed_stories=1,
                failed_stories=0,
                story_ids=["s"],
                timestamp=at(5),
            )
        ),
    ),
}
_WHOLE_STORY = {"results: story completed", "batch-stories-complete"}


def test_every_kind_of_fact_has_a_row() -> None:
    assert set(_FACT_OF) == set(EVIDENCE)


@pytest.mark.parametrize("events_confirm", [True, False], ids=["reference", "production"])
@pytest.mark.parametrize("name", list(EVIDENCE))
def test_each_row_of_the_evidence_table_is_what_the_fold_does(
    name: str, events_confirm: bool
) -> None:
    step, apply = _FACT_OF[name]
    run = a_run(events_confirm=events_confirm)
    apply(run)
    expected = EVIDENCE[name].on(events_confirm=events_confirm)
    shown = run.files.at[0, f"{step}_status"]
    if name in _WHOLE_STORY:
        # A verdict on the whole story confirms it as a whole (every step shown completed).
        done = expected is Evidence.CONFIRMED
        assert (shown == "completed") is done
        assert (run.files.at[0, "status"] == "completed") is done
    else:
        assert evidence_of(run, step) is expected


# ------------------------------------------------------------------ the file rules
def _rule_scenarios() -> dict[str, Callable[[], BatchRun]]:
    def refused() -> BatchRun:
        return BatchRun(
            [PlannedFile(name="x.pdf", size=1, rejection="not a document")],
            steps=["story"],
            created_at=T0,
        )

    def upload_failed() -> BatchRun:
        run = BatchRun([PlannedFile(name="a.txt", size=1)], steps=["story"], created_at=T0)
        run.mark_upload_failed(0, "connection reset", received_at=at(1))
        return run

    def completed() -> BatchRun:
        run = a_run(events_confirm=False)
        run.apply_story(story(9, story_generated=True, images_generated=True, audio_generated=True))
        return run

    def story_failed() -> BatchRun:
        run = a_run(events_confirm=True)
        run.apply_event(AutoModeError(story_id="s", step="images", error="x", timestamp=at(5)))
        return run

    def batch_lost() -> BatchRun:
        run = a_run(events_confirm=True)
        run.mark_stopped("the server no longer knows this batch", "b")
        return run

    def processing() -> BatchRun:
        run = a_run(events_confirm=True)
        run.apply_event(StoryProcessingStart(story_id="s", timestamp=at(5)))
        return run

    def queued() -> BatchRun:
        run = BatchRun([PlannedFile(name="a.txt", size=1)], steps=["story"], created_at=T0)
        run.mark_uploaded(0, URL, received_at=at(1))
        run.mark_batch_created("b", [0], received_at=at(2))
        return run

    def uploaded() -> BatchRun:
        run = BatchRun([PlannedFile(name="a.txt", size=1)], steps=["story"], created_at=T0)
        run.mark_uploaded(0, URL, received_at=at(1))
        return run

    def uploading() -> BatchRun:
        run = BatchRun([PlannedFile(name="a.txt", size=10)], steps=["story"], created_at=T0)
        run.mark_upload_progress(0, 5, 10, received_at=at(1))
        return run

    def pending() -> BatchRun:
        return BatchRun([PlannedFile(name="a.txt", size=1)], steps=["story"], created_at=T0)

    return dict(
        zip(
            [rule.meaning for rule in FILE_RULES],
            [
                refused,
                upload_failed,
                completed,
                story_failed,
                batch_lost,
                processing,
                queued,
                uploaded,
                uploading,
                pending,
            ],
            strict=True,
        )
    )


@pytest.mark.parametrize("rule", FILE_RULES, ids=lambda rule: rule.status.value)
def test_each_file_rule_decides_when_it_is_the_first_that_holds(rule: object) -> None:
    assert rule in FILE_RULES
    make = _rule_scenarios()[rule.meaning]  # type: ignore[attr-defined]
    run = make()
    track = run._fold.tracks[0]
    first = next(r for r in FILE_RULES if r.when(track))
    assert first is rule
    assert run.files.at[0, "status"] == rule.status.value  # type: ignore[attr-defined]


def test_a_completed_story_outranks_a_batch_failure() -> None:
    run = a_run(events_confirm=True, steps=("story",))
    run.apply_event(StoryProcessingComplete(story_id="s", timestamp=at(5)))
    run.apply_status(status(["s"], "failed", errors=["Story 1: late"]))
    run.mark_stopped("following stopped")
    assert run.files.at[0, "status"] == FileStatus.COMPLETED


# ------------------------------------------------------------------ how steps are shown
def test_the_shown_table_is_complete() -> None:
    assert set(SHOWN) == set(itertools.product(Evidence, FileOutcome))


def test_a_step_claimed_but_never_confirmed_is_never_shown_completed() -> None:
    run = a_run(events_confirm=False)
    run.apply_story(story(4, story_generated=True))
    run.apply_event(AutoModeComplete(story_id="s", step="images", timestamp=at(5)))
    assert run.files.at[0, "images_status"] == StepStatus.RUNNING  # waiting for the server
    run.mark_stopped("the server no longer knows this batch", "b")
    frame = run.files
    assert frame.at[0, "status"] == "failed"
    assert frame.at[0, "story_status"] == StepStatus.COMPLETED
    assert frame.at[0, "images_status"] == StepStatus.UNCONFIRMED
    assert frame.at[0, "audio_status"] == StepStatus.SKIPPED  # never reached
    assert frame.at[0, "merge_status"] == StepStatus.SKIPPED  # not enabled
    assert frame.at[0, "completed_steps"] == "story"


def test_a_step_the_server_cannot_report_is_shown_unconfirmed() -> None:
    run = a_run(events_confirm=False, steps=("story", "audio", "merge"))
    run.apply_story(story(9, story_generated=True, audio_generated=True))
    frame = run.files
    assert frame.at[0, "status"] == "completed"
    assert frame.at[0, "merge_status"] == StepStatus.UNCONFIRMED
    assert frame.at[0, "images_status"] == StepStatus.SKIPPED
