"""The per-file state machine, as tables a newcomer can check against the contract.

A file's status is decided here and nowhere else, in three steps, each a table:

1. :data:`EVIDENCE`: what a fact says about one step of one story. The same event means
   different things on different servers: the reference server sends ``auto-mode-complete``
   when a step *has finished*, production when it has *queued the next job* (contract,
   production quirk 4), so there an event can only *claim* a step; what confirms it is the
   server's own record (the story's status flags over REST).
2. :data:`STEP_TRANSITIONS`: how one step's state moves when evidence arrives. Every row moves
   to the *stronger* of the two, so the order in which evidence arrives cannot change where a
   step ends up (that is what lets events, REST snapshots and replays be folded in any order).
3. :data:`FILE_RULES`: a file's status from its steps and what happened to it around them
   (refused, upload failed, batch lost...), the first rule that holds deciding.

:data:`SHOWN` then says how a step is *shown* once its file's fate is known: a step a server
claimed but never confirmed is ``unconfirmed``, never ``completed``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from batchkit.tracker.state import FileTrack

__all__ = [
    "EVIDENCE",
    "FILE_RULES",
    "SHOWN",
    "STEP_TRANSITIONS",
    "Evidence",
    "FileOutcome",
    "FileRule",
    "FileStatus",
    "StepStatus",
    "file_status",
    "shown_step_status",
]


class FileStatus(StrEnum):
    """Where one file is, from planned to finished."""

    PENDING = "pending"
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL: Final = frozenset({FileStatus.COMPLETED, FileStatus.FAILED})


class StepStatus(StrEnum):
    """One step of one file, as the table shows it (columns ``<step>_status``)."""

    PENDING = "pending"
    """Not started yet."""
    RUNNING = "running"
    """Started, or claimed done by an event the server has not confirmed yet."""
    COMPLETED = "completed"
    """The server has confirmed that the step's work exists."""
    FAILED = "failed"
    """The step failed, or its file failed while it was under way."""
    SKIPPED = "skipped"
    """Not enabled in this run, or never reached because its file failed earlier."""
    UNCONFIRMED = "unconfirmed"
    """The server cannot report this step (merge on production), or claimed it and can no
    longer confirm it: nobody can say whether its work exists."""


class Evidence(IntEnum):
    """What is known about one step of one story, weakest first."""

    NONE = 0
    STARTED = 1
    """A start or progress event, or a later step started on a server whose events run ahead."""
    CLAIMED = 2
    """An event said the step completed, from a server whose events run ahead of the work."""
    FAILED = 3
    """An error event for the step, or the server's record says the step failed."""
    CONFIRMED = 4
    """The server's own record says the work exists: a status flag, a ``results`` entry, or
    (reference server only) a completion event, sent after the work is saved."""


# ------------------------------------------------------------------ 1. facts → evidence
@dataclass(frozen=True, slots=True)
class EvidenceRule:
    """What one kind of fact says of a step, on each kind of server."""

    evidence_when_events_confirm: Evidence
    evidence_when_events_run_ahead: Evidence
    contract: str
    """Where the contract says so."""

    def on(self, *, events_confirm: bool) -> Evidence:
        if events_confirm:
            return self.evidence_when_events_confirm
        return self.evidence_when_events_run_ahead


_E = Evidence
EVIDENCE: Final[Mapping[str, EvidenceRule]] = MappingProxyType(
    {
        # fact                        reference        production     contract
        "story:processing:start": EvidenceRule(_E.STARTED, _E.STARTED, "§4"),
        "story:processing:progress": EvidenceRule(_E.STARTED, _E.STARTED, "§4"),
        "story:processing:complete": EvidenceRule(_E.CONFIRMED, _E.CLAIMED, "§4, §7.4"),
        "story-processing-error": EvidenceRule(_E.FAILED, _E.FAILED, "§4"),
        "auto-mode-start": EvidenceRule(_E.STARTED, _E.STARTED, "§4"),
        "auto-mode-progress": EvidenceRule(_E.STARTED, _E.STARTED, "§4, §7.4 (always 0)"),
        "auto-mode-complete": EvidenceRule(_E.CONFIRMED, _E.CLAIMED, "§4, §7.4 (job queued)"),
        "auto-mode-error": EvidenceRule(_E.FAILED, _E.FAILED, "§4"),
        "earlier step of a started one": EvidenceRule(_E.CONFIRMED, _E.CLAIMED, "§4 pipeline"),
        "status flag true": EvidenceRule(_E.CONFIRMED, _E.CONFIRMED, "§2.5, §7.2"),
        "status flag false": EvidenceRule(_E.NONE, _E.NONE, "§7.4 (flags fall back)"),
        "results: step running": EvidenceRule(_E.STARTED, _E.STARTED, "§2.3 EXT"),
        "results: step completed": EvidenceRule(_E.CONFIRMED, _E.CONFIRMED, "§2.3 EXT"),
        "results: story completed": EvidenceRule(_E.CONFIRMED, _E.CONFIRMED, "§2.3 EXT"),
        "batch-stories-complete": EvidenceRule(_E.CONFIRMED, _E.NONE, "§4, §7.3 (records)"),
    }
)
"""What each kind of fact says of a step: on a server whose events confirm the work (the
reference server) and on one whose events run ahead of it (production). A false status flag
says nothing: production replaces the flags after the images step, so ``audioGenerated`` can
fall back to false for a moment (§7.4)."""


# ------------------------------------------------------------------ 2. one step's state
STEP_TRANSITIONS: Final[Mapping[tuple[Evidence, Evidence], Evidence]] = MappingProxyType(
    {
        # (state now,       evidence)            -> state next
        (_E.NONE, _E.NONE): _E.NONE,
        (_E.NONE, _E.STARTED): _E.STARTED,
        (_E.NONE, _E.CLAIMED): _E.CLAIMED,
        (_E.NONE, _E.FAILED): _E.FAILED,
        (_E.NONE, _E.CONFIRMED): _E.CONFIRMED,
        (_E.STARTED, _E.NONE): _E.STARTED,
        (_E.STARTED, _E.STARTED): _E.STARTED,
        (_E.STARTED, _E.CLAIMED): _E.CLAIMED,
        (_E.STARTED, _E.FAILED): _E.FAILED,
        (_E.STARTED, _E.CONFIRMED): _E.CONFIRMED,
        (_E.CLAIMED, _E.NONE): _E.CLAIMED,
        (_E.CLAIMED, _E.STARTED): _E.CLAIMED,  # a late progress event does not undo a claim
        (_E.CLAIMED, _E.CLAIMED): _E.CLAIMED,
        (_E.CLAIMED, _E.FAILED): _E.FAILED,  # queued, then the job failed
        (_E.CLAIMED, _E.CONFIRMED): _E.CONFIRMED,
        (_E.FAILED, _E.NONE): _E.FAILED,
        (_E.FAILED, _E.STARTED): _E.FAILED,
        (_E.FAILED, _E.CLAIMED): _E.FAILED,
        (_E.FAILED, _E.FAILED): _E.FAILED,
        (_E.FAILED, _E.CONFIRMED): _E.CONFIRMED,  # the server's record of the work wins
        (_E.CONFIRMED, _E.NONE): _E.CONFIRMED,
        (_E.CONFIRMED, _E.STARTED): _E.CONFIRMED,
        (_E.CONFIRMED, _E.CLAIMED): _E.CONFIRMED,
        (_E.CONFIRMED, _E.FAILED): _E.CONFIRMED,  # a late error of an attempt that succeeded
        (_E.CONFIRMED, _E.CONFIRMED): _E.CONFIRMED,
    }
)
"""(a step's evidence, new evidence) → its evidence afterwards. Within one attempt evidence only
grows; a regeneration starts a new attempt with every step at ``NONE``."""


# ------------------------------------------------------------------ 3. the file
class FileOutcome(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class FileRule:
    """``when`` holds of a file's track → the file is ``status``."""

    meaning: str
    when: Callable[[FileTrack], bool]
    status: FileStatus


FILE_RULES: Final[tuple[FileRule, ...]] = (
    FileRule("refused before sending", lambda t: t.rejection is not None, FileStatus.FAILED),
    FileRule("the upload failed", lambda t: t.upload_failed, FileStatus.FAILED),
    FileRule(
        "a story of this attempt has every reportable step confirmed (or the server says the "
        "whole story completed)",
        lambda t: t.completed_story() is not None,
        FileStatus.COMPLETED,
    ),
    FileRule(
        "every story of this attempt failed (a step's error, or the server's verdict)",
        lambda t: t.every_story_failed(),
        FileStatus.FAILED,
    ),
    FileRule(
        "its batch failed or could not be made, the server lost it, following it stopped, or "
        "the server went silent about it",
        lambda t: bool(t.soft_errors),
        FileStatus.FAILED,
    ),
    FileRule("a step started or was claimed", lambda t: t.any_evidence(), FileStatus.PROCESSING),
    FileRule("it is in a batch", lambda t: t.batch_id is not None, FileStatus.QUEUED),
    FileRule("it was uploaded", lambda t: t.uploaded, FileStatus.UPLOADED),
    FileRule("its upload is under way", lambda t: t.upload_sent > 0, FileStatus.UPLOADING),
    FileRule("nothing has happened yet", lambda t: True, FileStatus.PENDING),
)
"""A file's status: the first rule that holds. A completed story outranks every failure (a
duplicate that failed, a batch verdict that came later): the story the user asked for exists."""


def file_status(track: FileTrack) -> FileStatus:
    """The status :data:`FILE_RULES` give ``track``."""
    for rule in FILE_RULES:
        if rule.when(track):
            return rule.status
    raise AssertionError("the last rule always holds")  # pragma: no cover


# ------------------------------------------------------------------ how a step is shown
_S = StepStatus
_R, _C, _F = FileOutcome.RUNNING, FileOutcome.COMPLETED, FileOutcome.FAILED
SHOWN: Final[Mapping[tuple[Evidence, FileOutcome], StepStatus]] = MappingProxyType(
    {
        # (step's evidence,  its file)  -> shown
        (_E.NONE, _R): _S.PENDING,
        (_E.NONE, _C): _S.SKIPPED,  # only steps the server cannot report stay unknown
        (_E.NONE, _F): _S.SKIPPED,  # never reached
        (_E.STARTED, _R): _S.RUNNING,
        (_E.STARTED, _C): _S.UNCONFIRMED,
        (_E.STARTED, _F): _S.FAILED,  # under way when the file failed
        (_E.CLAIMED, _R): _S.RUNNING,  # waiting for the server to confirm it
        (_E.CLAIMED, _C): _S.UNCONFIRMED,
        (_E.CLAIMED, _F): _S.UNCONFIRMED,
        (_E.FAILED, _R): _S.FAILED,
        (_E.FAILED, _C): _S.FAILED,
        (_E.FAILED, _F): _S.FAILED,
        (_E.CONFIRMED, _R): _S.COMPLETED,
        (_E.CONFIRMED, _C): _S.COMPLETED,
        (_E.CONFIRMED, _F): _S.COMPLETED,
    }
)
"""(a step's evidence, its file's outcome) → how the step is shown, for an enabled step the
server reports. A step that is not enabled is ``skipped``; one the server cannot report is
``unconfirmed`` unless it was confirmed after all."""


def shown_step_status(
    evidence: Evidence, outcome: FileOutcome, *, enabled: bool, reportable: bool
) -> StepStatus:
    """How one step is shown (see :data:`SHOWN`)."""
    if not enabled:
        return StepStatus.SKIPPED
    if not reportable and evidence is not Evidence.CONFIRMED:
        return StepStatus.UNCONFIRMED
    return SHOWN[(evidence, outcome)]
