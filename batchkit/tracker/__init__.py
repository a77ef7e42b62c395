"""The tracker: every fact known about a run, folded into a live per-file DataFrame.

Pure: no network, no socket, no HTTP. Facts come from any source (the event stream, REST
snapshots, the uploader, a clock, a saved log) and :class:`BatchRun` keeps ``run.files`` true
after each one. Modules: :mod:`~batchkit.tracker.facts` (what can be folded),
:mod:`~batchkit.tracker.machine` (the per-file state machine, as tables),
:mod:`~batchkit.tracker.state` and :mod:`~batchkit.tracker.pipeline` (one file's working state
and how facts become evidence), :mod:`~batchkit.tracker.fold` (routing facts to files),
:mod:`~batchkit.tracker.batch_facts` (what a batch's events and status say of its files),
:mod:`~batchkit.tracker.view` (one file as the views show it),
:mod:`~batchkit.tracker.frame` (the DataFrames), :mod:`~batchkit.tracker.progress` (snapshots,
progress, ETA), :mod:`~batchkit.tracker.stamping` (facts stamped with the time),
:mod:`~batchkit.tracker.watchers` (subscribers and waiters) and :mod:`~batchkit.tracker.run`
(the run itself).
"""

from batchkit.tracker.facts import (
    FACT_ADAPTER,
    BatchCreatedFact,
    BatchFailedFact,
    EventFact,
    Fact,
    FactLog,
    FilesPlanned,
    FollowStoppedFact,
    PlannedFile,
    RegenerateFact,
    RegenerateUndoneFact,
    RetryFact,
    StatusFact,
    StoryFact,
    TickFact,
    UploadedFact,
    UploadFailedFact,
    UploadProgressFact,
)
from batchkit.tracker.frame import EVENT_COLUMNS, FILE_COLUMNS, file_dtypes
from batchkit.tracker.machine import StepStatus
from batchkit.tracker.progress import STEP_WEIGHTS, FileRow, RunSnapshot, StepCount
from batchkit.tracker.run import BatchRun, Subscriber
from batchkit.tracker.state import FileStatus, Outcome, UploadStatus

__all__ = [
    "EVENT_COLUMNS",
    "FACT_ADAPTER",
    "FILE_COLUMNS",
    "STEP_WEIGHTS",
    "BatchCreatedFact",
    "BatchFailedFact",
    "BatchRun",
    "EventFact",
    "Fact",
    "FactLog",
    "FileRow",
    "FileStatus",
    "FilesPlanned",
    "FollowStoppedFact",
    "Outcome",
    "PlannedFile",
    "RegenerateFact",
    "RegenerateUndoneFact",
    "RetryFact",
    "RunSnapshot",
    "StatusFact",
    "StepCount",
    "StepStatus",
    "StoryFact",
    "Subscriber",
    "TickFact",
    "UploadFailedFact",
    "UploadProgressFact",
    "UploadStatus",
    "UploadedFact",
    "file_dtypes",
]
