"""Keeping one run true while its batches run: events as they come, REST when they don't.

The event stream is the fast path: each event is folded into the run the moment it arrives. REST
is the truth: after every (re)connect, after a ``seq`` gap, and on a timer, the follower reads
each batch's status and, against a server whose events run ahead of its work or that gives no
per-file ``results`` (production), each story still open, and folds that in too. There the
timer is what finishes the run.

Every way of following ends, with a reason the run records:

* every file is completed or failed (the usual end), confirmed by one last read of everything;
* the server refuses our credentials even after a fresh login: the unfinished files fail and
  :meth:`Follower.follow` raises :class:`~batchkit.errors.AuthError`;
* the server no longer knows a batch (not found, after a fresh login proved our token good):
  that batch's unfinished files fail, the others go on;
* the server gives no usable answer for ``FollowOptions.unanswered_after`` seconds: the
  unfinished files fail with the last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from batchkit.client import StoryClient
from batchkit.errors import AuthError, BatchkitError, NotFoundError, RunError
from batchkit.events import HOLD_INTERVAL, EventStream, ReceivedEvent
from batchkit.tracker import BatchRun

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
    (production reports a failed story only by an event, which may fire before anyone joined);
    ``batch_failure_grace``: seconds a ``failed`` batch status must last, with no sign of a
    retry, before it fails the files, against a server that retries crashed batches
    (production: up to 3 attempts); ``lost_after``: seconds the server may keep saying a batch
    does not exist (each time after a fresh login proved the token good) before its unfinished
    files fail; ``unanswered_after``: seconds without one usable REST answer before the run
    stops (None: wait for ever); ``refused_batch_patience``: seconds a batch the server refuses
    for now (429 with ``Retry-After``: the user's batches a minute, or stories in flight, are at
    their limit) is sent again when the server says, before its files fail (None: for ever);
    ``hold_interval``: seconds a progress message may wait to be folded with the rest of its
    burst (any read of the run folds it at once).
    """

    poll_interval: float = 1.0
    quiet_poll_interval: float = 5.0
    use_events: bool = True
    stall_timeout: float = 120.0
    give_up_after: float = 300.0
    batch_failure_grace: float = 60.0
    lost_after: float = 20.0
    unanswered_after: float | None = 600.0
    refused_batch_patience: float | None = 600.0
    hold_interval: float = HOLD_INTERVAL


LOST = "the server no longer knows this batch; was it restarted? ({detail})"
REFUSED = (
    "the server refused our credentials even after a fresh login ({detail}); log in again "
    "(check the username and password, or get a new token) and attach to the batch to go on"
)
UNANSWERED = "the server gave no usable answer for {seconds:.0f} s (last: {detail})"


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
        self._missing_since: dict[str, float] = {}
        self._answered_at = time.monotonic()
        self.reconcile_errors = 0
        self.stopped: str | None = None
        """Why following stopped early, if it did."""
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
        """Run until the run is done and no batch is still to come; always closes the socket.

        Raises :class:`~batchkit.errors.AuthError` when the server refuses our credentials
        (the unfinished files are failed first, saying why).
        """
        try:
            if self._options.use_events:
                await self._open_stream()
            while True:
                while not (self._run.done and not self._more_batches_coming):
                    await self._sleep_or_nudge()
                    await self._round(every_story=False)
                # One last read of everything, so the table ends equal to the server's truth;
                # news in it (a file failed for silence was only slow) means following goes on.
                await self._round(every_story=True)
                if self._run.done and not self._more_batches_coming:
                    return
        finally:
            if self.stream is not None:
                await self.stream.close()  # hands over what it held, to the run
                self._run.catch_up_with(None)

    async def _round(self, *, every_story: bool) -> None:
        await self._reconcile(every_story=every_story)
        self._run.tick()

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
            on_events=self._on_events,
            on_connect=self._on_reconnect,
            on_gap=self._on_reconnect,
            verify_credentials=self._client.verify_credentials,
            hold_interval=self._options.hold_interval,
        )
        self.stream = stream  # before connecting, so a cancelled connect is still closed
        self._run.catch_up_with(stream.deliver_held)  # reads see every message that arrived
        try:
            await self._client.ensure_token()
            await stream.connect()
        except BatchkitError as exc:
            # No socket is no reason to stop: REST polling alone finishes the run.
            logger.warning("following by REST only: %s", exc)
            stream.failure = exc

    def _socket_token(self) -> str:
        return self._client.token or ""

    def _on_events(self, burst: list[ReceivedEvent]) -> None:
        self._events_since_poll += len(burst)
        try:
            self._run.apply_events(burst)
        except RunError as exc:  # an event about a file this run does not have
            logger.warning("ignored an event: %s", exc)

    async def _on_reconnect(self) -> None:
        # Rooms were joined again by the stream; what happened meanwhile comes from REST.
        self._nudge.set()

    def _on_run_change(self, run: BatchRun) -> None:
        # Called on every change: only cheap questions here.
        if run.done or run.story_count > len(self._joined):
            self._nudge.set()

    async def _join_rooms(self) -> None:
        stream = self.stream
        if stream is None or stream.failure is not None:
            return
        for batch_id in self._batches:
            await stream.join_batch(batch_id)
        for story_id in (*self._run.story_ids, *self._run.active_story_ids()):
            if story_id not in self._joined:
                self._joined.add(story_id)
                await stream.join_story(story_id)

    # ------------------------------------------------------------ REST
    async def _reconcile(self, *, every_story: bool) -> None:
        self._events_since_poll = 0
        try:
            await self._join_rooms()
            for batch_id in list(self._batches):
                await self._read_batch(batch_id)
            await self._join_rooms()
            if every_story or self._client.profile.reads_stories:
                await self._read_stories(self._story_ids_to_read(every_story))
        except AuthError as exc:
            await self._refused(exc)
        except BatchkitError as exc:
            self._unanswered(exc)
        else:
            self._answered_at = time.monotonic()

    async def _read_batch(self, batch_id: str) -> None:
        try:
            status = await self._client.batch_status(batch_id)
        except NotFoundError as exc:
            await self._missing(batch_id, exc)
            return
        self._missing_since.pop(batch_id, None)
        self._run.apply_status(status)

    def _story_ids_to_read(self, every_story: bool) -> list[str]:
        if every_story:
            return list(dict.fromkeys((*self._run.story_ids, *self._run.active_story_ids())))
        return list(self._run.active_story_ids())

    async def _read_stories(self, story_ids: list[str]) -> None:
        for story_id in story_ids:
            try:
                self._run.apply_story(await self._client.story(story_id))
            except NotFoundError:
                logger.warning("story %s is gone from the server", story_id)

    # ------------------------------------------------------------ ways out
    async def _missing(self, batch_id: str, exc: NotFoundError) -> None:
        """The server says ``batch_id`` does not exist: lost, once our token is proven good."""
        await self._client.verify_credentials()  # an AuthError here is a refusal, not a loss
        now = time.monotonic()
        since = self._missing_since.setdefault(batch_id, now)
        # Patience even where "not found" is unambiguous: a restarting server may answer so for
        # a moment, and a batch is lost only if the server keeps saying it.
        if now - since < self._options.lost_after:
            return
        self._batches.remove(batch_id)
        self._missing_since.pop(batch_id, None)
        reason = LOST.format(detail=exc.server_message)
        logger.error("batch %s: %s", batch_id, reason)
        self._run.mark_stopped(reason, batch_id)

    async def _refused(self, exc: AuthError) -> None:
        reason = REFUSED.format(detail=exc.server_message)
        self._stop(reason)
        raise AuthError(reason, status=exc.status, method=exc.method, url=exc.url) from exc

    def _unanswered(self, exc: BatchkitError) -> None:
        # A server error or a dropped connection: the next round tries again, for a while.
        self.reconcile_errors += 1
        logger.warning("reconcile failed, trying again: %s", exc)
        limit = self._options.unanswered_after
        silent = time.monotonic() - self._answered_at
        if limit is not None and silent >= limit:
            self._stop(UNANSWERED.format(seconds=silent, detail=exc))

    def _stop(self, reason: str) -> None:
        logger.error("stopped following: %s", reason)
        self.stopped = reason
        self._run.mark_stopped(reason)
        self._more_batches_coming = False
