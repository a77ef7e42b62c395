"""A burst of events from the reference server into the tracker, against a bare socket.io client.

    python -m benchmarks.socket_path [--quick] [--json]

The reference server runs in a child process (:class:`~benchmarks.reference.ChildServer`, pace 0).
A real batch is made first (auto mode off: only its story record, so that no pipeline sends
events of its own), and its story's room is what both clients join. The server's ``emit_burst``
hook sends ``auto-mode-progress`` events into that room as fast as it can, each numbered
(``seq``) through the server's normal emit path, to:

* baseline: a bare python-socketio ``AsyncClient`` whose handler only counts the events;
* the same bare client reading packets with the event stream's packet class
  (:class:`~batchkit.event_packets.EventPacket`, whose JSON parser costs less than
  python-engineio's): against it, what is left is batchkit's own work (its own row);
* batchkit: :class:`~batchkit.events.EventStream` (parsing, ``seq`` checks) handing the events
  in bursts to a :class:`~batchkit.tracker.BatchRun`, as a session's follower does.

The headline is the client's CPU time per event, bare against batchkit: the server sends at a
capped rate (one SQLite write per event), which both clients keep up with, so their rates say more
about the server than about them, while the CPU each spends per event is what limits a client.
Both clients take the same bursts at once, each in a process of its own, first in the room in
turn (:mod:`benchmarks.side_by_side`): the machine's speed drifts from round to round, and side
by side both meet the same machine. The round of the median bare/batchkit ratio counts. Taking
turns, each with a core of its own, has its own row, and so has the rate (events over the time
from asking for the burst to the last event handled) of each client's fastest round.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.reference import ChildServer
from benchmarks.report import Row, at_least, main
from benchmarks.side_by_side import measure_side_by_side, median_pair, ratio_range
from benchmarks.socket_clients import (
    WAIT,
    BareClient,
    Burst,
    Story,
    TrackedClient,
    prepare_story,
)

__all__ = ["run"]


async def _one_burst(
    server: ChildServer, story: Story, make: Callable[[], BareClient | TrackedClient], *, count: int
) -> Burst:
    async with make() as client:
        return await client.burst(server, count)


@dataclass(frozen=True, slots=True)
class Rounds:
    """Every burst measured: taking turns (``bare``, ``tracked``), and side by side (pairs),
    against a default bare client and against one reading packets as the stream does."""

    bare: list[Burst]
    tracked: list[Burst]
    side_by_side: list[tuple[Burst, Burst]]
    same_packets: list[tuple[Burst, Burst]]


async def measure(count: int, rounds: int, folder: Path) -> Rounds:
    """``rounds`` bursts of each client taking turns, then ``rounds`` taken side by side."""
    bare: list[Burst] = []
    tracked: list[Burst] = []
    with ChildServer() as server:
        story = await prepare_story(server, folder)
        await _one_burst(server, story, lambda: BareClient(story), count=min(count, 500))  # warm up
        for _ in range(rounds):
            bare.append(await _one_burst(server, story, lambda: BareClient(story), count=count))
            tracked.append(
                await _one_burst(server, story, lambda: TrackedClient(story), count=count)
            )
        counts = [min(count, 500), *[count] * rounds]  # the first warms both processes up
        side_by_side = await measure_side_by_side(server, story, counts, WAIT)
        same_packets = await measure_side_by_side(
            server, story, counts, WAIT, bare="bare with batchkit's packets"
        )
    return Rounds(bare, tracked, side_by_side[1:], same_packets[1:])


def run(quick: bool) -> list[Row]:
    count, rounds = (3_000, 5) if quick else (10_000, 8)
    with tempfile.TemporaryDirectory(prefix="batchkit-bench-") as folder:
        measured = asyncio.run(measure(count, rounds, Path(folder)))
    side_bare, side_tracked = median_pair(measured.side_by_side)
    turns = list(zip(measured.bare, measured.tracked, strict=True))
    turn_bare, turn_tracked = median_pair(turns)
    per_cpu_second = 1e6 / side_tracked.cpu_us_per_event
    bare_per_cpu_second = 1e6 / side_bare.cpu_us_per_event
    bare_fast = max(measured.bare, key=lambda burst: burst.rate)
    tracked_fast = max(measured.tracked, key=lambda burst: burst.rate)
    return [
        Row(
            "2 socket path: events per client CPU-second (side by side)",
            per_cpu_second,
            "events/CPU-s",
            baseline=bare_per_cpu_second,
            baseline_label="bare python-socketio client",
            goal="ratio ≥ 0.9",
            met=at_least(per_cpu_second / bare_per_cpu_second, 0.9),
            note=f"{count:,} events, {rounds} rounds, both clients taking each burst at once, "
            "each in a process of its own, first in the room in turn (the server sends to the "
            "first one first, which costs it 1-3 %: benchmarks/side_by_side.py); the round of the "
            f"median ratio ({side_tracked.cpu_us_per_event:.1f} µs of the whole client "
            "process's CPU per event for EventStream holding, parsing and seq checks and "
            f"BatchRun folding, against {side_bare.cpu_us_per_event:.1f} µs); ratios "
            f"{ratio_range(measured.side_by_side)}. The server sends no faster than both take, "
            "so the CPU each spends per event is where a client is the limit",
            remedy="batchkit's own share is the next row's: against a bare client reading "
            "packets as the stream does, what is left is parsing (pydantic), seq checks and "
            "the run's fold, each costing 2-3 times what it costs in a tight loop",
        ),
        _same_packets_row(measured.same_packets),
        Row(
            "2 socket path: events per client CPU-second (taking turns)",
            1e6 / turn_tracked.cpu_us_per_event,
            "events/CPU-s",
            baseline=1e6 / turn_bare.cpu_us_per_event,
            baseline_label="bare python-socketio client",
            note=f"{rounds} rounds each, alternating, each client with a core of its own; the "
            f"round of the median paired ratio ({turn_tracked.cpu_us_per_event:.1f} against "
            f"{turn_bare.cpu_us_per_event:.1f} µs); paired ratios {ratio_range(turns)}: the "
            "machine's speed drifts between rounds, which side by side cancels",
        ),
        Row(
            f"2 socket path: {count:,} events, server → EventStream → BatchRun",
            tracked_fast.rate,
            "events/s",
            baseline=bare_fast.rate,
            baseline_label="bare python-socketio client",
            note=f"taking turns, each client's fastest round: the rate both got, capped by the "
            f"server: it sent at {tracked_fast.server_rate:,.0f} and "
            f"{bare_fast.server_rate:,.0f} events/s in those rounds",
        ),
    ]


def _same_packets_row(pairs: list[tuple[Burst, Burst]]) -> Row:
    """Side by side again, against a bare client reading packets with the stream's class."""
    bare, tracked = median_pair(pairs)
    return Row(
        "2 socket path: events per client CPU-second (side by side, same packets)",
        1e6 / tracked.cpu_us_per_event,
        "events/CPU-s",
        baseline=1e6 / bare.cpu_us_per_event,
        baseline_label="bare client with batchkit's packet class",
        note="as the first row, against a bare client reading JSON as the event stream does "
        "(batchkit.event_packets, pydantic-core's parser where python-engineio's builds a "
        "decoder per packet): what is left is batchkit's own work, holding, parsing, seq "
        f"checks and folding ({tracked.cpu_us_per_event:.1f} against "
        f"{bare.cpu_us_per_event:.1f} µs per event); ratios {ratio_range(pairs)}",
    )


if __name__ == "__main__":
    raise SystemExit(main(run, __doc__))
