"""Many batches followed at once in one process: the client's CPU, memory and redraw cost.

    python -m benchmarks.scale [--quick] [--json]

One reference server runs in a child process (pace 0, 2 workers) with **story-only** batches
(auto mode on, images and audio off): every file still goes through a real pipeline step and
sends its events, but the server's work per file is small, so the client is what is measured.
Each workload runs in a fresh client process of its own (so its memory is its own):

* baseline: one batch of 10 files, one :class:`~batchkit.session.BatchSession`;
* 100 sessions × 10 files: 100 BatchSessions on one StoryClient (100 sockets), 1,000 files;
* one session × 1,000 files: BatchSession sends them as 100 batches of 10, one 1,000-row run.

Every run gets a live ``batchkit.widgets.progress_view`` when the widgets import (the work a
notebook would do while it follows), else none. Measured: wall time, the client's CPU time
(its share of the wall time, and per file), its resident memory growth (``VmHWM`` minus the
RSS just before the batches start), and the cost of one redraw of the largest run: a fresh
``run.snapshot()`` plus ``ProgressView.show`` of it (or a plain-text table of every row when
the widgets are missing).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from batchkit.client import StoryClient
from batchkit.config import BatchConfig
from batchkit.session import BatchSession
from batchkit.tracker import BatchRun, RunSnapshot
from benchmarks.reference import PASSWORD, USER, ChildServer, write_texts
from benchmarks.report import Row, at_most, main, rss_mib, rss_peak_mib

__all__ = ["Workload", "run"]

STORY_ONLY = BatchConfig(generate_images=False, generate_audio=False, merge_audio=False)
REDRAW_BUDGET_MS = 100.0
"""A view drawn at most 10 times a second must draw in well under 100 ms."""


@dataclass(frozen=True, slots=True)
class Workload:
    sessions: int
    files_each: int

    @property
    def files(self) -> int:
        return self.sessions * self.files_each

    @property
    def label(self) -> str:
        if self.sessions == 1:
            return f"1 session × {self.files:,} files ({-(-self.files // 10)} batches)"
        return f"{self.sessions} sessions × {self.files_each} files"


@dataclass(frozen=True, slots=True)
class Measures:
    wall_s: float
    cpu_s: float
    growth_mib: float
    redraw_ms: float
    snapshot_ms: float
    rows: int
    drawn_by: str

    @property
    def cpu_share(self) -> float:
        return self.cpu_s / self.wall_s

    def cpu_ms_per_file(self, files: int) -> float:
        return self.cpu_s / files * 1000


def _drawer() -> tuple[str, Callable[[BatchRun], Callable[[RunSnapshot], object]]]:
    """How a run is drawn: a progress_view when the widgets import, else a text table."""
    try:
        from batchkit.widgets import progress_view
    except ImportError:
        return "text table", lambda _run: _text_table
    return "progress_view", lambda run: progress_view(run).show


def _text_table(snapshot: RunSnapshot) -> str:
    return "\n".join(
        f"{row.name[:40]:<40} {row.status:<10} {row.step or ''} {row.error or ''}"
        for row in snapshot.files
    )


def redraw_cost(run: BatchRun, draw: Callable[[RunSnapshot], object]) -> tuple[float, float]:
    """Median ms of a fresh snapshot, and of snapshot + drawing it (five rounds)."""
    snapshots, redraws = [], []
    for round_ in range(5):
        # A later "now" changes the snapshot (elapsed times), so neither cache can answer.
        run.tick(datetime.now(UTC) + timedelta(seconds=round_ + 1))
        started = time.perf_counter()
        snapshot = run.snapshot()
        taken = time.perf_counter()
        draw(snapshot)
        snapshots.append((taken - started) * 1000)
        redraws.append((time.perf_counter() - started) * 1000)
    return statistics.median(snapshots), statistics.median(redraws)


async def follow(url: str, folder: Path, work: Workload) -> Measures:
    documents = write_texts(folder, work.files, 200)
    drawn_by, make_drawer = _drawer()
    async with StoryClient(url, username=USER, password=PASSWORD, env={}) as client:
        await client.options()  # log in and warm the connection before measuring
        before, wall, cpu = rss_mib(), time.perf_counter(), time.process_time()
        sessions = [BatchSession(client) for _ in range(work.sessions)]
        runs = [
            await session.start(
                documents[i * work.files_each : (i + 1) * work.files_each], STORY_ONLY
            )
            for i, session in enumerate(sessions)
        ]
        drawers = [make_drawer(run) for run in runs]
        await asyncio.gather(*(session.wait() for session in sessions))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        growth = rss_peak_mib() - before
    completed = sum(run.snapshot().completed for run in runs)
    if completed != work.files:
        raise AssertionError(f"{completed} of {work.files} files completed")
    snapshot_ms, redraw_ms = redraw_cost(runs[0], drawers[0])
    return Measures(wall, cpu, growth, redraw_ms, snapshot_ms, len(runs[0].files), drawn_by)


def _client(pipe: Connection, url: str, folder: str, work: Workload) -> None:
    """A fresh client process: follow ``work`` and send back what it measured."""
    try:
        pipe.send(asdict(asyncio.run(follow(url, Path(folder), work))))
    except BaseException as exc:
        pipe.send({"error": repr(exc)})
        raise


def measure(url: str, folder: Path, work: Workload) -> Measures:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_client, args=(theirs, url, str(folder), work))
    child.start()
    try:
        if not ours.poll(1800):
            raise RuntimeError(f"{work.label} did not finish in 30 minutes")
        result: dict[str, Any] = ours.recv()
    finally:
        child.join(60)
    if "error" in result:
        raise RuntimeError(f"{work.label} failed: {result['error']}")
    return Measures(**result)


def run(quick: bool) -> list[Row]:
    wide = 100 if quick else 1_000
    baseline_work = Workload(1, 10)
    workloads = [Workload(wide // 10, 10), Workload(1, wide)]
    # One user's 1,000 files at once are past the server's per-user limits (100 stories in
    # flight, 30 batches a minute): refused by design, and not what this measures (the client).
    allowance = {"max_user_stories_in_flight": wide, "max_user_batches_per_minute": wide}
    with (
        tempfile.TemporaryDirectory(prefix="batchkit-bench-") as folder,
        ChildServer(**allowance) as server,
    ):
        base = Path(folder)
        baseline = measure(server.url, base / "baseline", baseline_work)
        results = [measure(server.url, base / f"work{i}", w) for i, w in enumerate(workloads)]
    rows: list[Row] = []
    for work, result in zip(workloads, results, strict=True):
        rows += _rows(work, result, baseline, baseline_work)
    rows.append(_redraw_row(workloads[-1], results[-1], baseline))
    return rows


def _rows(work: Workload, result: Measures, baseline: Measures, base: Workload) -> list[Row]:
    label = f"5 scale: {work.label}"
    return [
        Row(
            f"{label}: client CPU per file",
            result.cpu_ms_per_file(work.files),
            "ms",
            baseline=baseline.cpu_ms_per_file(base.files),
            baseline_label="1 batch of 10",
            note=f"CPU share {result.cpu_share:.0%} of {result.wall_s:.1f} s wall "
            f"(1 batch: {baseline.cpu_share:.0%} of {baseline.wall_s:.1f} s)",
        ),
        Row(
            f"{label}: client memory growth",
            result.growth_mib,
            "MiB",
            baseline=baseline.growth_mib,
            baseline_label="1 batch of 10",
            note=f"views: {result.drawn_by}",
        ),
    ]


def _redraw_row(work: Workload, result: Measures, baseline: Measures) -> Row:
    return Row(
        f"5 scale: redraw of a {result.rows:,}-row run ({result.drawn_by})",
        result.redraw_ms,
        "ms",
        baseline=baseline.redraw_ms,
        baseline_label=f"{baseline.rows} rows",
        goal=f"≤ {REDRAW_BUDGET_MS:.0f} ms (10 redraws/s)",
        met=at_most(result.redraw_ms, REDRAW_BUDGET_MS),
        note=f"of which run.snapshot() {result.snapshot_ms:.1f} ms; {work.label}",
        remedy="drawing every row each time: draw only the rows that changed, or page the "
        "table (a view shows a screenful, not 1,000 rows).",
    )


if __name__ == "__main__":
    raise SystemExit(main(run, __doc__))
