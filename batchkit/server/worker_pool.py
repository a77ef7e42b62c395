"""A pool of engine worker processes, fed in fair order, each job within its limits.

``size`` child processes run ``python -m batchkit.server.worker``, one job at a time each, so
drawing and speech use every core (no GIL, no shared eSpeak lock) and a hostile document costs
one job. Jobs are data (:mod:`batchkit.server.jobs`) sent as JSON lines; a job's result is its
output file plus a small reply, which the pipeline records in the database. Waiting jobs are
taken in the order of :class:`~batchkit.server.fair_queue.FairQueue`.

The pool watches the wall clock of every job: past ``wall_seconds`` it kills the worker and fails
the job. A worker that dies, is killed or retires itself after a limit is replaced on demand.
Workers start in the background (:meth:`WorkerPool.warm_up`) or when a job needs one, never on
the way to the server's start. Used from the event loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

import batchkit
from batchkit.errors import DocumentError, EngineError, LimitExceeded
from batchkit.server.fair_queue import FairQueue, JobOwner
from batchkit.server.jobs import (
    FailureKind,
    JobFailure,
    JobLimits,
    JobReply,
    JobRequest,
    JobResult,
    JobSpec,
    WorkerReady,
)
from batchkit.server.work_limits import Limit

__all__ = ["PoolSettings", "WorkerPool"]

logger = logging.getLogger(__name__)

_REPLY_LINE_LIMIT: Final = 1024 * 1024
_STOP_GRACE: Final = 5.0
_START_TIMEOUT: Final = 60.0
_SOURCE_ROOT: Final = str(Path(batchkit.__file__).resolve().parent.parent)
"""Put first on the workers' import path, so they run the very code the server runs."""


@dataclass(frozen=True, slots=True)
class PoolSettings:
    size: int
    data_dir: Path
    cpu_seconds: float
    memory_bytes: int
    wall_seconds: float


class _WorkerLost(Exception):
    """The worker died, or was killed, before it answered."""

    def __init__(self, failure: JobFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _death(code: int, job: JobSpec, limits: JobLimits) -> JobFailure:
    """Why a worker that ended with ``code`` did not answer ``job``."""
    if code == -signal.SIGXCPU:
        message = (
            f"{job.describe()} used more than its {limits.cpu_seconds:g} s of CPU time "
            f"({Limit.JOB_CPU})"
        )
        return JobFailure(kind=FailureKind.LIMIT, message=message, limit=Limit.JOB_CPU)
    if code >= 0:
        how = f"exit status {code}"
    else:
        try:
            how = signal.Signals(-code).name
        except ValueError:
            how = f"signal {-code}"
    message = f"the engine worker stopped unexpectedly ({how}) while {job.describe()}"
    return JobFailure(kind=FailureKind.ENGINE, message=message)


class _Worker:
    """One worker process and its two pipes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(cls, data_dir: Path) -> _Worker:
        path = os.pathsep.join(filter(None, [_SOURCE_ROOT, os.environ.get("PYTHONPATH")]))
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "batchkit.server.worker", "--data-dir", str(data_dir),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
            limit=_REPLY_LINE_LIMIT,
        )  # fmt: skip
        worker = cls(process)
        try:
            await worker._wait_until_ready()
        except BaseException:
            await worker.kill()
            raise
        return worker

    async def _wait_until_ready(self) -> None:
        assert self._process.stdout is not None
        try:
            async with asyncio.timeout(_START_TIMEOUT):
                line = await self._process.stdout.readline()
            WorkerReady.model_validate_json(line)
        except (TimeoutError, ValidationError) as exc:
            code = self._process.returncode
            how = "it did not say it was ready" if code is None else f"exit status {code}"
            raise OSError(f"the engine worker did not start ({how})") from exc

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.returncode is None

    async def ask(self, request: JobRequest, wall_seconds: float) -> JobReply:
        """Send one job and wait for its reply, at most ``wall_seconds``.

        Raises:
            _WorkerLost: the worker died, or ran out of time and was killed.
        """
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None
        assert stdout is not None
        job, limits = request.job, request.limits
        try:
            stdin.write(request.model_dump_json().encode() + b"\n")
            await stdin.drain()
            async with asyncio.timeout(wall_seconds):
                line = await stdout.readline()
        except TimeoutError:
            await self.kill()
            message = (
                f"{job.describe()} took longer than {wall_seconds:g} s and was stopped "
                f"({Limit.JOB_WALL})"
            )
            raise _WorkerLost(
                JobFailure(kind=FailureKind.LIMIT, message=message, limit=Limit.JOB_WALL)
            ) from None
        except (BrokenPipeError, ConnectionResetError):
            line = b""
        if not line:
            raise _WorkerLost(_death(await self._process.wait(), job, limits))
        try:
            reply = JobReply.model_validate_json(line)
        except ValidationError:
            reply = None
        if reply is None or reply.id != request.id:
            await self.kill()
            message = f"the engine worker answered nonsense while {job.describe()}"
            raise _WorkerLost(JobFailure(kind=FailureKind.ENGINE, message=message))
        return reply

    async def kill(self) -> None:
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
        await self._reap()

    async def _reap(self) -> None:
        """Wait for the process to end and close its pipes (then asyncio lets go of it)."""
        await self._process.wait()
        if self._process.stdin is not None:
            self._process.stdin.close()

    async def stop(self) -> None:
        """Stop an idle worker (it holds nothing worth a graceful exit: SIGTERM ends it at once,
        where the end of its input would cost an interpreter's shutdown); SIGKILL if need be."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.terminate()
        try:
            async with asyncio.timeout(_STOP_GRACE):
                await self._reap()
        except TimeoutError:
            await self.kill()


@dataclass(eq=False, slots=True)
class _Waiting:
    request: JobRequest
    reply: asyncio.Future[JobReply]


def _outcome(reply: JobReply) -> JobResult:
    """The job's result, or its failure raised as the error it stands for."""
    if reply.result is not None:
        return reply.result
    failure = reply.failure or JobFailure(kind=FailureKind.ENGINE, message="no result")
    if failure.kind is FailureKind.LIMIT:
        raise LimitExceeded(failure.message, limit=failure.limit or "")
    if failure.kind is FailureKind.DOCUMENT:
        raise DocumentError(failure.message)
    raise EngineError(failure.message)


class WorkerPool:
    """At most ``size`` workers; :meth:`run` queues a job and returns its result."""

    def __init__(self, settings: PoolSettings) -> None:
        self._settings = settings
        self._queue: FairQueue[_Waiting] = FairQueue()
        self._idle: list[_Worker] = []
        self._starting = 0
        self._busy = 0
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._interruptible: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def size(self) -> int:
        return self._settings.size

    @property
    def worker_pids(self) -> list[int]:
        """The process ids of the idle workers still alive (tests look at them)."""
        return [worker.pid for worker in self._idle if worker.alive]

    def _count(self) -> int:
        return len(self._idle) + self._busy + self._starting

    def _spawn(self, work: Coroutine[Any, Any, None], *, interruptible: bool = True) -> None:
        """Keep a task of the pool's; :meth:`close` cancels the interruptible ones (jobs and
        starts) and waits for them all (a worker being stopped, a file being removed)."""
        task = asyncio.get_running_loop().create_task(work)
        for keeper in (self._tasks, self._interruptible) if interruptible else (self._tasks,):
            keeper.add(task)
            task.add_done_callback(keeper.discard)

    # ---------------------------------------------------------------- life cycle
    def warm_up(self) -> None:
        """Start the workers in the background, one after another (nothing waits for them)."""
        self._spawn(self._warm_up())

    async def _warm_up(self) -> None:
        while not self._closed and self._count() < self.size:
            self._starting += 1
            if not await self._start_worker():
                return

    async def _add_worker(self) -> None:
        await self._start_worker()

    async def _start_worker(self) -> bool:
        """Start a worker (counted in ``_starting`` by the caller) and give it work."""
        try:
            worker = await _Worker.start(self._settings.data_dir)
        except OSError as exc:
            self._starting -= 1
            logger.warning("an engine worker could not start: %s", exc)
            # Say so to the job whose turn it is, rather than let every job wait for ever.
            waiting = self._queue.pop()
            if waiting is not None and not waiting.reply.done():
                waiting.reply.set_exception(EngineError(f"no engine worker could start: {exc}"))
            self._pump()  # the next job in turn tries again (and hears why, if it fails too)
            return False
        except BaseException:
            self._starting -= 1
            raise
        self._starting -= 1
        self._idle.append(worker)
        self._pump()
        return True

    async def close(self) -> None:
        """Stop every worker; jobs still waiting are cancelled, running ones killed."""
        self._closed = True
        while (waiting := self._queue.pop()) is not None:
            waiting.reply.cancel()
        for task in list(self._interruptible):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        idle, self._idle = self._idle, []
        await asyncio.gather(*(worker.stop() for worker in idle))

    # ---------------------------------------------------------------- jobs
    async def run(self, owner: JobOwner, job: JobSpec, *, output_bytes: int) -> JobResult:
        """Run ``job`` for ``owner`` when its turn comes; its result once its output is written.

        Raises:
            LimitExceeded: the job passed a limit (its CPU, memory or wall-clock time, or
                ``output_bytes``), or the document a story limit.
            DocumentError: the document cannot be read.
            EngineError: the engine failed, the disk is full, or the worker died.
        """
        if self._closed:
            raise EngineError("the engine workers have been shut down")
        limits = JobLimits(
            cpu_seconds=self._settings.cpu_seconds,
            memory_bytes=self._settings.memory_bytes,
            output_bytes=output_bytes,
        )
        request = JobRequest(id=next(self._ids), job=job, limits=limits)
        waiting = _Waiting(request, asyncio.get_running_loop().create_future())
        self._queue.push(owner, waiting)
        self._pump()
        try:
            reply = await waiting.reply
        except asyncio.CancelledError:
            self._queue.remove(waiting)  # a job already running finishes; see _deliver
            raise
        return _outcome(reply)

    def _pump(self) -> None:
        """Give waiting jobs to idle workers; start workers (up to ``size``) for the rest. A job
        waits for whichever worker is free first, not for the one started for it."""
        while len(self._queue) and not self._closed:
            if self._idle:
                worker = self._idle.pop()
                if not worker.alive:  # it died while idle (killed from outside): not for a job
                    logger.warning("idle engine worker %d had stopped", worker.pid)
                    self._spawn(worker.stop(), interruptible=False)
                    continue
                waiting = self._queue.pop()
                assert waiting is not None
                self._busy += 1
                self._spawn(self._execute(worker, waiting))
            elif self._count() < self.size and self._starting < len(self._queue):
                self._starting += 1
                self._spawn(self._add_worker())
            else:
                return

    async def _execute(self, worker: _Worker, waiting: _Waiting) -> None:
        """Run one job on ``worker`` (counted in ``_busy`` by :meth:`_pump`)."""
        try:
            await self._ask(worker, waiting)
        finally:
            if not self._closed:
                self._pump()

    async def _ask(self, worker: _Worker, waiting: _Waiting) -> None:
        try:
            reply = await worker.ask(waiting.request, self._settings.wall_seconds)
        except _WorkerLost as lost:
            logger.warning("engine worker %d lost: %s", worker.pid, lost)
            reply = JobReply(id=waiting.request.id, failure=lost.failure, retire=True)
            await asyncio.to_thread(self._output(waiting).unlink, missing_ok=True)
        except asyncio.CancelledError:  # the pool is closing: stop the job, drop its file
            await worker.kill()
            self._output(waiting).unlink(missing_ok=True)
            waiting.reply.cancel()
            raise
        finally:
            self._busy -= 1
        if reply.retire:
            self._spawn(worker.stop(), interruptible=False)
        else:
            self._idle.append(worker)
        self._deliver(waiting, reply)

    def _output(self, waiting: _Waiting) -> Path:
        return self._settings.data_dir / waiting.request.job.output

    def _deliver(self, waiting: _Waiting, reply: JobReply) -> None:
        if not waiting.reply.done():
            waiting.reply.set_result(reply)
        elif reply.result is not None:
            # Nobody wants it any more (its story stopped): leave no unrecorded file behind.
            remove = asyncio.to_thread(self._output(waiting).unlink, missing_ok=True)
            self._spawn(remove, interruptible=False)
