"""Who hears of a run's changes: its subscribers, and the tasks waiting for it to end.

:class:`~batchkit.tracker.BatchRun` tells its :class:`Watchers` after every change it publishes.
A subscriber that raises is logged and counted; the fold and the other subscribers carry on. A
waiter may be on another thread's loop (a notebook waiting while the run is fed elsewhere): it
is woken through that loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Generic, TypeVar

__all__ = ["Watchers"]

logger = logging.getLogger("batchkit.tracker")

Run = TypeVar("Run")


class Watchers(Generic[Run]):
    """The subscribers of one run, and the futures of those waiting for it to end."""

    __slots__ = ("_subscribers", "_waiters", "errors", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        """The run's id, to say whose subscriber failed."""
        self._subscribers: list[Callable[[Run], object]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self.errors = 0
        """Subscribers that raised."""

    @property
    def waiting(self) -> bool:
        return bool(self._waiters)

    def subscribe(self, callback: Callable[[Run], object]) -> Callable[[], None]:
        """Call ``callback(run)`` on every :meth:`tell`; returns the function that stops it."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def tell(self, run: Run) -> None:
        """Call every subscriber with ``run``; one that raises is logged and counted."""
        for subscriber in tuple(self._subscribers):
            try:
                subscriber(run)
            except Exception:
                self.errors += 1
                logger.exception("run %s: subscriber %r failed", self.name, subscriber)

    def wake(self) -> None:
        """The run has ended: every waiter returns."""
        for waiter in self._waiters:
            _settle(waiter)

    async def wait(self, timeout: float | None) -> None:  # noqa: ASYNC109 - one deadline for the whole run
        """Until :meth:`wake`; raises :class:`TimeoutError` after ``timeout`` seconds."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        finally:
            self._waiters.remove(waiter)


def _settle(waiter: asyncio.Future[None]) -> None:
    loop = waiter.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is running:
        if not waiter.done():
            waiter.set_result(None)
        return
    with suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(lambda: None if waiter.done() else waiter.set_result(None))
