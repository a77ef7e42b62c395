"""An engine worker: ``python -m batchkit.server.worker --data-dir DIR``.

Once its engines are loaded it says :class:`~batchkit.server.jobs.WorkerReady`, then reads one
:class:`~batchkit.server.jobs.JobRequest` per line on stdin, runs it within its limits and
answers one :class:`~batchkit.server.jobs.JobReply` per line on its original stdout (what anything
else prints goes to stderr); it exits at the end of its input. It needs nothing
of the server but the data directory, so it can run wherever that directory is mounted.

Limits, per job: CPU time (``RLIMIT_CPU``, raised to this job's share before it starts; past it
the kernel ends the process with ``SIGXCPU``, even inside an engine's C code, and the pool reports
the limit), address space (``RLIMIT_AS``: allocations fail with :class:`MemoryError`) and the size
of any file written (``RLIMIT_FSIZE``: what is left of the story's media budget; writes past it
fail with ``EFBIG``). A job that ran out of memory or failed unexpectedly retires its worker: the
pool starts a fresh one rather than trust a state spoilt mid-way. The wall clock is the pool's
to watch.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import math
import os
import resource
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Final

from pydantic import ValidationError

from batchkit.errors import DocumentError, EngineError, LimitExceeded
from batchkit.server import engines
from batchkit.server.disk_space import describe_disk_full, is_disk_full
from batchkit.server.engines.chunks import count_words_up_to
from batchkit.server.jobs import (
    FailureKind,
    ImageJob,
    JobFailure,
    JobLimits,
    JobReply,
    JobRequest,
    JobResult,
    JobSpec,
    MergeJob,
    SpeechJob,
    StoryJob,
    WorkerReady,
)
from batchkit.server.work_limits import Limit, describe_bytes

__all__ = ["main", "run_job"]

_PR_SET_PDEATHSIG: Final = 1


# ---------------------------------------------------------------- the engines, by kind
def _inside(root: Path, relative: str) -> Path:
    """``root / relative``, refusing a path that could leave the data directory."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise EngineError(f"the job names a path outside the data directory: {relative!r}")
    return root.joinpath(*parts)


def _story(root: Path, job: StoryJob, output: Path) -> JobResult:
    text = engines.extract_text(_inside(root, job.source))
    words = count_words_up_to(text, job.max_words)
    if words > job.max_words:
        raise LimitExceeded(
            f"the document has more than {job.max_words:,} words once its text is extracted; "
            f"the limit is {job.max_words:,} words a story ({Limit.STORY_WORDS})",
            limit=Limit.STORY_WORDS,
        )
    content = engines.write_story(text, job.custom_prompt) if job.generate_story else text
    output.write_text(content, encoding="utf-8")
    return JobResult(
        output_bytes=0,
        cpu_seconds=0,
        original_words=words,
        generated_words=engines.word_count(content),
    )


def _image(root: Path, job: ImageJob, output: Path) -> JobResult:
    engines.render_image(job.text, style=job.style, index=job.index, prompt=job.prompt, path=output)
    return JobResult(output_bytes=0, cpu_seconds=0)


def _speech(root: Path, job: SpeechJob, output: Path) -> JobResult:
    seconds = engines.synthesize(job.text, voice=job.voice, model=job.model, path=output)
    return JobResult(output_bytes=0, cpu_seconds=0, audio_seconds=seconds)


def _merge(root: Path, job: MergeJob, output: Path) -> JobResult:
    sources = [_inside(root, source) for source in job.sources]
    return JobResult(
        output_bytes=0, cpu_seconds=0, audio_seconds=engines.merge_wavs(sources, output)
    )


def _run_engine(root: Path, job: JobSpec, output: Path) -> JobResult:
    if isinstance(job, StoryJob):
        return _story(root, job, output)
    if isinstance(job, ImageJob):
        return _image(root, job, output)
    if isinstance(job, SpeechJob):
        return _speech(root, job, output)
    return _merge(root, job, output)


# ---------------------------------------------------------------- limits
@contextmanager
def _limited(limits: JobLimits) -> Iterator[None]:
    """The job's CPU, memory and file-size limits while the block runs (soft limits only, so
    that the next job can have its own; the CPU limit counts the whole process's time, so it is
    set to what was used so far plus this job's share, in whole seconds)."""
    kinds = (resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_FSIZE)
    before = {kind: resource.getrlimit(kind) for kind in kinds}
    cpu_until = math.ceil(time.process_time() + limits.cpu_seconds)
    wanted = {
        resource.RLIMIT_CPU: cpu_until,
        resource.RLIMIT_AS: limits.memory_bytes,
        resource.RLIMIT_FSIZE: limits.output_bytes,
    }
    try:
        for kind, soft in wanted.items():
            hard = before[kind][1]
            resource.setrlimit(kind, (soft if hard < 0 else min(soft, hard), hard))
        yield
    finally:
        for kind, limit in before.items():
            resource.setrlimit(kind, limit)


# ---------------------------------------------------------------- one job
def _os_error(exc: BaseException) -> OSError | None:
    """The OSError that caused ``exc`` (engines wrap them in EngineError), if one did."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _failure(exc: BaseException, job: JobSpec, limits: JobLimits) -> JobFailure:
    """What a failed job reports: the kind of failure and a message a user can act on."""
    cause = _os_error(exc)
    if isinstance(exc, MemoryError) or (cause is not None and cause.errno == errno.ENOMEM):
        message = (
            f"{job.describe()} needed more than its {describe_bytes(limits.memory_bytes)} of "
            f"memory ({Limit.JOB_MEMORY})"
        )
        return JobFailure(kind=FailureKind.LIMIT, message=message, limit=Limit.JOB_MEMORY)
    if isinstance(exc, LimitExceeded):
        return JobFailure(kind=FailureKind.LIMIT, message=str(exc), limit=exc.limit)
    if isinstance(exc, DocumentError):
        return JobFailure(kind=FailureKind.DOCUMENT, message=str(exc))
    if is_disk_full(exc):
        message = describe_disk_full(job.describe())
        return JobFailure(kind=FailureKind.DISK_FULL, message=message)
    if cause is not None and cause.errno == errno.EFBIG:
        message = (
            f"{job.output_name} would pass what is left of the story's media budget, "
            f"{describe_bytes(limits.output_bytes)} ({Limit.MEDIA_BYTES})"
        )
        return JobFailure(kind=FailureKind.LIMIT, message=message, limit=Limit.MEDIA_BYTES)
    if isinstance(exc, EngineError):
        return JobFailure(kind=FailureKind.ENGINE, message=str(exc))
    message = f"{job.describe()} failed unexpectedly ({type(exc).__name__}: {exc})"
    return JobFailure(kind=FailureKind.ENGINE, message=message)


def run_job(root: Path, request: JobRequest) -> JobReply:
    """Run one job within its limits; its output exists afterwards only if it succeeded."""
    job = request.job
    started = time.process_time()
    output: Path | None = None
    try:
        output = _inside(root, job.output)
        with _limited(request.limits):
            result = _run_engine(root, job, output)
        values: dict[str, float] = {"output_bytes": output.stat().st_size}
    except Exception as exc:
        if output is not None:
            output.unlink(missing_ok=True)
        failure = _failure(exc, job, request.limits)
        # After a limit hit mid-way, or a surprise, this process's state cannot be trusted.
        retire = failure.limit == Limit.JOB_MEMORY or not isinstance(exc, EngineError | OSError)
        return JobReply(id=request.id, failure=failure, retire=retire)
    values["cpu_seconds"] = time.process_time() - started
    return JobReply(id=request.id, result=result.model_copy(update=values))


# ---------------------------------------------------------------- the process
def _protocol_output() -> BinaryIO:
    """The original stdout, for replies only; fd 1 then points at stderr, so that whatever a
    library prints cannot garble a reply."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return replies


def _harden() -> None:
    # The server stops its workers itself; a Ctrl-C at its terminal must not kill them first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past RLIMIT_FSIZE a write fails with EFBIG
    # SIGXCPU keeps its default action (the process ends), and leaves no core file behind.
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    if sys.platform == "linux":  # die with the server, even if it is killed with -9
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def serve(root: Path, requests: BinaryIO, replies: BinaryIO) -> int:
    """Say it is ready, then answer requests until the input ends or a job retires this worker."""
    replies.write(WorkerReady(pid=os.getpid()).model_dump_json().encode() + b"\n")
    replies.flush()
    for line in requests:
        try:
            request = JobRequest.model_validate_json(line)
        except ValidationError as exc:
            print(f"batchkit worker: refused a malformed request: {exc}", file=sys.stderr)
            return 2
        reply = run_job(root, request)
        replies.write(reply.model_dump_json().encode() + b"\n")
        replies.flush()
        if reply.retire:
            return 0
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batchkit.server.worker")
    parser.add_argument("--data-dir", type=Path, required=True, help="the server's data dir")
    args = parser.parse_args(argv)
    replies = _protocol_output()
    _harden()
    return serve(args.data_dir, sys.stdin.buffer, replies)


if __name__ == "__main__":
    raise SystemExit(main())
