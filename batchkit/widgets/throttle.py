"""The one flusher: views are drawn at most ``max_rate`` times a second, final states at once.

A run can receive thousands of events a second; a widget updated per event floods Jupyter's
IOPub channel, which drops output past ~1,000 messages a second and freezes the page. So models
never draw: whatever changes a view's data calls :meth:`Flusher.mark_dirty`, which only sets a
flag, and one :class:`Flusher` per view draws the latest state when the throttle allows it.

With an asyncio loop running (a Jupyter kernel, a test), the flusher starts one short task per
redraw on that loop; the task sleeps out the rest of the interval, draws once and ends. Without
a running loop it draws synchronously on a change that comes at least one interval after the
last drawing, so nothing is drawn more often in either case. An *urgent* change (a run that just
finished, a file just accepted or rejected) skips the wait: the final state is never late.

:func:`set_changed` is the drawing half: it assigns only the values that differ, inside one
``hold_sync`` block per widget, so one widget sends at most one message per redraw.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

__all__ = ["Flusher", "set_changed"]

logger = logging.getLogger("batchkit.widgets")


def set_changed(widget: Any, **values: object) -> bool:
    """Assign each trait of ``widget`` whose value differs, as one message; True if any did."""
    changed = {name: value for name, value in values.items() if getattr(widget, name) != value}
    if not changed:
        return False
    with widget.hold_sync():
        for name, value in changed.items():
            setattr(widget, name, value)
    return True


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Flusher:
    """Calls ``draw()`` at most ``max_rate`` times a second after :meth:`mark_dirty`.

    ``redraws`` counts the drawings done; ``errors`` those that raised (each is logged and
    handed to ``on_error``; the flusher carries on). The first interval starts when the flusher
    is built, because its view has just drawn its initial state.
    """

    def __init__(
        self,
        draw: Callable[[], object],
        *,
        max_rate: float = 10.0,
        on_error: Callable[[Exception], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not max_rate > 0:
            raise ValueError(f"max_rate must be positive, not {max_rate!r}")
        self._draw = draw
        self._interval = 1.0 / max_rate
        self._on_error = on_error
        self._clock = clock
        self._next_at = clock() + self._interval
        self._dirty = False
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._urgent: asyncio.Event | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self.redraws = 0
        """Drawings done by this flusher."""
        self.errors = 0
        """Drawings that raised."""

    @property
    def interval(self) -> float:
        """The shortest time between two drawings, in seconds."""
        return self._interval

    @property
    def dirty(self) -> bool:
        """True while a change waits to be drawn."""
        return self._dirty

    @property
    def closed(self) -> bool:
        return self._closed

    def mark_dirty(self, *, urgent: bool = False) -> None:
        """Note that the view's data changed; with ``urgent``, draw it without waiting.

        Cheap on purpose (a flag, at most one task started): it runs once per event.
        """
        if self._closed:
            return
        self._dirty = True
        loop = _running_loop()
        if loop is None:
            if urgent or self._clock() >= self._next_at:
                self.flush()
            return
        if self._task is None or self._task.get_loop() is not loop:
            self._urgent = asyncio.Event()
            self._task = loop.create_task(self._serve(self._urgent), name="batchkit-flusher")
        if urgent and self._urgent is not None:
            self._urgent.set()

    async def _serve(self, urgent: asyncio.Event) -> None:
        try:
            delay = self._next_at - self._clock()
            if delay > 0 and not urgent.is_set():
                with suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await urgent.wait()
            self.flush()
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    def flush(self) -> bool:
        """Draw now if anything changed since the last drawing; True if it drew."""
        if not self._dirty or self._closed:
            return False
        self._dirty = False
        self._next_at = self._clock() + self._interval
        try:
            self._draw()
        except Exception as error:
            self.errors += 1
            logger.exception("a widget could not be redrawn")
            if self._on_error is not None:
                self._on_error(error)
        self.redraws += 1
        self._release_waiters()
        return True

    async def settled(self) -> None:
        """Return once every change so far has been drawn (or the flusher was closed)."""
        while self._dirty and not self._closed:
            loop = asyncio.get_running_loop()
            if self._task is None or self._task.get_loop() is not loop:
                self.mark_dirty()  # dirtied where no loop ran: schedule the drawing here
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            await waiter

    def _release_waiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def close(self) -> None:
        """Stop drawing: pending changes are dropped and waiters released."""
        self._closed = True
        self._dirty = False
        task, self._task = self._task, None
        if task is not None and not task.done():
            with suppress(RuntimeError):  # its loop is already closed
                task.cancel()
        self._release_waiters()
