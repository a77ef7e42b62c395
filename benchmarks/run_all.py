"""Run every benchmark, print one table, and write ``benchmarks/RESULTS.md``.

    python -m benchmarks [--quick] [--only NAME ...] [--output PATH]

Each module runs in a process of its own (``python -m benchmarks.<name> --json``), so no
benchmark's memory or event loop is another's. A full run writes ``benchmarks/RESULTS.md``; a
``--quick`` run (small sizes, a smoke check) writes nothing unless ``--output`` is given.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.report import Row, format_table, rows_from_json

__all__ = ["MODULES", "Outcome", "main", "run_module"]

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
MODULES = (
    "tracker_ingest",
    "socket_path",
    "emit_latency",
    "upload_memory",
    "drawing",
    "scale",
    "server_batch",
    "fairness",
    "engines_bench",
    "page_open",
)
"""In the order of the issue's list; ``drawing`` (the widgets' redraws) runs when it exists."""
TIMEOUT = 3600.0


@dataclass(slots=True)
class Outcome:
    """What one module gave: its rows, or why it gave none, and its raw output if unparsed."""

    name: str
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    failure: str = ""
    raw_output: str = ""


def _command(name: str, quick: bool) -> list[str]:
    return [sys.executable, "-m", f"benchmarks.{name}", "--json", *(["--quick"] if quick else [])]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def run_module(name: str, quick: bool) -> Outcome:
    """Run one module and read its rows; a module that follows no convention is kept raw."""
    started = time.perf_counter()
    done = _run(_command(name, quick))
    if done.returncode == 2 and "unrecognized arguments" in done.stderr and quick:
        done = _run(_command(name, quick=False))  # a module without --quick: its one size
    outcome = Outcome(name, seconds=time.perf_counter() - started)
    if done.returncode != 0:
        outcome.failure = f"exit {done.returncode}: {_tail(done.stderr)}"
        return outcome
    try:
        outcome.rows = rows_from_json(done.stdout)
    except (ValueError, TypeError) as exc:
        outcome.failure = f"printed no rows ({exc}); its output is kept below"
        outcome.raw_output = done.stdout.strip()
    return outcome


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# ---------------------------------------------------------------- the report
def machine() -> dict[str, str]:
    """CPU model, cores, memory, Python and OS of this machine."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    os_name = platform.platform()
    release = Path("/etc/os-release")
    if release.exists():
        pretty = [ln for ln in release.read_text().splitlines() if ln.startswith("PRETTY_NAME=")]
        if pretty:
            os_name = f"{pretty[0].split('=', 1)[1].strip(chr(34))} ({os_name})"
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{total_kib / 1024 / 1024:.1f} GiB",
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "OS": os_name,
    }


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def results_markdown(
    outcomes: list[Outcome], *, command: str, started: datetime, loads: tuple[str, str]
) -> str:
    rows = [row for outcome in outcomes for row in outcome.rows]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{command}` on {started:%Y-%m-%d %H:%M} UTC "
        f"(load average {loads[0]} at the start, {loads[1]} at the end, the benchmarks' own "
        "servers and clients included: absolute figures depend on what else shares the cores; "
        "each ratio's two sides ran in the same process, close in time).",
        "",
        *(f"- **{key}**: {value}" for key, value in machine().items()),
        "",
        format_table(rows, markdown=True),
        "",
    ]
    lines += _notes(rows) + _missed(rows) + _failures(outcomes) + SETUP
    return "\n".join(lines)


SETUP = [
    "## Setup",
    "",
    "- Every reference server ran in a child process of its own: `start_embedded_server` in a "
    "spawned process driven over a pipe (`benchmarks/reference.py`, so that the launcher's "
    "`emit_burst` hook is available), or `batchkit serve` for `server_batch` and `fairness` "
    "(a fresh one per scenario, warmed up by a small batch); pace 0.",
    "- The socket and latency bursts go into the room of a real story of the benchmark user's "
    "(a batch made with auto mode off), through the server's normal emit path.",
    "- Scale: story-only batches (auto mode on, images and audio off), each client workload in "
    "a fresh process, with a live `progress_view` on every run.",
    "- How each figure is measured: the docstring of each `benchmarks/<name>.py` and "
    "`benchmarks/README.md`.",
    "",
]


def _notes(rows: list[Row]) -> list[str]:
    noted = [row for row in rows if row.note]
    if not noted:
        return []
    return ["## Notes", "", *(f"- {row.benchmark}: {row.note}" for row in noted), ""]


def _missed(rows: list[Row]) -> list[str]:
    missed = [row for row in rows if row.met is False]
    if not missed:
        return ["## Goals", "", "Every goal was met in this run.", ""]
    lines = ["## Goals missed: why, and what would reach them", ""]
    lines += [
        f"- **{row.benchmark}** ({row.goal}): {row.remedy or 'no analysis'}" for row in missed
    ]
    return [*lines, ""]


def _failures(outcomes: list[Outcome]) -> list[str]:
    lines: list[str] = []
    for outcome in outcomes:
        if outcome.failure:
            lines += [f"## `{outcome.name}` gave no rows", "", "```", outcome.failure, "```", ""]
        if outcome.raw_output:
            lines += ["Its output:", "", "```", outcome.raw_output, "```", ""]
    return lines


# ---------------------------------------------------------------- the command line
def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check")
    parser.add_argument("--only", nargs="+", choices=MODULES, metavar="NAME", help="these only")
    parser.add_argument("--output", type=Path, help="where to write the results (Markdown)")
    args = parser.parse_args(arguments)
    output = args.output or (None if args.quick else HERE / "RESULTS.md")
    started, first_load = datetime.now(UTC), load_average()
    outcomes = []
    for name in args.only or MODULES:
        if not (HERE / f"{name}.py").exists():
            print(f"{name}: absent, skipped", file=sys.stderr)
            continue
        print(f"{name} …", end=" ", file=sys.stderr, flush=True)
        outcomes.append(outcome := run_module(name, args.quick))
        print(f"{outcome.seconds:.0f} s{'  FAILED' if outcome.failure else ''}", file=sys.stderr)
    rows = [row for outcome in outcomes for row in outcome.rows]
    print(format_table(rows))
    for outcome in outcomes:
        if outcome.failure:
            print(f"\n{outcome.name} gave no rows: {outcome.failure}")
    if output is not None:
        command = " ".join(["python -m benchmarks", *arguments])
        text = results_markdown(
            outcomes, command=command, started=started, loads=(first_load, load_average())
        )
        output.write_text(text, encoding="utf-8")
        print(f"\nwritten to {output}")
    return 1 if any(outcome.failure for outcome in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
