"""Chaos: two users' runs against the real reference server while a seeded schedule disturbs it.

The server fails a seeded share of images steps from the start; the schedule drops every
socket.io connection and restarts the server on its data directory; the clients' transports
answer a seeded share of HTTP calls with 503 or 429. Each drop or restart fires when the runs
have changed a set number of times (a run condition, never a timer). At the end every row must
equal the server's truth, every saved log must replay to the same table, and nothing may be lost
or made twice.
"""

from __future__ import annotations

import asyncio
import os
import random
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from session.conftest import USERS, write_texts

from batchkit.client import RetryPolicy, StoryClient
from batchkit.config import BatchConfig
from batchkit.runs import ReplayMismatchWarning, load_run
from batchkit.server import EmbeddedServer, start_embedded_server
from batchkit.session import BatchSession
from batchkit.tracker import BatchRun

from .conftest import FAST, assert_rows_equal_server_truth, count_rows, login, until, wait_for_runs

SEEDS = [7, 2024, 90210]
# More storms on demand, to soak the suite: BATCHKIT_CHAOS_SEEDS=1,2,3 python -m pytest -k chaos
SEEDS += [int(seed) for seed in os.environ.get("BATCHKIT_CHAOS_SEEDS", "").split(",") if seed]
# Four image chunks of 50 words at 0.05 s each: a story spends ~0.2 s in its images step, so the
# runs last long enough for every disruption to land while stories are still moving.
CONFIG = BatchConfig(generate_audio=False, words_per_chunk_image=50)
# Retries fast enough for a test, patient enough to outlast a restart of the server.
RETRY = RetryPolicy(attempts=10, base_delay=0.05, max_delay=0.5, deadline=30.0)
FAULT_MARK = "injected fault"


class FlakyTransport(httpx.AsyncBaseTransport):
    """Forwards to a real ``httpx.AsyncHTTPTransport``, but answers a seeded share of requests
    with 503 or 429 + ``Retry-After`` itself.

    The one fake of this module, needed because the reference server cannot be told to answer a
    given request with 503 or 429 (its own faults are step failures and dropped sockets). Three
    kinds of fault:

    * ``429`` with ``Retry-After: 0``: refused without forwarding (the client may resend
      anything after it, uploads included);
    * ``503``: refused without forwarding;
    * ``503-after``: forwarded (the server acted), then the answer is lost and a 503 is given,
      which is what makes a create that is retried without its ``Idempotency-Key`` a duplicate.

    Uploads only get 429: after a 5xx the client rightly does not resend an upload (it cannot
    know whether the files were stored), so a 503 there fails those files by design. While
    ``outage`` is set every request fails to connect, as when the server's port is closed.
    ``rate`` is the share of requests answered with a fault.
    """

    def __init__(self, seed: int, rate: float = 0.15) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._random = random.Random(seed)
        self._rate = rate
        self.outage = False
        self.injected: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.outage:
            self.injected["refused"] += 1
            raise httpx.ConnectError("chaos: connection refused", request=request)
        roll, share = self._random.random(), self._rate / 3
        is_upload = request.url.path.endswith("/batch-upload")
        if roll < share:
            return self._fault(request, 429, "429", {"Retry-After": "0"})
        if roll < 2 * share and not is_upload:
            return self._fault(request, 503, "503")
        response = await self._inner.handle_async_request(request)
        if roll < 3 * share and not is_upload:
            await response.aread()
            await response.aclose()
            return self._fault(request, 503, "503-after")
        return response

    def _fault(
        self, request: httpx.Request, status: int, kind: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        self.injected[kind] += 1
        body = {"statusCode": status, "message": f"chaos: {kind}", "error": "chaos"}
        return httpx.Response(status, json=body, headers=headers, request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass(frozen=True, slots=True)
class Disruption:
    kind: str
    """``drop``, ``restart`` or ``drop-restart`` (a drop, and a restart while the clients are
    still recovering from it)."""
    after_changes: int
    """Fires once the runs together have changed this many times."""


def make_schedule(rng: random.Random) -> list[Disruption]:
    """Drops and restarts in a seeded order at seeded moments.

    At most four socket disconnects: five quick ones in a row would be taken by the event stream
    for a server refusing its token (production's behaviour), which is not what this tests.
    """
    kinds = ["drop", "restart", "drop-restart"]
    rng.shuffle(kinds)
    moments = sorted(rng.sample(range(5, 70), len(kinds)))
    return [Disruption(kind, moment) for kind, moment in zip(kinds, moments, strict=True)]


def images_fail_rate(rng: random.Random, seed: int) -> float:
    """A seeded fail rate for the images step that is sure to fail at least one file.

    The server draws from ``random.Random(seed)`` once per images step, and starts that
    sequence afresh at each of its (at most three) lives. Its 16 images steps therefore take at
    least the first six draws in one life, whatever the timing: a rate above the lowest of
    those six fails a file. (Set from a seeded moment mid-run instead, as it once was, the rate
    could come after most files were through their images step on a loaded machine.)
    """
    first_draws = random.Random(seed)
    lowest = min(first_draws.random() for _ in range(6))
    return round(max(rng.uniform(0.25, 0.4), lowest + 0.01), 2)


@dataclass(slots=True)
class Player:
    """One user's session on its own flaky client."""

    user: str
    session: BatchSession
    client: StoryClient
    transport: FlakyTransport
    expected_batches: int

    @property
    def run(self) -> BatchRun:
        return self.session.run

    def stream_is_back(self) -> bool:
        """The session's socket is connected again, or the session has nothing left to follow."""
        follower = self.session.follower
        if not self.session.running or follower is None or follower.stream is None:
            return True
        return follower.stream.connected


class Chaos:
    """Plays a schedule against a server while the players' runs go on."""

    def __init__(self, server: EmbeddedServer, players: list[Player]) -> None:
        self._server = server
        self._players = players
        self.done: list[tuple[Disruption, int]] = []

    @property
    def _runs(self) -> list[BatchRun]:
        return [player.run for player in self._players]

    def _changes(self) -> int:
        return sum(run.version for run in self._runs)

    def _finished(self) -> bool:
        return all(run.done for run in self._runs)

    def _all_batches_created(self) -> bool:
        return all(len(p.run.batch_ids) == p.expected_batches for p in self._players)

    async def play(self, schedule: list[Disruption]) -> None:
        for disruption in schedule:
            await wait_for_runs(
                self._runs,
                lambda d=disruption: self._changes() >= d.after_changes or self._finished(),
            )
            if "restart" in disruption.kind:
                # A restart in the middle of an upload fails those files by design (an upload
                # is not resent once it may have reached the server): restart after the creates.
                await wait_for_runs(
                    self._runs, lambda: self._all_batches_created() or self._finished()
                )
            if self._finished():
                return
            self.done.append((disruption, await self._apply(disruption.kind)))
            # Every live socket must come back by itself before the next blow.
            await until(lambda: all(p.stream_is_back() for p in self._players), within=20)

    async def _apply(self, kind: str) -> int:
        dropped = 0
        if "drop" in kind:
            dropped = await asyncio.to_thread(self._server.drop_connections)
        if "restart" in kind:
            await asyncio.to_thread(self._server.restart)
        return dropped


async def start_player(
    server: EmbeddedServer, user: str, documents: list[Path], runs_dir: Path, seed: int
) -> Player:
    transport = FlakyTransport(seed)
    client = login(server, user, transport=transport, retry=RETRY)
    session = BatchSession(client, follow=FAST, runs_dir=runs_dir)
    await session.start(documents, CONFIG)
    expected = -(-len(documents) // 10)
    return Player(user, session, client, transport, expected)


async def check_player(player: Player, server: EmbeddedServer) -> None:
    run = player.run
    assert run.done
    # Read the truth with a plain client: the flaky one would only slow this down.
    async with login(server, player.user) as truthful:
        await assert_rows_equal_server_truth(run, truthful)
    frame = run.files
    assert frame["story_id"].notna().all(), "every accepted file reached a story"
    assert len(run.batch_ids) == player.expected_batches
    failed = frame[frame["status"] == "failed"]
    assert failed["error"].str.contains(FAULT_MARK).all(), failed["error"].tolist()
    assert (frame.loc[frame["status"] != "failed", "completed_steps"] == "story,images").all()
    # The saved log replays to the very table the live run ended with.
    assert player.session.run_dir is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReplayMismatchWarning)
        replayed = load_run(player.session.run_dir)
    pd.testing.assert_frame_equal(replayed.files, frame)


def crashes(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Records that carry a traceback: something, client or server, crashed on the way."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info]


def report(chaos: Chaos, players: list[Player]) -> None:
    """What the storm did, printed for whoever reruns a seed (pytest -s)."""
    print("disruptions:", [(d.kind, d.after_changes, n) for d, n in chaos.done])
    print("transport faults:", [dict(p.transport.injected) for p in players])
    print("changes at the end:", [p.run.version for p in players])
    print("failed files:", [int((p.run.files["status"] == "failed").sum()) for p in players])


def assert_nothing_lost_or_doubled(server: EmbeddedServer, players: list[Player]) -> None:
    """16 files, 16 distinct stories, 16 uploads and 3 batches (10 + 2, and 4) on the server."""
    story_ids = pd.concat([p.run.files["story_id"] for p in players])
    assert story_ids.is_unique
    assert len(story_ids) == 16
    assert count_rows(server, "uploads") == 16
    assert count_rows(server, "stories") == 16
    assert count_rows(server, "batches") == 3
    frames = [(p.run.files, p.run.batch_ids) for p in players]
    sizes = sorted(int((f["batch_id"] == b).sum()) for f, ids in frames for b in ids)
    assert sizes == [2, 4, 10]


@pytest.mark.parametrize("seed", SEEDS)
async def test_runs_survive_a_seeded_storm(
    seed: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    print(f"chaos seed: {seed}")
    rng = random.Random(seed)
    schedule = make_schedule(rng)
    fail_rates = {"images": images_fail_rate(rng, seed)}
    print(f"fail rates: {fail_rates}")
    with start_embedded_server(
        data_dir=tmp_path / "srv",
        users=USERS,
        workers=2,
        pace=0.05,
        seed=seed,
        fail_rates=fail_rates,
    ) as server:
        players: list[Player] = []
        try:
            for user, count in (("alice", 12), ("bob", 4)):
                documents = write_texts(tmp_path / user, count, 200)
                runs_dir, transport_seed = tmp_path / "runs", seed + count
                players.append(
                    await start_player(server, user, documents, runs_dir, transport_seed)
                )
            chaos = Chaos(server, players)
            await asyncio.wait_for(chaos.play(schedule), 90)
            await asyncio.wait_for(asyncio.gather(*(p.session.wait() for p in players)), 90)
            report(chaos, players)

            assert len(chaos.done) == len(schedule), "the runs ended before the storm did"
            # A drop can race the end of a run (its socket just closed), but not every one.
            assert sum(n for d, n in chaos.done if "drop" in d.kind) >= 1, "no drop hit a socket"
            assert sum(sum(p.transport.injected.values()) for p in players) >= 1
            failed = sum(int((p.run.files["status"] == "failed").sum()) for p in players)
            assert failed >= 1, "the injected step failures never hit a file"
            for player in players:
                await check_player(player, server)
            assert_nothing_lost_or_doubled(server, players)
            assert not crashes(caplog)
        finally:
            for player in players:
                await player.session.cancel()
                await player.client.aclose()


async def test_the_event_stream_comes_back_after_a_drop_during_an_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server drops the sockets while its HTTP port cannot be reached (as during a restart):
    the stream cannot check its token then, and must reconnect anyway once it can."""
    with start_embedded_server(
        data_dir=tmp_path / "srv", users=USERS, workers=2, pace=0.05
    ) as server:
        player = await start_player(
            server, "alice", write_texts(tmp_path / "docs", 3, 200), tmp_path / "runs", seed=1
        )
        try:
            await wait_for_runs([player.run], lambda: bool(player.run.story_ids))
            follower = player.session.follower
            assert follower is not None
            assert follower.stream is not None
            stream = follower.stream
            await until(lambda: stream.connected)

            player.transport.outage = True
            assert await asyncio.to_thread(server.drop_connections) == 1
            await until(lambda: stream.stats.server_disconnects == 1)
            await until(lambda: player.transport.injected["refused"] >= 1)
            player.transport.outage = False

            await until(lambda: stream.connected or not player.session.running, within=15)
            assert stream.connected or stream.stats.connects >= 2, "the stream never came back"
            assert stream.failure is None
            await asyncio.wait_for(player.session.wait(), 60)
            await check_player(player, server)
            assert not crashes(caplog)
        finally:
            await player.session.cancel()
            await player.client.aclose()
