"""``batchkit run``: a batch from the terminal, with live progress and the run saved at the end.

Exit status: 0 when every file completed, 1 when any failed, 2 on a usage or connection error
(the server refusing our credentials included). It exits only once every file's steps are
confirmed by the server or failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from batchkit.config import BatchConfig
from batchkit.errors import APIError, AuthError, BatchkitError, InputError, TransportError
from batchkit.session import BatchSession, FollowOptions, open_service
from batchkit.tracker import BatchRun, RunSnapshot

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
TABLE_COLUMNS = ["name", "batch_id", "status", "attempt", "elapsed_s", "error"]
"""The final table's columns; each enabled step's ``<step>_status`` goes after ``status``."""
_REDRAW_SECONDS = 0.25


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchkit run",
        description="Run documents through a Story API (the embedded reference server when no "
        "--url is given), show live progress, and save the run.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help=".txt, .doc, .docx")
    parser.add_argument("--url", help="the Story API (default: $BATCHKIT_URL, else embedded)")
    parser.add_argument("--username", help="default: $BATCHKIT_USERNAME")
    parser.add_argument("--password", help="default: $BATCHKIT_PASSWORD")
    parser.add_argument("--token", help="an access token instead of a password")
    parser.add_argument("--profile", choices=["reference", "production"], default=None)
    parser.add_argument("--config", type=Path, help="a BatchConfig preset (JSON)")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="default: runs/")
    parser.add_argument("--poll", type=float, default=1.0, help="REST poll interval, seconds")
    parser.add_argument("--quiet", action="store_true", help="no live progress")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``batchkit run``; ``argv`` excludes the word ``run``."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a usage error and 0 on --help
        return int(exc.code or 0)
    if args.password and args.token:
        print("batchkit run: give --password or --token, not both", file=sys.stderr)
        return EXIT_USAGE
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        print("\nbatchkit run: interrupted; the server's batches go on", file=sys.stderr)
        return EXIT_FAILED


async def _run(args: argparse.Namespace) -> int:
    try:
        config = BatchConfig.load(args.config) if args.config else BatchConfig()
        service = await open_service(
            args.url,
            username=args.username,
            password=args.password,
            token=args.token,
            profile=args.profile,
        )
    except (InputError, TransportError, APIError) as exc:
        print(f"batchkit run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    async with service:
        where = "the embedded reference server" if service.embedded else service.url
        print(f"batchkit run: {len(args.files)} file(s) on {where}", flush=True)
        session = BatchSession(
            service.client, follow=FollowOptions(poll_interval=args.poll), runs_dir=args.out
        )
        try:
            run = await session.start(args.files, config)
        except BatchkitError as exc:
            print(f"batchkit run: {exc}", file=sys.stderr)
            return EXIT_USAGE
        display = None if args.quiet else TerminalProgress(run, sys.stdout)
        stopped: BatchkitError | None = None
        try:
            await session.wait()
        except BatchkitError as exc:  # the run was saved, its unfinished files say why
            stopped = exc
        finally:
            if display is not None:
                await display.close()
        out = _rename_by_batch(session.run_dir, run)
    print(_final_table(run))
    snapshot = run.snapshot()
    for note in snapshot.notes:
        print(f"note: {note}")
    print(f"saved to {out}")
    if stopped is not None:
        print(f"batchkit run: stopped: {stopped}", file=sys.stderr)
        return EXIT_USAGE if isinstance(stopped, AuthError) else EXIT_FAILED
    return EXIT_OK if snapshot.completed == snapshot.total else EXIT_FAILED


def _final_table(run: BatchRun) -> str:
    steps = [f"{step}_status" for step in run.steps]
    columns = [*TABLE_COLUMNS[:3], *steps, *TABLE_COLUMNS[3:]]
    return str(run.files[columns].astype(object).fillna("").to_string(index=False))


def _rename_by_batch(directory: Path | None, run: BatchRun) -> Path | None:
    """Move the saved run to ``<out>/<first batch id>/``; it keeps its id if no batch was made."""
    if directory is None or not run.batch_ids:
        return directory
    target = directory.with_name(run.batch_ids[0])
    if target.exists():
        shutil.rmtree(target)
    directory.rename(target)
    return target


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
    eta = f", about {snapshot.eta_s:.0f} s left" if snapshot.eta_s is not None else ""
    return (
        f"{snapshot.progress:6.1%}  {snapshot.completed} completed, {snapshot.failed} failed, "
        f"{snapshot.total} in all{eta}"
    )
