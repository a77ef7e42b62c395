"""Runs and real contract events for the widget tests: no server, the tracker's own inputs.

The events are the contract's models in the order the reference server sends them (story,
then each auto-mode step, ``seq`` rising per story), interleaved across files the way a batch's
stories run side by side.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

from batchkit.contract import (
    AutoModeComplete,
    AutoModeError,
    AutoModeProgress,
    AutoModeStart,
    BatchState,
    BatchStatusResponse,
    ServerEvent,
    StoryProcessingComplete,
    StoryProcessingProgress,
    StoryProcessingStart,
)
from batchkit.tracker import BatchRun, PlannedFile

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
STEPS = ("story", "images", "audio", "merge")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_run(names: Sequence[str], steps: Sequence[str] = STEPS) -> BatchRun:
    """A run whose files are uploaded, in batch ``b0``, with story ids ``s0``, ``s1``..."""
    run = BatchRun(
        [PlannedFile(name=name, size=1000 + i) for i, name in enumerate(names)],
        steps=steps,
        created_at=T0,
    )
    for i in range(len(names)):
        run.mark_upload_progress(i, 1000 + i, 1000 + i, received_at=at(1))
        run.mark_uploaded(i, f"http://srv/uploads/original/{i}.txt", received_at=at(1))
    run.mark_batch_created("b0", range(len(names)), job_id=1, received_at=at(2))
    status = BatchStatusResponse(
        batch_id="b0",
        status=BatchState.PROCESSING,
        total_stories=len(names),
        completed_stories=0,
        failed_stories=0,
        progress=0.0,
        story_ids=[f"s{i}" for i in range(len(names))],
    )
    run.apply_status(status, received_at=at(2))
    return run


def story_events(
    story_id: str, progress_per_step: int, *, fail_at: str | None = None
) -> list[ServerEvent]:
    """One story through every step, ``progress_per_step`` progress events in each."""
    seq = itertools.count(1)
    events: list[ServerEvent] = []
    stamp = {"story_id": story_id, "timestamp": T0}
    fractions = [100 * (k + 1) / progress_per_step for k in range(progress_per_step)]
    events.append(StoryProcessingStart(seq=next(seq), **stamp))
    events += [StoryProcessingProgress(progress=p, seq=next(seq), **stamp) for p in fractions]
    events.append(StoryProcessingComplete(seq=next(seq), **stamp))
    done = ["story"]
    for step in STEPS[1:]:
        events.append(AutoModeStart(step=step, seq=next(seq), **stamp))
        if step == fail_at:
            events.append(
                AutoModeError(step=step, error="voice <engine> crashed", seq=next(seq), **stamp)
            )
            return events
        events += [
            AutoModeProgress(step=step, progress=p, seq=next(seq), **stamp) for p in fractions
        ]
        done.append(step)
        events.append(
            AutoModeComplete(step=step, completed_steps=list(done), seq=next(seq), **stamp)
        )
    return events


def interleaved(files: int, total: int, *, failing: Collection[int] = ()) -> list[ServerEvent]:
    """At least ``total`` events for ``files`` stories, taken round-robin across the stories."""
    per_step = 1
    while True:
        streams = [
            story_events(f"s{i}", per_step, fail_at="audio" if i in failing else None)
            for i in range(files)
        ]
        if sum(len(stream) for stream in streams) >= total:
            break
        per_step += max(1, (total - sum(len(s) for s in streams)) // (files * len(STEPS)))
    merged: list[ServerEvent] = []
    for group in itertools.zip_longest(*streams):
        merged.extend(event for event in group if event is not None)
    return merged
