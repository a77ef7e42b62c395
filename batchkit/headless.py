"""``batchkit run``: a batch from the terminal, with live progress and the run saved at the end.

Every argument is checked before any server starts or is called: the files exist, the preset
loads and names only files given, the flags go together. The run is saved where the Python API
saves it, ``<out>/<run id>/`` (see :class:`~batchkit.session.BatchSession`), and that folder is
printed when the run starts, since its ``events.jsonl`` is written as events arrive.

Exit status: 0 when every file completed, 1 when any failed, 2 on a usage or connection error
(the server refusing our credentials included). It exits only once every file's steps are
confirmed by the server or failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from batchkit.client import ClientSettings
from batchkit.config import BatchConfig
from batchkit.errors import (
    APIError,
    AuthError,
    BatchkitError,
    ConfigError,
    FileRejected,
    InputError,
    TransportError,
)
from batchkit.files import Document
from batchkit.session import BatchSession, FollowOptions, open_service
from batchkit.tracker import BatchRun, RunSnapshot

__all__ = ["FLAGS", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
TABLE_COLUMNS = ["name", "batch_id", "status", "attempt", "elapsed_s", "error"]
"""The final table's columns; each enabled step's ``<step>_status`` goes after ``status``."""
_REDRAW_SECONDS = 0.25
_LOGIN_FLAGS = ("username", "password", "token")
FLAGS: Final[Mapping[str, str]] = {
    "base_url": "--url", "username": "--username", "password": "--password", "token": "--token",
    "profile": "--profile", "poll": "--poll", "out": "--out", "config": "--config",
}  # fmt: skip
"""The flag of each setting a :class:`ConfigError` can name (see ``ConfigError.worded``)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchkit run",
        description="Run documents through a Story API (the embedded reference server when no "
        "--url is given), show live progress, and save the run.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help=".txt, .doc, .docx")
    parser.add_argument(
        "--url", dest="base_url", metavar="URL",
        help="the Story API (default: $BATCHKIT_URL, else an embedded reference server)",
    )  # fmt: skip
    parser.add_argument("--username", help="with --url (default: $BATCHKIT_USERNAME)")
    parser.add_argument("--password", help="with --url (default: $BATCHKIT_PASSWORD)")
    parser.add_argument(
        "--token", help="with --url, an access token instead of a password "
        "(default: $BATCHKIT_TOKEN)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", choices=["reference", "production"],
        help="how the server behaves (default: $BATCHKIT_PROFILE, else reference)",
    )  # fmt: skip
    parser.add_argument(
        "--config", type=Path, help="a BatchConfig preset, JSON (default: batchkit's defaults)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("runs"),
        help="where the run's folder is made (default: %(default)s/)",
    )  # fmt: skip
    parser.add_argument(
        "--poll", type=float, default=1.0,
        help="seconds between REST checks while events are missing (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no live progress (default: shown)")
    return parser


@dataclass(frozen=True, slots=True)
class _Request:
    """What the arguments ask for, checked."""

    documents: list[Document]
    config: BatchConfig


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``batchkit run``; ``argv`` excludes the word ``run``."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a usage error and 0 on --help
        return int(exc.code or 0)
    try:
        request = _check(args, os.environ)
    except InputError as exc:
        return _usage_error(exc)
    try:
        return asyncio.run(_run(args, request))
    except KeyboardInterrupt:
        print("\nbatchkit run: interrupted; the server's batches go on", file=sys.stderr)
        return EXIT_FAILED


def _usage_error(exc: BatchkitError) -> int:
    """Say what was wrong, naming settings by their flags; the usage exit status."""
    message = exc.worded(FLAGS) if isinstance(exc, ConfigError) else str(exc)
    print(f"batchkit run: {message}", file=sys.stderr)
    return EXIT_USAGE


def _check(args: argparse.Namespace, env: Mapping[str, str]) -> _Request:
    """Everything the arguments say, checked before any server is started or called."""
    if args.password is not None and args.token is not None:
        raise ConfigError("give {password} or {token}, not both", mentions=("password", "token"))
    if not (math.isfinite(args.poll) and args.poll > 0):
        raise ConfigError(f"{args.poll} is not a number of seconds > 0", field="poll")
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"{args.out} is a file, not a folder", field="out")
    if args.base_url is not None or env.get("BATCHKIT_URL"):
        ClientSettings.resolve(  # raises what open_service would, without a connection
            args.base_url, token=args.token, username=args.username, password=args.password,
            profile=args.profile, upload_path=None, env=env,
        )  # fmt: skip
    else:
        _check_embedded(args)
    documents = [_document(path) for path in args.files]
    try:
        config = BatchConfig.load(args.config) if args.config else BatchConfig()
        config.check_files(document.name for document in documents)
    except ConfigError as exc:
        raise ConfigError(str(exc), field="config") from None
    return _Request(documents, config)


def _check_embedded(args: argparse.Namespace) -> None:
    """The flags that mean nothing to the embedded server are refused, not ignored."""
    for name in _LOGIN_FLAGS:
        if getattr(args, name) is not None:
            raise ConfigError(
                "only with {base_url} (or BATCHKIT_URL): the embedded server makes its own login",
                field=name,
                mentions=("base_url",),
            )
    if args.profile == "production":
        raise ConfigError(
            "production needs {base_url} (or BATCHKIT_URL): the embedded server is a reference one",
            field="profile",
            mentions=("base_url",),
        )


def _document(path: Path) -> Document:
    """The file at ``path``, or a :class:`FileRejected` naming it as it was typed."""
    if not path.exists():
        raise FileRejected(str(path), "no such file")
    try:
        return Document.from_path(path)
    except FileRejected as exc:
        raise FileRejected(str(path), exc.reason) from None


async def _run(args: argparse.Namespace, request: _Request) -> int:
    try:
        service = await open_service(
            args.base_url,
            username=args.username,
            password=args.password,
            token=args.token,
            profile=args.profile,
        )
    except (InputError, TransportError, APIError) as exc:
        return _usage_error(exc)
    async with service:
        session = BatchSession(
            service.client, follow=FollowOptions(poll_interval=args.poll), runs_dir=args.out
        )
        try:
            run = await session.start(request.documents, request.config)
        except BatchkitError as exc:
            return _usage_error(exc)
        where = "the embedded reference server" if service.embedded else service.url
        count = len(request.documents)
        print(
            f"batchkit run: {count} file{'s' if count != 1 else ''} on {where}; "
            f"run {run.run_id}, saved in {session.run_dir}",
            flush=True,
        )
        display = None if args.quiet else TerminalProgress(run, sys.stdout)
        stopped: BatchkitError | None = None
        try:
            await session.wait()
        except BatchkitError as exc:  # the run was saved, its unfinished files say why
            stopped = exc
        finally:
            if display is not None:
                await display.close()
    print(_table(run))
    snapshot = run.snapshot()
    for note in snapshot.notes:
        print(f"note: {note}")
    print(
        f"batchkit run: {snapshot.completed} of {snapshot.total} completed, "
        f"{snapshot.failed} failed; saved in {session.run_dir}"
    )
    if stopped is not None:
        print(f"batchkit run: stopped: {stopped}", file=sys.stderr)
        return EXIT_USAGE if isinstance(stopped, AuthError) else EXIT_FAILED
    return EXIT_OK if snapshot.completed == snapshot.total else EXIT_FAILED


def _table(run: BatchRun) -> str:
    """The per-file table as text, each enabled step's status included: seconds to a tenth,
    nothing shown for what is missing."""
    steps = [f"{step}_status" for step in run.steps]
    frame = run.files[[*TABLE_COLUMNS[:3], *steps, *TABLE_COLUMNS[3:]]].copy()
    frame["elapsed_s"] = frame["elapsed_s"].round(1)
    return str(frame.astype(object).fillna("").to_string(index=False))


class TerminalProgress:
    """Draws a run's progress on a terminal at most four times a second, and its final state.

    The run is never drawn from inside its own fold: a subscriber only marks it dirty, and one
    task draws the latest snapshot (the same model/view split the notebook widgets use).
    """

    def __init__(self, run: BatchRun, out: TextIO) -> None:
        self._run = run
        self._out = out
        self._tty = out.isatty() and os.environ.get("TERM") != "dumb"
        self._drawn_lines = 0
        self._last_status: dict[int, str] = {}
        self._dirty = asyncio.Event()
        self._unsubscribe = run.subscribe(lambda _run: self._dirty.set())
        self._task = asyncio.create_task(self._draw_loop(), name="batchkit-terminal")

    async def _draw_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            self.draw(self._run.snapshot())
            await asyncio.sleep(_REDRAW_SECONDS)  # the throttle, not a synchronisation

    async def close(self) -> None:
        self._unsubscribe()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.draw(self._run.snapshot())  # the final state, always

    def draw(self, snapshot: RunSnapshot) -> None:
        if self._tty:
            self._draw_block(snapshot)
        else:
            self._draw_changes(snapshot)
        self._out.flush()

    def _draw_block(self, snapshot: RunSnapshot) -> None:
        lines = [_summary(snapshot)]
        for row in snapshot.files:
            step = f"{row.step} {row.step_progress or 0:.0%}" if row.step else ""
            lines.append(f"  {row.name[:40]:<40} {row.status:<10} {step:<16} {row.error or ''}")
        width = shutil.get_terminal_size().columns
        if self._drawn_lines:
            self._out.write(f"\x1b[{self._drawn_lines}F")
        self._out.write("".join(f"{line[:width]}\x1b[K\n" for line in lines))
        self._drawn_lines = len(lines)

    def _draw_changes(self, snapshot: RunSnapshot) -> None:
        for row in snapshot.files:
            if self._last_status.get(row.index) != row.status:
                self._last_status[row.index] = row.status
                detail = f": {row.error}" if row.error else ""
                self._out.write(f"{row.name}: {row.status}{detail}\n")


def _summary(snapshot: RunSnapshot) -> str:
    if snapshot.all_done:
        when = f", done in {snapshot.elapsed_s:.1f} s"
    else:
        when = f", about {snapshot.eta_s:.0f} s left" if snapshot.eta_s is not None else ""
    return (
        f"{snapshot.progress:6.1%}  {snapshot.completed} completed, {snapshot.failed} failed, "
        f"{snapshot.total} in all{when}"
    )
