"""Two socket.io clients taking the same bursts at the same moment, each in a process of its own.

Taking turns, two clients meet two different machines: this 2-core VM's speed drifts from one
round to the next (a bare client's CPU per event moved 160-230 µs within one run), so one pair
of rounds gave bare/batchkit 0.79 and another 1.03. Side by side, both join the same story room
of the same server, each in a spawned process, and the server's ``emit_burst`` sends every event
to both at once: they take the same messages under the same load, and the ratio of their CPU
per event held within 0.82-0.86 over eight rounds where taking turns spread over 0.79-1.03.

The server sends each event to the room's members in the order they joined, and the first one
pays for it: two identical bare clients side by side gave first/second CPU per event 1.011 and
1.028 (medians of 8 rounds), and batchkit measured 0.969 of a bare client that joined first but
0.913 of one that joined after it. So the clients join one after the other, and before every
round but the first, the one that was first leaves the room and joins it again: half the rounds
have each client first.

The price is a share of the cores: the server and both clients run at once on two cores, where
taking turns gives a client a core of its own, so each client's absolute figure is higher here.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.connection import Connection
from typing import Literal, cast

from benchmarks.reference import ChildServer
from benchmarks.report import lower_median
from benchmarks.socket_clients import WAIT, BareClient, Burst, Story, TrackedClient

__all__ = ["Kind", "measure_side_by_side", "median_pair", "paired_ratio", "ratio_range"]

Kind = Literal["bare", "bare with batchkit's packets", "batchkit"]
"""A bare python-socketio client (with its default packet class, or with the event stream's:
:class:`~batchkit.event_packets.EventPacket`), or batchkit's event stream and run."""
_READY = "ready"
_ARMED = "armed"
_JOIN_AGAIN = "join again"


def _client_process(kind: Kind, story: Story, conn: Connection) -> None:
    """A spawned process's whole life: join the story's room, then measure bursts on demand."""
    asyncio.run(_serve_bursts(kind, story, conn))


async def _serve_bursts(kind: Kind, story: Story, conn: Connection) -> None:
    client: BareClient | TrackedClient
    if kind == "batchkit":
        client = TrackedClient(story)
    else:
        client = BareClient(story, stream_packets=kind != "bare")
    async with client:
        conn.send(_READY)
        while (asked := await asyncio.to_thread(conn.recv)) is not None:
            if asked == _JOIN_AGAIN:
                await client.join(again=True)
                conn.send(_READY)
                continue
            counter = client.arm(asked)
            conn.send(_ARMED)
            await asyncio.wait_for(counter.done.wait(), WAIT + asked / 1000)
            client.check()
            conn.send(counter.burst)


async def _answer(conn: Connection, wait: float) -> object:
    """The next message from a client process, or TimeoutError after ``wait`` seconds."""
    if not await asyncio.to_thread(conn.poll, wait):
        raise TimeoutError("a benchmark client process did not answer")
    return conn.recv()


async def measure_side_by_side(
    server: ChildServer, story: Story, counts: list[int], wait: float, bare: Kind = "bare"
) -> list[tuple[Burst, Burst]]:
    """One burst of each of ``counts`` taken by both clients at once: ``(bare, batchkit)``
    :class:`~benchmarks.socket_clients.Burst` pairs, one per count; ``bare`` says which bare
    client."""
    spawn = multiprocessing.get_context("spawn")
    kinds: tuple[Kind, Kind] = (bare, "batchkit")
    pipes = [spawn.Pipe() for _ in kinds]
    processes = [
        spawn.Process(target=_client_process, args=(kind, story, child), daemon=True)
        for kind, (_, child) in zip(kinds, pipes, strict=True)
    ]
    ours = [parent for parent, _ in pipes]
    try:
        for process, conn in zip(processes, ours, strict=True):
            process.start()  # one after the other: they join the room in this order
            assert await _answer(conn, wait) == _READY
        pairs: list[tuple[Burst, Burst]] = []
        first = 0  # which client the server sends to first
        for number, count in enumerate(counts):
            if number:  # the first one goes last: positions alternate round by round
                ours[first].send(_JOIN_AGAIN)
                assert await _answer(ours[first], wait) == _READY
                first = 1 - first
            for conn in ours:
                conn.send(count)
            for conn in ours:
                assert await _answer(conn, wait) == _ARMED
            await server.emit_burst(story.story_id, count)
            bare, batchkit = [await _answer(conn, wait + count / 1000) for conn in ours]
            pairs.append((cast("Burst", bare), cast("Burst", batchkit)))
        for conn in ours:
            conn.send(None)
        return pairs
    finally:
        for process in processes:
            if process.pid is None:
                continue  # never started: an earlier one did not answer
            process.join(wait)
            if process.is_alive():
                process.kill()


def paired_ratio(pair: tuple[Burst, Burst]) -> float:
    """Bare CPU per event over batchkit's, in one round: 1.0 is batchkit costing nothing."""
    bare, tracked = pair
    return bare.cpu_us_per_event / tracked.cpu_us_per_event


def median_pair(pairs: list[tuple[Burst, Burst]]) -> tuple[Burst, Burst]:
    """The pair whose ratio is the median (the lower of the middle two)."""
    return lower_median(pairs, paired_ratio)


def ratio_range(pairs: list[tuple[Burst, Burst]]) -> str:
    ratios = [paired_ratio(pair) for pair in pairs]
    return f"{min(ratios):.3f}-{max(ratios):.3f}"
