"""The one task keeper: every widget callback runs on the page's loop, kept, its failure painted.

A widget callback cannot ``await``, and ipykernel 7 may deliver it on any thread: the cells'
``MainThread``, or a *subshell* thread that runs an event loop of its own. The client's
connection pool, the event stream and the tracker all live on the loop the page was built on;
work started on another loop breaks them ("... is bound to a different event loop"). So every
callback of the page goes through :class:`TaskKeeper`:

* :meth:`TaskKeeper.callback` wraps a handler (``on_click``, ``observe``, ``on_msg``...): on the
  page's thread it runs at once; on any other thread it is handed to the page's loop with
  ``call_soon_threadsafe`` (in the order the callbacks came), and an exception it raises is
  painted, never lost in a foreign thread;
* :meth:`TaskKeeper.spawn` starts a coroutine as a task on the page's loop and keeps a
  reference to it until it ends (an unreferenced task can be collected mid-flight), painting
  its failure; from another thread it is handed over with ``run_coroutine_threadsafe``;
* :meth:`TaskKeeper.run` does the same for the work behind a button, which says it is busy
  ("Start…") meanwhile and ignores presses. It is *not* disabled for that moment: a disabled
  button loses the keyboard focus. When the work ends the button's label comes back and
  ``on_settled`` is called, so the page decides afresh what is enabled (never the state the
  button had before the press).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from batchkit.errors import BatchkitError

__all__ = ["Report", "TaskKeeper", "describe_error"]

logger = logging.getLogger("batchkit.widgets")

T = TypeVar("T")
Report = Callable[[str], object]
"""Where a failure is painted: called with ``"<what failed>: <why>"``."""


def describe_error(error: BaseException) -> str:
    """A one-line account of ``error`` for a person: batchkit's own message, else the type too."""
    if isinstance(error, BatchkitError):
        return str(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _log_only(text: str) -> None:
    logger.error("%s", text)


class TaskKeeper:
    """Runs the page's work on one event loop, keeps its tasks, and paints its failures.

    ``loop`` is the page's loop (default: the loop running now, so build the keeper where the
    page is built). Without any loop (a script that builds widgets outside asyncio) callbacks
    run where they are called and :meth:`spawn` raises. ``report`` paints a failure unless a
    call names its own. ``on_settled`` is called after the work of each :meth:`run` ends.
    """

    def __init__(
        self,
        report: Report | None = None,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        on_settled: Callable[[], object] | None = None,
    ) -> None:
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self._loop = loop
        self._thread = threading.get_ident()
        self._report: Report = report or _log_only
        self.on_settled = on_settled
        self.tasks: set[asyncio.Task[Any]] = set()
        self.failures = 0
        """Callbacks and tasks that ended with an exception (each was reported)."""
        self.handed_over = 0
        """Callbacks that came on another thread and were handed to the page's loop."""
        self._queued = 0
        self._queued_lock = threading.Lock()
        self._busy: dict[int, str] = {}

    def report_to(self, report: Report) -> None:
        """Paint failures with ``report`` from now on (when a call names none of its own)."""
        self._report = report

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The page's loop: where every callback and task of the page runs."""
        return self._loop

    def on_page_thread(self) -> bool:
        """True when called on the thread of the page's loop (or no loop was captured)."""
        return self._loop is None or threading.get_ident() == self._thread

    # ------------------------------------------------------------ callbacks
    def callback(
        self, handler: Callable[..., object], *, failure: str, report: Report | None = None
    ) -> Callable[..., None]:
        """``handler`` made safe to give a widget: run on the page's loop, failures painted."""

        def delivered(*args: Any) -> None:
            self.call(handler, *args, failure=failure, report=report)

        return delivered

    def call(
        self,
        handler: Callable[..., object],
        *args: Any,
        failure: str,
        report: Report | None = None,
    ) -> None:
        """Run ``handler(*args)`` on the page's loop: now if this is its thread (and nothing
        handed over is still waiting, which keeps the callbacks in order), else handed over."""
        loop = self._loop
        if loop is None or (self.on_page_thread() and not self._queued):
            self._guarded(handler, args, failure, report)
            return
        with self._queued_lock:
            self._queued += 1
        if not self.on_page_thread():
            self.handed_over += 1
        try:
            loop.call_soon_threadsafe(self._dequeued, handler, args, failure, report)
        except RuntimeError:  # the page's loop is closed: the page is gone with it
            with self._queued_lock:
                self._queued -= 1
            logger.warning("a widget callback came after the page's loop closed: dropped")

    def _dequeued(
        self, handler: Callable[..., object], args: tuple[Any, ...], failure: str, report: Any
    ) -> None:
        with self._queued_lock:
            self._queued -= 1
        self._guarded(handler, args, failure, report)

    def _guarded(
        self, handler: Callable[..., object], args: tuple[Any, ...], failure: str, report: Any
    ) -> None:
        try:
            handler(*args)
        except Exception as error:
            self._failed(error, failure, report)

    def _failed(self, error: BaseException, failure: str, report: Report | None) -> None:
        self.failures += 1
        logger.error("%s: %s", failure, error, exc_info=error)
        try:
            (report or self._report)(f"{failure}: {describe_error(error)}")
        except Exception:
            logger.exception("a failure could not be painted")

    # ------------------------------------------------------------ tasks
    def spawn(
        self,
        work: Coroutine[Any, Any, T],
        *,
        failure: str,
        name: str | None = None,
        report: Report | None = None,
    ) -> asyncio.Task[T] | concurrent.futures.Future[T]:
        """Run ``work`` as a task on the page's loop, kept until it ends; a failure is painted.

        On the page's thread this returns the task; from another thread the coroutine is handed
        over and a :class:`concurrent.futures.Future` of its result is returned.
        """
        loop = self._loop
        if loop is None:
            work.close()
            raise RuntimeError("no event loop to run the page's work on")
        if self.on_page_thread():
            return self._start(loop, work, failure, name, report)
        self.handed_over += 1
        return asyncio.run_coroutine_threadsafe(self._kept(work, failure, name, report), loop)

    async def _kept(
        self, work: Coroutine[Any, Any, T], failure: str, name: str | None, report: Any
    ) -> T:
        return await self._start(asyncio.get_running_loop(), work, failure, name, report)

    def _start(
        self,
        loop: asyncio.AbstractEventLoop,
        work: Coroutine[Any, Any, T],
        failure: str,
        name: str | None,
        report: Report | None,
    ) -> asyncio.Task[T]:
        task = loop.create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, failure, report))
        return task

    def _finished(self, task: asyncio.Task[Any], failure: str, report: Report | None) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._failed(error, failure, report)

    # ------------------------------------------------------------ buttons
    def busy(self, button: Any) -> bool:
        """True while the work a press of ``button`` started is under way."""
        return id(button) in self._busy

    def run(
        self,
        button: Any,
        work: Callable[[], Awaitable[T]],
        *,
        failure: str,
        report: Report | None = None,
    ) -> asyncio.Task[T] | None:
        """Start ``work()`` for a press of ``button``; None when it is already under way.

        Call it on the page's thread (a handler given through :meth:`callback` is).
        """
        if self.busy(button):
            return None
        label = str(button.description)
        self._busy[id(button)] = label
        button.description = f"{label}…"

        async def waited() -> T:
            return await work()

        try:
            task = self.spawn(waited(), failure=failure, report=report)
        except BaseException:
            self._idle(button)
            raise
        assert isinstance(task, asyncio.Task)  # on the page's thread, spawn makes the task
        task.add_done_callback(lambda _: self._idle(button))
        return task

    def _idle(self, button: Any) -> None:
        label = self._busy.pop(id(button), None)
        if label is not None:
            button.description = label
        if self.on_settled is not None:
            try:
                self.on_settled()
            except Exception:
                logger.exception("the page could not be refreshed after an action")

    # ------------------------------------------------------------ waiting
    async def wait(self) -> None:
        """Return once no task is running (failures are painted, not raised)."""
        while self.tasks:
            await asyncio.wait(set(self.tasks))

    async def cancel_all(self) -> None:
        """Cancel every task and wait for them to end."""
        running = [task for task in self.tasks if not task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
