"""Background work started from the page: kept referenced, and never failing in silence.

A widget callback cannot ``await``; it starts a task on the kernel's event loop instead. An
unreferenced task can be garbage-collected mid-flight, and an exception in one is only logged
when it is destroyed, so every task the workbench starts goes through :class:`TaskKeeper`: it
holds the task until it ends and paints any failure into the notifier.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from batchkit.errors import BatchkitError

__all__ = ["TaskKeeper", "describe_error"]

logger = logging.getLogger("batchkit.workbench")

T = TypeVar("T")
Report = Callable[[str], object]


def describe_error(error: BaseException) -> str:
    """A one-line account of ``error`` for a person: batchkit's own message, else the type too."""
    if isinstance(error, BatchkitError):
        return str(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class TaskKeeper:
    """Starts coroutines as tasks on the running loop, keeps them, and reports their failures."""

    def __init__(self, report: Report) -> None:
        self._report = report
        self.tasks: set[asyncio.Task[Any]] = set()
        self.failures = 0
        """Tasks that ended with an exception (each was reported)."""

    def spawn(
        self, work: Coroutine[Any, Any, T], *, failure: str, name: str | None = None
    ) -> asyncio.Task[T]:
        """Run ``work`` in the background; if it raises, report ``"<failure>: <error>"``."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, failure))
        return task

    def _finished(self, task: asyncio.Task[Any], failure: str) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        self.failures += 1
        logger.error("%s: %s", failure, error, exc_info=error)
        self._report(f"{failure}: {describe_error(error)}")

    async def wait(self) -> None:
        """Return once no task is running (failures are reported, not raised)."""
        while self.tasks:
            await asyncio.wait(set(self.tasks))

    async def cancel_all(self) -> None:
        """Cancel every task and wait for them to end."""
        running = [task for task in self.tasks if not task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
