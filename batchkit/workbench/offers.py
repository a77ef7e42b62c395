"""What the page offers from a run's rows, and why an action cannot run now, in words.

Pure functions of a :class:`~batchkit.tracker.RunSnapshot` and plain values, so the rules are
tested without a widget: a rejected file is never retried (it would be rejected again; fix it
first), a file neither on the server nor still in the list cannot be sent again, and only a
completed file with a story on the server can be regenerated or shown. Every refusal is a
sentence for the user.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from batchkit.contract.limits import CUSTOM_PROMPT_MAX
from batchkit.widgets.render import words_list

if TYPE_CHECKING:
    from batchkit.session import BatchSession
    from batchkit.tracker import RunSnapshot

__all__ = [
    "RetryOffer",
    "completed_stories",
    "regenerate_refusal",
    "retry_offer",
    "session_retry_offer",
    "start_refusal",
    "uploads_over",
]

_SENDING = frozenset({"pending", "uploading"})


@dataclass(frozen=True, slots=True)
class RetryOffer:
    """The rows Retry would send (``rows``), or why it cannot run (``reason``)."""

    rows: tuple[int, ...]
    reason: str


def retry_offer(
    snapshot: RunSnapshot | None, retryable: Collection[int], *, running: bool
) -> RetryOffer:
    """The failed rows that can be sent again (``retryable``: the session's word on which
    can), and otherwise, in words, why none can."""
    if snapshot is None:
        return RetryOffer((), "nothing has run yet")
    if running:
        return RetryOffer((), "the batch is still running")
    failed = [row for row in snapshot.files if str(row.status) == "failed"]
    if not failed:
        return RetryOffer((), "no file failed")
    rejected = [row.name for row in failed if str(row.upload_status) == "rejected"]
    rows = tuple(row.index for row in failed if row.index in retryable and row.name not in rejected)
    if rows:
        return RetryOffer(rows, "")
    gone = [row.name for row in failed if row.name not in rejected]
    parts = []
    if rejected:
        parts.append(f"{words_list(rejected)} {_was(rejected)} rejected: fix and add again")
    if gone:
        # Never on the server, and their copies gone with the list: nothing to send again.
        parts.append(f"{words_list(gone)} {_was(gone)} removed before reaching the server")
    return RetryOffer((), "; ".join(parts))


def session_retry_offer(
    session: BatchSession, listed: Collection[int], *, running: bool
) -> RetryOffer:
    """What ``session`` can retry now: its retryable rows that are on the server, or whose
    file is still in the list (rows ``listed``: a file removed from the list took its copy with
    it, and one that never reached the server has nothing else to be sent from)."""
    run = session.run
    can = () if running else session.retryable()
    sendable = [row for row in can if run.uploaded_url(row) is not None or row in listed]
    return retry_offer(run.snapshot(), sendable, running=running)


def _was(names: Sequence[str]) -> str:
    return "was" if len(names) == 1 else "were"


def completed_stories(snapshot: RunSnapshot | None) -> list[tuple[str, int, str]]:
    """``(file name, row, story id)`` of every completed file, in row order."""
    if snapshot is None:
        return []
    return [
        (row.name, row.index, row.story_id)
        for row in snapshot.files
        if str(row.status) == "completed" and row.story_id
    ]


def uploads_over(snapshot: RunSnapshot) -> bool:
    """True once no file is waiting to be sent or being sent (kernel → server)."""
    return all(str(row.upload_status) not in _SENDING for row in snapshot.files)


def start_refusal(
    *,
    waiting_for: str,
    closed: bool,
    receiving: bool,
    documents: int,
    rejected: int,
    problems: Sequence[tuple[str, str]],
) -> str:
    """Why Start cannot run now ("" when it can)."""
    if closed:
        return "this workbench is closed"
    if waiting_for:
        return f"waiting for the server: {waiting_for}"
    if receiving:
        return "files are still arriving from the browser"
    if not documents:
        return "every file in the list was rejected" if rejected else "add documents first"
    if problems:
        label, message = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return f"fix the settings first: {label}: {message}{more}"
    return ""


def regenerate_refusal(
    chosen: int | None, prompt: str, busy: Callable[[int], bool], *, running_name: str = ""
) -> str:
    """Why Regenerate cannot run now for row ``chosen`` with ``prompt`` ("" when it can)."""
    if chosen is None:
        return "no story has completed yet"
    if busy(chosen):
        return f"{running_name or 'this file'} is still being generated"
    if not prompt.strip():
        return "write a prompt for the new story"
    if len(prompt) > CUSTOM_PROMPT_MAX:
        return f"the prompt is {len(prompt):,} characters long; the limit is {CUSTOM_PROMPT_MAX:,}"
    return ""
