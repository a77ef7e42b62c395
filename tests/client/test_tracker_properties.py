"""Property: however a valid run's facts are interleaved, duplicated or reordered, they fold to
the same table.

Hypothesis draws a run (files, enabled steps, where each story stops or fails), builds the facts
the reference server and the client would produce for it, all with ``seq``, each received at its
own time, and then delivers them in a random order with random repeats. The table after folding
must equal, cell for cell, the table from delivering them in order: statuses, per-step statuses,
times. A second property does the same for production: events without ``seq`` that only claim
their steps, and REST reads of the story's flags (one of them fallen back) that confirm them.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchkit.contract import (
    AutoModeComplete,
    AutoModeError,
    AutoModeProgress,
    AutoModeStart,
    BatchStatusResponse,
    BatchStoriesComplete,
    BatchStoriesProgress,
    BatchStoriesStart,
    StoryFiles,
    StoryFlags,
    StoryProcessingComplete,
    StoryProcessingError,
    StoryProcessingProgress,
    StoryProcessingStart,
    StoryResponse,
)
from batchkit.tracker import (
    BatchCreatedFact,
    BatchRun,
    EventFact,
    Fact,
    PlannedFile,
    StatusFact,
    StoryFact,
    UploadedFact,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
STEPS = ("story", "images", "audio", "merge")


class Script:
    """Builds one run's facts; every fact is received one second after the one before."""

    def __init__(self) -> None:
        self._clock = itertools.count(1)

    def now(self) -> datetime:
        return T0 + timedelta(seconds=next(self._clock))

    def event(self, event: object) -> EventFact:
        return EventFact(received_at=self.now(), event=event)

    def story(self, sid: str, steps: list[str], stop: int | None, chunks: int) -> list[Fact]:
        """``sid``'s events; with ``stop``, the step at that position fails instead."""
        seq = itertools.count(1)
        facts: list[Fact] = []

        def emit(cls: type, **fields: object) -> None:
            server_time = T0 + timedelta(seconds=len(facts))
            facts.append(
                self.event(cls(story_id=sid, seq=next(seq), timestamp=server_time, **fields))
            )

        for position, step in enumerate(steps):
            failing = position == stop
            if step == "story":
                emit(StoryProcessingStart)
                emit(StoryProcessingProgress, progress=50.0)
                if failing:
                    emit(StoryProcessingError, error="story failed", step="story_generation")
                    break
                emit(StoryProcessingComplete)
            else:
                emit(AutoModeStart, step=step)
                for k in range(1, chunks + 1):
                    emit(
                        AutoModeProgress,
                        step=step,
                        progress=100 * k / chunks,
                        current=k,
                        total=chunks,
                    )
                if failing:
                    emit(AutoModeError, step=step, error=f"{step} failed")
                    break
                emit(AutoModeComplete, step=step, completed_steps=steps[: position + 1])
        return facts


@st.composite
def runs(draw: st.DrawFn) -> tuple[BatchRun, list[Fact], list[Fact]]:
    """A planned run, the facts that set it up, and the facts to shuffle."""
    n = draw(st.integers(1, 4))
    steps = [s for s in STEPS if draw(st.booleans())]
    script = Script()
    run = BatchRun(
        [PlannedFile(name=f"f{i}.txt", size=10) for i in range(n)], steps=steps, created_at=T0
    )
    setup: list[Fact] = [
        UploadedFact(received_at=script.now(), index=i, file_url=f"u{i}") for i in range(n)
    ]
    setup.append(BatchCreatedFact(received_at=script.now(), batch_id="b", indices=tuple(range(n))))
    ids = [f"s{i}" for i in range(n)]
    chunks = draw(st.integers(1, 3))
    stops = [draw(st.none() | st.integers(0, len(steps) - 1)) if steps else None for _ in ids]
    facts: list[Fact] = [
        script.event(BatchStoriesStart(batch_id="b", total_stories=n, timestamp=T0, seq=1))
    ]
    for i, sid in enumerate(ids):
        facts.append(
            script.event(
                BatchStoriesProgress(
                    batch_id="b",
                    current_story=i + 1,
                    total_stories=n,
                    progress=100 * (i + 1) / n,
                    timestamp=T0,
                    seq=2 + i,
                    story_id=sid,
                )
            )
        )
    if draw(st.booleans()):
        facts.append(
            StatusFact(
                received_at=script.now(),
                status=BatchStatusResponse(
                    batch_id="b",
                    status="processing",
                    total_stories=n,
                    completed_stories=0,
                    failed_stories=0,
                    progress=50.0,
                    story_ids=ids,
                ),
            )
        )
    for sid, stop in zip(ids, stops, strict=True):
        story = script.story(sid, steps, stop, chunks)
        facts += story
        if draw(st.booleans()) and story:
            facts.append(_flags_snapshot(script, sid, story, stop, steps))
    errors = [f"Story {i + 1}: failed" for i, stop in enumerate(stops) if stop is not None]
    facts.append(
        script.event(
            BatchStoriesComplete(
                batch_id="b",
                total_stories=n,
                completed_stories=n - len(errors),
                failed_stories=len(errors),
                story_ids=ids,
                errors=errors,
                timestamp=T0,
                seq=2 + n,
            )
        )
    )
    return run, setup, facts


def _flags_snapshot(
    script: Script, sid: str, story: list[Fact], stop: int | None, steps: list[str]
) -> StoryFact:
    """A REST read of the story once its events are over (updatedAt = its last event's time)."""
    finished = steps if stop is None else steps[:stop]
    last = story[-1]
    assert isinstance(last, EventFact)
    updated = last.event.timestamp
    flags = StoryFlags(
        story_generated="story" in finished,
        images_generated="images" in finished,
        audio_generated="audio" in finished,
        audio_merged="merge" in finished,
    )
    body = StoryResponse(
        id=sid,
        title=sid,
        status=flags,
        files=StoryFiles(original_file="x"),
        created_at=T0,
        updated_at=updated,
    )
    return StoryFact(received_at=script.now(), story=body)


def _fold(run: BatchRun, facts: list[Fact]) -> pd.DataFrame:
    # One write of the table at the end: the table is a function of the fold's state, and the
    # per-fact writes are covered by the other tests.
    return BatchRun.replay([run.plan, *facts]).files


def _disordered(data: st.DataObject, setup: list[Fact], facts: list[Fact]) -> list[Fact]:
    """``facts`` in a drawn order with drawn repeats, after ``setup`` (or, drawn, before it)."""
    shuffled = data.draw(st.permutations(facts), label="order")
    repeats = data.draw(st.lists(st.sampled_from(facts), max_size=len(facts)), label="repeats")
    for repeat in repeats:
        shuffled.insert(data.draw(st.integers(0, len(shuffled)), label="where"), repeat)
    if data.draw(st.booleans(), label="setup last"):
        return shuffled + setup  # even the batch arrives after what is about it
    return setup + shuffled


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=runs(), data=st.data())
def test_any_order_and_any_repeats_fold_to_the_same_table(
    case: tuple[BatchRun, list[Fact], list[Fact]], data: st.DataObject
) -> None:
    run, setup, facts = case
    expected = _fold(run, setup + facts)
    folded = _fold(run, _disordered(data, setup, facts))
    pd.testing.assert_frame_equal(folded, expected)
    assert folded["status"].isin(["completed", "failed"]).all()


# ---------------------------------------------------------------- production and EXT results
def _production_story(script: Script, sid: str, steps: list[str], stop: int | None) -> list[Fact]:
    """Production's events for ``sid`` (no ``seq``; auto-mode steps only claimed) and, after
    each step, a REST read of its flags, including the moment ``audioGenerated`` falls back."""
    facts: list[Fact] = []
    clock = itertools.count()
    flags = {"story": False, "images": False, "audio": False}

    def emit(cls: type, **fields: object) -> None:
        server_time = T0 + timedelta(seconds=next(clock))
        facts.append(script.event(cls(story_id=sid, timestamp=server_time, **fields)))

    def read() -> None:
        updated = T0 + timedelta(seconds=next(clock))
        body = StoryResponse(
            id=sid,
            title=sid,
            status=StoryFlags(
                story_generated=flags["story"],
                images_generated=flags["images"],
                audio_generated=flags["audio"],
            ),
            files=StoryFiles(original_file=f"u{sid[1:]}"),
            created_at=T0,
            updated_at=updated,
        )
        facts.append(StoryFact(received_at=script.now(), story=body))

    read()  # the record exists, nothing done
    for position, step in enumerate(steps):
        failing = position == stop
        if step == "story":
            emit(StoryProcessingStart)
            if failing:
                emit(StoryProcessingError, error="story failed", step="story_generation")
                break
            emit(StoryProcessingComplete)
        else:
            emit(AutoModeStart, step=step)
            emit(AutoModeProgress, step=step, progress=0.0)
            if failing:
                emit(AutoModeError, step=step, error=f"{step} failed")
                break
            emit(AutoModeComplete, step=step, completed_steps=steps[: position + 1])
        if step == "images":  # production replaces the flags here: audio falls back to false
            flags["audio"] = False
        flags[step] = True
        read()
    return facts


@st.composite
def production_runs(draw: st.DrawFn) -> tuple[BatchRun, list[Fact], list[Fact]]:
    """A production run: events run ahead of the work, REST flags confirm, no merge reported."""
    n = draw(st.integers(1, 3))
    steps = [s for s in ("story", "images", "audio") if draw(st.booleans())] or ["story"]
    script = Script()
    run = BatchRun(
        [PlannedFile(name=f"f{i}.txt", size=10) for i in range(n)],
        steps=steps,
        reportable_steps=steps,
        created_at=T0,
        events_confirm=False,
        retried_batches=True,
        give_up_after=300.0,
    )
    ids = [f"s{i}" for i in range(n)]
    setup: list[Fact] = [
        UploadedFact(received_at=script.now(), index=i, file_url=f"u{i}") for i in range(n)
    ]
    setup.append(BatchCreatedFact(received_at=script.now(), batch_id="b", indices=tuple(range(n))))
    setup.append(
        StatusFact(
            received_at=script.now(),
            status=BatchStatusResponse(
                batch_id="b",
                status="completed",  # production: the records exist, nothing more
                total_stories=n,
                completed_stories=n,
                failed_stories=0,
                progress=100.0,
                story_ids=ids,
            ),
        )
    )
    facts: list[Fact] = []
    for sid in ids:
        stop = draw(st.none() | st.integers(0, len(steps) - 1))
        facts += _production_story(script, sid, steps, stop)
    return run, setup, facts


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=production_runs(), data=st.data())
def test_production_facts_fold_to_the_same_table_in_any_order(
    case: tuple[BatchRun, list[Fact], list[Fact]], data: st.DataObject
) -> None:
    run, setup, facts = case
    expected = _fold(run, setup + facts)
    folded = _fold(run, _disordered(data, setup, facts))
    pd.testing.assert_frame_equal(folded, expected)
    # What the table claims, the server confirmed: a completed step had its flag read true.
    for column in ("story_status", "images_status", "audio_status"):
        assert set(folded[column]) <= {"completed", "failed", "skipped", "unconfirmed"}
