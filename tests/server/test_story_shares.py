"""A batch's share of the workers: how many of its stories may be in progress at once.

Deterministic: real :class:`StoryShares` on the test's event loop, each story held open until
the test lets it go, and the order read from a log of starts and ends (waits are on that log's
condition, never on time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from batchkit.server.story_shares import StoryShares

TIMEOUT = 5.0


class Stories:
    """Stories that enter their batch's share, log it, and stay until released."""

    def __init__(self, shares: StoryShares) -> None:
        self.shares = shares
        self.log: list[str] = []
        self._changed = asyncio.Condition()
        self._release: dict[str, asyncio.Event] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, batch: str, index: int) -> None:
        name = f"{batch}{index}"
        self._release[name] = asyncio.Event()
        self.tasks.append(asyncio.create_task(self._story(batch, index, name)))

    async def _story(self, batch: str, index: int, name: str) -> None:
        async with self.shares.story(batch, index):
            await self._note(f"start {name}")
            await self._release[name].wait()
        await self._note(f"end {name}")

    async def _note(self, entry: str) -> None:
        async with self._changed:
            self.log.append(entry)
            self._changed.notify_all()

    async def until(self, condition: Callable[[list[str]], bool]) -> None:
        async with asyncio.timeout(TIMEOUT), self._changed:
            await self._changed.wait_for(lambda: condition(self.log))

    def release(self, name: str) -> None:
        self._release[name].set()


def started(log: list[str]) -> list[str]:
    return [entry.removeprefix("start ") for entry in log if entry.startswith("start ")]


async def test_alone_a_batch_uses_every_worker_and_a_newcomer_starts_at_once() -> None:
    shares = StoryShares(workers=2)
    stories = Stories(shares)
    async with shares.batch("a"):
        for index in range(3):
            stories.start("a", index)
        await stories.until(lambda log: len(started(log)) == 2)
        assert started(stories.log) == ["a0", "a1"]  # alone: both workers
        assert (shares.rank("a", 0), shares.rank("a", 1)) == (0, 1)
        async with shares.batch("b"), shares.batch("c"):
            stories.start("b", 0)
            stories.start("c", 0)
            await stories.until(lambda log: len(started(log)) == 4)
            assert started(stories.log) == ["a0", "a1", "b0", "c0"]  # at once, over 2 workers
            assert shares.share() == 1
            stories.release("a0")
            stories.release("a1")
            await stories.until(lambda log: "start a2" in log)
            # a2 waited until a was back within its share of 1: both a0 and a1 had ended.
            assert stories.log.index("start a2") > stories.log.index("end a1")
            assert shares.rank("a", 2) == 0
            for name in ("a2", "b0", "c0"):
                stories.release(name)
            await asyncio.gather(*stories.tasks)
    assert shares.share() == 2
