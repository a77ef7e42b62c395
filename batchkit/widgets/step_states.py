"""Each file's steps, the run's per-step counts and a file's attempt, as the views draw them.

The tracker is growing these (``StepStatus``, ``FileRow.steps`` and ``attempt``,
``RunSnapshot.step_counts``, ``unconfirmed_steps`` and ``notes``). This module is the one place
the views read them: when a snapshot carries them they are used as they are; a snapshot without
them (the tracker of today, or an old saved run) gets them derived from what it does carry, by
the same rules. Once every tracker has them, the derivations below go and the names stay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from batchkit.contract.limits import PipelineStep

if TYPE_CHECKING:
    from batchkit.tracker import BatchRun, FileRow, RunSnapshot

__all__ = [
    "STEP_LABELS",
    "RunSteps",
    "StepCount",
    "StepState",
    "attempt_of",
    "file_steps",
    "run_notes",
    "step_counts",
    "unconfirmed_steps",
]

STEP_LABELS: Final = {
    PipelineStep.STORY: "story",
    PipelineStep.IMAGES: "images",
    PipelineStep.AUDIO: "audio",
    PipelineStep.MERGE: "merge",
}


class StepState(StrEnum):
    """One step of one file (the values of the tracker's ``StepStatus``)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True, slots=True)
class StepCount:
    """How many files have a step completed, failed, running, out of ``total``."""

    completed: int
    failed: int
    running: int
    total: int


@dataclass(frozen=True, slots=True)
class RunSteps:
    """The steps a run enabled, and those its server can report (production: no merge)."""

    enabled: tuple[PipelineStep, ...]
    reportable: tuple[PipelineStep, ...]

    @classmethod
    def of(cls, run: BatchRun) -> RunSteps:
        return cls(tuple(run.steps), tuple(run.plan.reportable_steps))


def _derived_step(row: FileRow, step: PipelineStep, steps: RunSteps) -> StepState:
    if step not in steps.enabled:
        return StepState.SKIPPED
    if step in row.completed_steps:
        return StepState.COMPLETED
    if step not in steps.reportable:
        return StepState.UNCONFIRMED
    status = str(row.status)
    if row.step is step and status == "failed":
        return StepState.FAILED
    if row.step is step and status == "processing":
        return StepState.RUNNING
    return StepState.PENDING


def file_steps(row: FileRow, steps: RunSteps) -> dict[PipelineStep, StepState]:
    """Every step of ``row`` in pipeline order, with its state."""
    given: Mapping[PipelineStep, Any] | None = getattr(row, "steps", None)
    if given is not None:
        return {PipelineStep(step): StepState(str(state)) for step, state in given.items()}
    return {step: _derived_step(row, step, steps) for step in PipelineStep}


def attempt_of(row: FileRow, regenerations: Mapping[int, int] | None = None) -> int:
    """Which attempt ``row`` shows: 1 for the first, one more per regeneration or retry."""
    given = getattr(row, "attempt", None)
    if isinstance(given, int):
        return given
    return 1 + (regenerations or {}).get(row.index, 0)


def step_counts(
    snapshot: RunSnapshot,
    steps: RunSteps,
    known: Sequence[Mapping[PipelineStep, StepState]] | None = None,
) -> dict[PipelineStep, StepCount]:
    """Per enabled step: files that completed, failed or are running it, out of all files.

    ``known``: every row's steps, when the caller has them already.
    """
    given: Mapping[PipelineStep, Any] | None = getattr(snapshot, "step_counts", None)
    if given is not None:
        return {
            PipelineStep(step): StepCount(c.completed, c.failed, c.running, c.total)
            for step, c in given.items()
        }
    counts: dict[PipelineStep, StepCount] = {}
    rows = known if known is not None else [file_steps(row, steps) for row in snapshot.files]
    for step in steps.enabled:
        states = [row[step] for row in rows]
        counts[step] = StepCount(
            completed=states.count(StepState.COMPLETED),
            failed=states.count(StepState.FAILED),
            running=states.count(StepState.RUNNING),
            total=len(states),
        )
    return counts


def unconfirmed_steps(snapshot: RunSnapshot, steps: RunSteps) -> tuple[PipelineStep, ...]:
    """The enabled steps this run's server cannot report."""
    given: Sequence[PipelineStep] | None = getattr(snapshot, "unconfirmed_steps", None)
    if given is not None:
        return tuple(PipelineStep(step) for step in given)
    return tuple(step for step in steps.enabled if step not in steps.reportable)


def run_notes(snapshot: RunSnapshot, steps: RunSteps) -> tuple[str, ...]:
    """Sentences for the user about what this run's figures can and cannot say."""
    given: Sequence[str] | None = getattr(snapshot, "notes", None)
    if given is not None:
        return tuple(given)
    return tuple(
        f"{STEP_LABELS[step]}: this server never reports it, so it is shown as unconfirmed"
        for step in unconfirmed_steps(snapshot, steps)
    )
