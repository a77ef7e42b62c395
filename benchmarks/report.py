"""The convention every benchmark follows, and the one table they all print into.

A benchmark module ``benchmarks/<name>.py`` exposes ``run(quick: bool) -> list[Row]`` and ends
with ``raise SystemExit(main(run, __doc__))``-style plumbing from :func:`main`, so that

    python -m benchmarks.<name> [--quick] [--json]

prints its rows as a table, or (``--json``) as one line of JSON on stdout: ``{"rows": [...]}``,
each row a :class:`Row` as a dict. ``python -m benchmarks`` runs every module that way, each in
its own process (so memory figures are never another benchmark's), and gathers the rows.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "MIB",
    "Row",
    "at_least",
    "at_most",
    "child_pids",
    "format_table",
    "lower_median",
    "main",
    "rows_from_json",
    "rss_mib",
    "rss_peak_mib",
    "tree_cpu_seconds",
    "tree_wait_seconds",
]

MIB = 1024 * 1024
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Row:
    """One measured figure, its baseline from the same run, and the goal it is held to.

    ``met`` is None when the row has no goal (a figure shown for context). ``remedy`` says, for
    a missed goal, why it was missed and what would reach it.
    """

    benchmark: str
    measured: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    goal: str = ""
    met: bool | None = None
    note: str = ""
    remedy: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline or math.isnan(self.measured):
            return None
        return self.measured / self.baseline

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def at_least(value: float, goal: float) -> bool:
    return value >= goal


def at_most(value: float, goal: float) -> bool:
    return value <= goal


def lower_median(items: Sequence[_T], key: Callable[[_T], float]) -> _T:
    """The item whose ``key`` is the median: the lower of the middle two, so that the figures a
    row shows are those of one measured item (a round of a paired measurement), not a mean."""
    return sorted(items, key=key)[(len(items) - 1) // 2]


def rows_from_json(text: str) -> list[Row]:
    """The rows a module printed with ``--json`` (the last line of ``text`` that parses)."""
    for line in reversed(text.strip().splitlines()):
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        items = data.get("rows", data) if isinstance(data, dict) else data
        if isinstance(items, list):
            return [_row(item) for item in items if isinstance(item, dict)]
    raise ValueError("no JSON rows in the output")


def _row(item: dict[str, Any]) -> Row:
    known = {f.name for f in fields(Row)}
    values = {key: value for key, value in item.items() if key in known}
    values.setdefault("benchmark", str(item.get("name", "?")))
    values.setdefault("unit", "")
    measured = values.get("measured", item.get("value"))
    values["measured"] = float("nan") if measured is None else float(measured)
    return Row(**values)


# ---------------------------------------------------------------- formatting
def number(value: float | None, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "–"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def _cells(row: Row) -> list[str]:
    ratio = row.ratio
    met = {True: "yes", False: "NO", None: ""}[row.met]
    baseline = number(row.baseline, row.unit) if row.baseline is not None else ""
    if row.baseline_label and baseline:
        baseline = f"{baseline} ({row.baseline_label})"
    return [
        row.benchmark,
        number(row.measured, row.unit),
        baseline,
        "" if ratio is None else f"{ratio:.3g}",
        row.goal,
        met,
    ]


HEADERS = ["benchmark", "measured", "baseline", "ratio", "goal", "met?"]


def format_table(rows: Iterable[Row], *, markdown: bool = False) -> str:
    """The rows as a fixed-width text table, or as a Markdown table."""
    body = [_cells(row) for row in rows]
    if markdown:
        lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(c[i]) for c in body)) for i, h in enumerate(HEADERS)]
    out = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in body]
    return "\n".join(line.rstrip() for line in out)


# ---------------------------------------------------------------- memory
def rss_mib() -> float:
    """This process's resident memory now (Linux ``/proc/self/statm``), in MiB."""
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * resource.getpagesize() / MIB


def rss_peak_mib(pid: int | str = "self") -> float:
    """A process's peak resident memory so far (Linux ``VmHWM``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc: this needs Linux")


# ---------------------------------------------------------------- CPU
def child_pids(pid: int) -> list[int]:
    """The live children of a process (Linux ``/proc/<pid>/task/*/children``)."""
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(child) for child in (task / "children").read_text().split()]
    return pids


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process, its children that ended and were waited for, and
    its live children (an engine server's workers), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")

    def fields(of: int) -> list[str]:
        return Path(f"/proc/{of}/stat").read_text().rsplit(")", 1)[1].split()

    own = fields(pid)
    total = sum(int(value) for value in own[11:15])  # utime, stime, cutime, cstime
    for child in child_pids(pid):
        try:
            total += sum(int(value) for value in fields(child)[11:13])
        except FileNotFoundError:  # it ended meanwhile: its time is in cutime next time
            continue
    return total / ticks


def tree_wait_seconds(pid: int) -> float:
    """Seconds the threads of a process and of its live children spent ready to run but waiting
    for a core (Linux ``schedstat``): what others' load on a shared machine cost them."""
    waited = 0
    for process in (pid, *child_pids(pid)):
        try:
            for task in Path(f"/proc/{process}/task").iterdir():
                waited += int((task / "schedstat").read_text().split()[1])
        except FileNotFoundError:  # it ended meanwhile
            continue
    return waited / 1e9


# ---------------------------------------------------------------- the command line
def main(
    run: Callable[[bool], list[Row]], doc: str | None, argv: Sequence[str] | None = None
) -> int:
    """``--quick`` (small sizes) and ``--json`` (rows for the runner) around ``run``."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON line")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = run(args.quick)
    if args.json:
        print(json.dumps({"rows": [row.to_json() for row in rows]}))
    else:
        print(format_table(rows))
        print(f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return 0
