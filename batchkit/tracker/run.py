"""A run: the live table of a batch job's files, folded from facts.

:class:`BatchRun` is what every view and notebook holds. It takes facts from any source (the
socket, REST snapshots, the uploader, a clock, a log being replayed) and keeps ``files``, one
DataFrame row per file, true after each of them. It does no I/O of its own: it never reads the
network or, except in the convenience methods that stamp a fact with the current time, the clock.

It is not thread-safe: feed it from one thread (the event loop's). :meth:`BatchRun.wait` may be
awaited from that loop.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Final

import pandas as pd

from batchkit.contract.events import PROGRESS_EVENTS, EventModel, ServerEvent
from batchkit.contract.limits import PipelineStep
from batchkit.errors import RunError
from batchkit.tracker.facts import EventFact, Fact, FactLog, FilesPlanned, PlannedFile, TickFact
from batchkit.tracker.fold import Fold
from batchkit.tracker.frame import FileFrame, batches_frame, event_row, events_frame
from batchkit.tracker.history import FactHistory
from batchkit.tracker.progress import STEP_WEIGHTS, RunSnapshot, take_snapshot
from batchkit.tracker.stamping import FactMaker, stamp
from batchkit.tracker.state import FileStatus, Outcome
from batchkit.tracker.watchers import Watchers

__all__ = ["BatchRun", "Subscriber"]

logger = logging.getLogger("batchkit.tracker")


_OUTCOME_TEXT: Final = {outcome: outcome.value for outcome in Outcome}
"""What the history keeps of an outcome (an enum's ``.value`` costs a Python call per event)."""

Subscriber = Callable[["BatchRun"], object]
"""Called with the run after every change (once per :meth:`BatchRun.batch` block)."""


class BatchRun(FactMaker):
    """One run of files through the Story API, folded into a live per-file DataFrame.

    ``steps`` are the enabled pipeline steps; ``reportable_steps`` those the server reports
    (production never reports ``merge``): a file is completed when its last enabled reportable
    step completes. A file whose upload or step has not moved for ``stall_timeout`` seconds is
    marked stalled by :meth:`tick`. Each fact received is handed to ``log`` as it arrives.
    """

    def __init__(
        self,
        files: Sequence[PlannedFile],
        *,
        steps: Sequence[PipelineStep | str],
        reportable_steps: Sequence[PipelineStep | str] | None = None,
        stall_timeout: float = 120.0,
        give_up_after: float | None = None,
        run_id: str | None = None,
        log: FactLog | None = None,
        created_at: datetime | None = None,
        step_weights: Mapping[PipelineStep, float] | None = None,
        events_confirm: bool = True,
        retried_batches: bool = False,
        batch_failure_grace: float = 60.0,
    ) -> None:
        created = stamp(created_at)
        enabled = tuple(PipelineStep(s) for s in steps)
        reportable = enabled if reportable_steps is None else reportable_steps
        self._plan = FilesPlanned(
            received_at=created,
            run_id=run_id or f"{created:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}",
            files=tuple(files),
            steps=enabled,
            reportable_steps=tuple(PipelineStep(s) for s in reportable),
            stall_timeout=stall_timeout,
            give_up_after=give_up_after,
            events_confirm=events_confirm,
            retried_batches=retried_batches,
            batch_failure_grace=batch_failure_grace,
        )
        self._weights = {**STEP_WEIGHTS, **(step_weights or {})}
        self._fold = Fold(self._plan)
        self._frame = FileFrame(self._fold.tracks)
        self._history = FactHistory()
        self._deliver_held: Callable[[], object] | None = None
        self._log: FactLog | None = log
        self._version = 0
        self._depth = 0
        self._unpublished = False
        self._may_end = False
        self._terminal: set[int] = set()
        """The rows completed or failed, kept as facts change them (``done`` asks it often)."""
        self._settle_rows(range(len(self._fold.tracks)))
        self._watchers: Watchers[BatchRun] = Watchers(self._plan.run_id)
        self._events_cache: tuple[int, pd.DataFrame] | None = None
        self._snapshot_cache: tuple[tuple[int, datetime], RunSnapshot] | None = None
        self.log_errors = 0
        """Facts the log sink failed to write (each is logged and the fold carries on)."""
        self._record(self._plan, Outcome.APPLIED)

    @classmethod
    def replay(cls, facts: Iterable[Fact], *, log: FactLog | None = None) -> BatchRun:
        """Rebuild a run from its facts, the first of which plans its files."""
        stream = iter(facts)
        plan = next(stream, None)
        if not isinstance(plan, FilesPlanned):
            raise RunError("a run's log must start with the facts planning its files")
        run = cls(
            plan.files,
            steps=plan.steps,
            reportable_steps=plan.reportable_steps,
            stall_timeout=plan.stall_timeout,
            give_up_after=plan.give_up_after,
            run_id=plan.run_id,
            created_at=plan.received_at,
            log=log,
            events_confirm=plan.events_confirm,
            retried_batches=plan.retried_batches,
            batch_failure_grace=plan.batch_failure_grace,
        )
        run.apply_many(stream)
        return run

    def __repr__(self) -> str:
        return f"<BatchRun {self.run_id} files={len(self._fold.tracks)} version={self._version}>"

    # ------------------------------------------------------------ what the run is
    @property
    def run_id(self) -> str:
        return self._plan.run_id

    @property
    def plan(self) -> FilesPlanned:
        """The first fact of the run: its files, steps and stall timeout."""
        return self._plan

    @property
    def created_at(self) -> datetime:
        return self._plan.received_at

    @property
    def steps(self) -> tuple[PipelineStep, ...]:
        """The enabled steps, in pipeline order."""
        return self._fold.steps.enabled

    @property
    def stall_timeout(self) -> float:
        return self._plan.stall_timeout

    @property
    def version(self) -> int:
        """Grows by one with every fact that changed something: views skip redraws on it."""
        self._catch_up()
        return self._version

    @property
    def files(self) -> pd.DataFrame:
        """The live table, one row per file. Always the same object, updated in place.

        Read through this property it is always current (held events are folded first); a
        reference kept from an earlier read catches up at the end of the event loop's turn,
        within 120 ms during a burst of events (20 ms held, then at most 100 ms between writes).
        """
        self._catch_up()
        if self._frame.pending:
            self._frame.flush()
        return self._frame.frame

    @property
    def facts(self) -> tuple[Fact, ...]:
        """Every fact received, in order, starting with the plan (idle ticks are not kept)."""
        self._catch_up()
        return tuple(fact for fact, _, _ in self._history)

    @property
    def fact_count(self) -> int:
        """How many facts :attr:`facts` holds, without rebuilding them."""
        self._catch_up()
        return len(self._history)

    @property
    def events(self) -> pd.DataFrame:
        """One row per fact received and what it did (built on demand, cached)."""
        self._catch_up()
        recorded = len(self._history)
        if self._events_cache is None or self._events_cache[0] != recorded:
            rows = [event_row(fact, outcome, row) for fact, outcome, row in self._history]
            self._events_cache = (recorded, events_frame(rows))
        return self._events_cache[1]

    @property
    def batches(self) -> pd.DataFrame:
        """One row per batch created: its id, job id, number of files, state and error."""
        self._catch_up()
        return batches_frame(self._fold.batches.values())

    @property
    def batch_ids(self) -> tuple[str, ...]:
        self._catch_up()
        return tuple(self._fold.batches)

    @property
    def story_ids(self) -> Mapping[str, int]:
        """Story id → row, for every story the run has placed."""
        self._catch_up()
        return dict(self._fold.rows_by_story)

    @property
    def story_count(self) -> int:
        """How many stories the run knows of, placed on a row or not yet (cheap to ask)."""
        self._catch_up()
        return len(self._fold.rows_by_story) + len(self._fold.unplaced_story_ids())

    def uploaded_url(self, index: int) -> str | None:
        """Where the server keeps file ``index``, once it was uploaded (a retry reuses it)."""
        self._catch_up()
        track = self._fold.tracks[index]
        return track.file_url if track.uploaded else None

    def active_story_ids(self) -> tuple[str, ...]:
        """Stories worth polling or joining: those of unfinished files (or failed only for
        silence, which news can revive), and those the server listed that no file holds yet."""
        self._catch_up()
        active = [
            story_id
            for track in self._fold.tracks
            if not track.status().terminal or track.silenced
            for story_id in track.stories
        ]
        return (*active, *self._fold.unplaced_story_ids())

    @property
    def done(self) -> bool:
        """True when every file is completed or failed."""
        self._catch_up()
        return len(self._terminal) == len(self._fold.tracks)

    def snapshot(self) -> RunSnapshot:
        """Totals, progress, ETA and a frozen row per file: what a view renders."""
        self._catch_up()
        key = (self._version, self._fold.latest)
        if self._snapshot_cache is None or self._snapshot_cache[0] != key:
            snapshot = take_snapshot(
                self._fold.tracks,
                self._fold.steps,
                run_id=self.run_id,
                version=self._version,
                started=self.created_at,
                as_of=self._fold.latest,
                weights=self._weights,
            )
            self._snapshot_cache = (key, snapshot)
        return self._snapshot_cache[1]

    # ------------------------------------------------------------ folding
    def apply(self, fact: Fact) -> bool:
        """Fold one fact; False when it changed nothing (a duplicate, stale or idle fact).

        :meth:`snapshot`, subscribers and :attr:`files` see the change when this returns. The
        frame's cells are written then too when no event loop runs (or the file reached a final
        state); with one running, they are gathered and written at the end of the loop's turn,
        at most every ``WRITE_INTERVAL`` (100 ms), or as soon as :attr:`files` is read. A burst
        taken inside :meth:`batch` tells subscribers once. Raises
        :class:`~batchkit.errors.RunError` for a fact about a file the run does not have; such a
        fact is neither folded nor logged.
        """
        self._catch_up()
        outcome = self._fold.apply(fact)
        if type(fact) is TickFact and outcome is not Outcome.APPLIED:
            return False  # an idle tick: replaying without it gives the same table
        self._record(fact, outcome)
        self._may_end = self._may_end or type(fact) is not EventFact or _may_finish(fact.event)
        return self._applied(outcome)

    def apply_event(self, event: ServerEvent, *, received_at: datetime | None = None) -> bool:
        """Fold a message from the socket (already a validated contract model) now: a burst of
        one (:meth:`apply_events`); no fact model is built for it unless a log needs its line."""
        return self.apply_events(((event, stamp(received_at)),))

    def apply_events(self, received: Iterable[tuple[ServerEvent, datetime]]) -> bool:
        """Fold a burst of messages from the socket, each with its arrival time, in one go.

        How a followed run takes its live events (the event stream hands them over in bursts):
        subscribers are told once, and the burst costs a fraction of folding its events one at
        a time. False when none of them changed anything.
        """
        self._catch_up()
        changed = False
        with self.batch():
            for event, at in received:
                if not isinstance(event, EventModel):
                    raise _not_an_event(event)
                changed = self._fold_event(event, stamp(at)) or changed
        return changed

    def catch_up_with(self, deliver_held: Callable[[], object] | None) -> None:
        """Call ``deliver_held`` before every read and every other fact (None: stop calling it).

        For a source that holds events back to hand them over in bursts, as the event stream
        holds progress messages (:meth:`~batchkit.events.EventStream.deliver_held`): it hands
        over what it holds there, so the run never answers a question, or folds another fact,
        without an event that has arrived.
        """
        self._deliver_held = deliver_held

    def _catch_up(self) -> None:
        """Have the source hand over what it holds (cheap when it holds nothing)."""
        if self._deliver_held is not None:
            self._deliver_held()

    def _fold_event(self, event: ServerEvent, at: datetime) -> bool:
        outcome = self._fold.apply_event(event, at)
        if self._log is None:
            self._history.append_event(event, at, _OUTCOME_TEXT[outcome], self._fold.row)
        else:
            self._record(EventFact.model_construct(received_at=at, event=event), outcome)
        self._may_end = self._may_end or _may_finish(event)
        return self._applied(outcome)

    def _applied(self, outcome: Outcome) -> bool:
        changed = outcome is Outcome.APPLIED
        if changed:
            self._version += 1
            self._unpublished = True
        if self._depth == 0:
            self._publish()
        return changed

    def apply_many(self, facts: Iterable[Fact]) -> int:
        """Fold many facts, writing the table once at the end; returns how many changed it."""
        with self.batch():
            return sum(self.apply(fact) for fact in facts)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Within the block, facts are folded but the table is written (and subscribers told)
        once, when the block ends: the way to take a burst of events."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._publish()

    def _record(self, fact: Fact, outcome: Outcome) -> None:
        if self._log is None:
            self._history.append(fact, _OUTCOME_TEXT[outcome], self._fold.row)
            return
        line = fact.model_dump_json()  # made once: the log's line, and kept if not as values
        self._history.append(fact, _OUTCOME_TEXT[outcome], self._fold.row, line)
        try:
            self._log.append_line(line)
        except Exception:
            self.log_errors += 1
            logger.exception("run %s: could not log a %s fact", self.run_id, fact.kind)

    def _publish(self) -> None:
        dirty = self._fold.dirty
        if not (self._unpublished or dirty):
            return
        self._unpublished = False
        self._fold.dirty = set()
        # A file's final state is written at once, so a held frame ends exact.
        may_end, self._may_end = self._may_end, False
        final = self._settle_rows(dirty if may_end else dirty & self._terminal)
        self._frame.update(dirty, at_once=final)
        self._watchers.tell(self)
        if self._watchers.waiting and self.done:
            self._watchers.wake()

    def _settle_rows(self, rows: Iterable[int]) -> bool:
        """Note which of ``rows`` are finished now; True when one of them just finished.

        Only these rows can have changed between finished and not: a progress event can never
        finish a file, so after one only the finished rows it touched (a file failed for
        silence, revived by news) are looked at again.
        """
        finished = False
        for row in rows:
            if self._fold.status(row).terminal:
                finished = finished or row not in self._terminal
                self._terminal.add(row)
            else:
                self._terminal.discard(row)
        return finished

    @property
    def log(self) -> FactLog | None:
        """Where each fact is written as it arrives, if anywhere."""
        return self._log

    def attach_log(self, log: FactLog) -> None:
        """Send every later fact to ``log``."""
        self._catch_up()
        self._log = log

    # ------------------------------------------------------------ watching
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(run)`` after every change; returns the function that stops it.

        A callback that raises is logged and counted in :attr:`subscriber_errors`; the fold and
        the other subscribers carry on.
        """
        return self._watchers.subscribe(callback)

    @property
    def subscriber_errors(self) -> int:
        """Subscribers that raised (each is logged and the fold carries on)."""
        return self._watchers.errors

    async def wait(self, timeout: float | None = None) -> RunSnapshot:  # noqa: ASYNC109 - one deadline for the whole run
        """Return when every file is completed or failed; raises :class:`TimeoutError` after
        ``timeout`` seconds."""
        if not self.done:  # (asking has the held events handed over first)
            await self._watchers.wait(timeout)
        return self.snapshot()

    def status_of(self, index: int) -> FileStatus:
        """File ``index``'s status, straight from the fold."""
        self._catch_up()
        return self._fold.status(index)


def _may_finish(event: ServerEvent) -> bool:
    """Whether folding ``event`` can finish a file, so that every changed row's status must be
    looked at again. A progress event cannot: it never confirms or fails a step of its own, and
    looking costs more than folding it (a file's status is derived from all its stories)."""
    return type(event) not in PROGRESS_EVENTS


def _not_an_event(value: object) -> TypeError:
    return TypeError(f"expected a parsed server event, got {type(value).__name__}")
