"""Keeping one run true while its batches run: events as they come, REST when they don't.

The event stream is the fast path: each event is folded into the run the moment it arrives. REST
is the truth: after every (re)connect, after a ``seq`` gap, and on a timer when the socket is
quiet, the follower reads each batch's status (and, against a server without per-file
``results``, each unfinished story) and folds that in too. Against production, whose batch
events never arrive (contract section 7), the timer is what finishes the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from batchkit.client import StoryClient
from batchkit.contract.events import ServerEvent
from batchkit.errors import AuthError, BatchkitError, NotFoundError
from batchkit.events import EventStream
from batchkit.tracker import BatchRun, FileStatus

__all__ = ["FollowOptions", "Follower"]

logger = logging.getLogger("batchkit.session")


@dataclass(frozen=True, slots=True)
class FollowOptions:
    """How a run is followed.

    ``poll_interval``: seconds between REST reconciles while events are missing (production);
    ``quiet_poll_interval``: the same while events flow (the socket is doing the work);
    ``use_events``: open a socket at all (off: REST only); ``stall_timeout``: seconds a step may
    stand still before its file is marked stalled; ``give_up_after``: seconds a file in a
    batch may hear nothing before it is failed, against a server without per-file ``results``
    (production reports a failed story only by an event, which may fire before anyone joined).
    """

    poll_interval: float = 1.0
    quiet_poll_interval: float = 5.0
    use_events: bool = True
    stall_timeout: float = 120.0
    give_up_after: float = 300.0


class Follower:
    """Follows the batches of one run until every file is completed or failed."""

    def __init__(self, client: StoryClient, run: BatchRun, options: FollowOptions) -> None:
        self._client = client
        self._run = run
        self._options = options
        self._batches: list[str] = []
        self._joined: set[str] = set()
        self._nudge = asyncio.Event()
        self._more_batches_coming = True
        self._events_since_poll = 0
        self.reconcile_errors = 0
        self.stream: EventStream | None = None
        run.subscribe(self._on_run_change)

    # ------------------------------------------------------------ fed by the session
    def add_batch(self, batch_id: str) -> None:
        if batch_id not in self._batches:
            self._batches.append(batch_id)
            self._nudge.set()

    def no_more_batches(self) -> None:
        self._more_batches_coming = False
        self._nudge.set()

    def resume(self) -> None:
        """Follow again after the run changed on purpose (a regenerated story)."""
        self._nudge.set()

    # ------------------------------------------------------------ the loop
    async def follow(self) -> None:
        """Run until the run is done and no batch is still to come; always closes the socket."""
        try:
            if self._options.use_events:
                await self._open_stream()
            while not (self._run.done and not self._more_batches_coming):
                await self._sleep_or_nudge()
                await self._reconcile(every_story=False)
                self._run.tick()
            # One last read so the table ends equal to the server's truth.
            await self._reconcile(every_story=True)
        finally:
            if self.stream is not None:
                await self.stream.close()

    async def _sleep_or_nudge(self) -> None:
        quiet = self.stream is not None and self.stream.connected and self._events_since_poll
        interval = self._options.quiet_poll_interval if quiet else self._options.poll_interval
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._nudge.wait(), interval)
        self._nudge.clear()

    # ------------------------------------------------------------ the socket
    async def _open_stream(self) -> None:
        stream = EventStream(
            self._client.base_url,
            self._socket_token,
            on_event=self._on_event,
            on_connect=self._on_reconnect,
            on_gap=self._on_reconnect,
            verify_credentials=self._client.verify_credentials,
        )
        self.stream = stream  # before connecting, so a cancelled connect is still closed
        try:
            await self._client.ensure_token()
            await stream.connect()
        except BatchkitError as exc:
            # No socket is no reason to stop: REST polling alone finishes the run.
            logger.warning("following by REST only: %s", exc)
            stream.failure = exc

    def _socket_token(self) -> str:
        return self._client.token or ""

    def _on_event(self, event: ServerEvent) -> None:
        self._events_since_poll += 1
        self._run.apply_event(event)

    async def _on_reconnect(self) -> None:
        # Rooms were joined again by the stream; what happened meanwhile comes from REST.
        self._nudge.set()

    def _on_run_change(self, run: BatchRun) -> None:
        if run.done or len(run.story_ids) > len(self._joined):
            self._nudge.set()

    async def _join_rooms(self) -> None:
        stream = self.stream
        if stream is None or stream.failure is not None:
            return
        for batch_id in self._batches:
            await stream.join_batch(batch_id)
        for story_id in self._run.story_ids:
            if story_id not in self._joined:
                self._joined.add(story_id)
                await stream.join_story(story_id)

    # ------------------------------------------------------------ REST
    async def _reconcile(self, *, every_story: bool) -> None:
        self._events_since_poll = 0
        try:
            await self._join_rooms()
            for batch_id in list(self._batches):
                self._run.apply_status(await self._client.batch_status(batch_id))
            await self._join_rooms()
            if every_story or not self._client.profile.reports_results:
                await self._read_stories(self._story_ids_to_read(every_story))
        except AuthError as exc:
            self._give_up(f"the server refused our credentials: {exc.server_message}")
        except BatchkitError as exc:
            # A server error or a dropped connection: the next round tries again.
            self.reconcile_errors += 1
            logger.warning("reconcile failed, trying again: %s", exc)

    def _story_ids_to_read(self, every_story: bool) -> list[str]:
        if every_story:
            return list(self._run.story_ids)
        return list(self._run.active_story_ids())

    async def _read_stories(self, story_ids: list[str]) -> None:
        for story_id in story_ids:
            try:
                self._run.apply_story(await self._client.story(story_id))
            except NotFoundError:
                logger.warning("story %s is gone from the server", story_id)

    def _give_up(self, reason: str) -> None:
        logger.error("stopped following: %s", reason)
        finished = (FileStatus.COMPLETED, FileStatus.FAILED)
        active = [row.index for row in self._run.snapshot().files if row.status not in finished]
        if active:
            self._run.mark_batch_failed(active, reason)
        self._more_batches_coming = False
