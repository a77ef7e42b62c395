"""Runs of a small tuning grid on the real reference server, for the matrix and report tests.

Two settings points (image style realistic, then comic) over the four sample documents. While
the comic run goes, the server's audio step fails on purpose (``set_fail_rates``) with a rate and
seed that fail exactly one of the four files: the image style changes neither the story's text
nor the chunk counts, so that file is the only document whose cells differ, and the only one
that failed. Everything else is real: the server, its engines, socket.io, SQLite and the files.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from batchkit.analysis import GridPoint, tuning_grid
from batchkit.client import StoryClient
from batchkit.server.launcher import EmbeddedServer
from batchkit.session import BatchSession
from batchkit.tracker import BatchRun

USERS = {"tuner": "tuner-password"}
AUDIO_FAIL_RATE = 0.5
SAMPLES = 4


def seed_failing_once(rate: float = AUDIO_FAIL_RATE, draws: int = SAMPLES) -> int:
    """A seed whose first ``draws`` fault draws fail exactly once (the server draws once per
    run of a step that has a rate, from ``random.Random(seed)``)."""
    for seed in range(1000):
        source = random.Random(seed)
        if sum(source.random() < rate for _ in range(draws)) == 1:
            return seed
    raise AssertionError("no seed in 0..999 fails exactly once")


@dataclass(frozen=True, slots=True)
class TunedRuns:
    """The grid, its runs by label, and their folders."""

    grid: list[GridPoint]
    runs: dict[str, BatchRun]
    folders: dict[str, Path]
    url: str

    @property
    def labels(self) -> list[str]:
        return list(self.runs)


class CountingTransport(httpx.AsyncHTTPTransport):
    """A real HTTP transport that counts what goes through it (requests, and the most in
    flight at once). Not a fake: every request reaches the real server."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await super().handle_async_request(request)
        finally:
            self.in_flight -= 1


@dataclass
class Counted:
    """A client of the tuning server and the transport that counts its requests."""

    client: StoryClient
    transport: CountingTransport = field(repr=False)


def counted_client(url: str) -> Counted:
    transport = CountingTransport()
    username, password = next(iter(USERS.items()))
    client = StoryClient(url, username=username, password=password, env={}, transport=transport)
    return Counted(client, transport)


async def make_tuned_runs(
    server: EmbeddedServer, runs_dir: Path, documents: Sequence[Path]
) -> TunedRuns:
    """Run ``documents`` once per grid point; the comic run fails one file's audio step."""
    grid = tuning_grid(image_style=["realistic", "comic"])
    runs: dict[str, BatchRun] = {}
    folders: dict[str, Path] = {}
    username, password = next(iter(USERS.items()))
    async with StoryClient(server.url, username=username, password=password, env={}) as client:
        for point in grid:
            if point.label == "comic":
                server.set_fail_rates({"audio": AUDIO_FAIL_RATE})
            try:
                session = BatchSession(client, runs_dir=runs_dir)
                runs[point.label] = await session.run_batch(list(documents), point.config)
            finally:
                server.set_fail_rates({})
            assert session.run_dir is not None
            folders[point.label] = session.run_dir
    return TunedRuns(grid, runs, folders, server.url)
