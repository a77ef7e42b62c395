"""How many stories of each batch may be in progress: the batch's share of the workers.

With ``workers`` engine workers and ``n`` batches running, a batch may have ``ceil(workers / n)``
stories in progress (at least one); its other stories stay ``pending``. Alone, a batch keeps
every worker busy; when others arrive, each new batch starts a story at once and the running
ones start no more until they are within their share. A story in progress never stops for
another: shares only decide which story starts next. The jobs of the stories in progress then
meet in the pool's fair queue (:mod:`batchkit.server.fair_queue`), ranked by their story's place
among its batch's stories in progress (:meth:`StoryShares.rank`). Used from the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["StoryShares"]


class StoryShares:
    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._running: dict[str, set[int]] = {}
        """Batches with stories to run → the indices of their stories in progress."""
        self._changed = asyncio.Condition()

    def share(self) -> int:
        """Stories in progress each batch may have now."""
        return max(1, -(-self._workers // max(1, len(self._running))))

    @asynccontextmanager
    async def batch(self, batch_id: str) -> AsyncIterator[None]:
        """While the block runs, ``batch_id`` counts among the batches sharing the workers."""
        async with self._changed:
            self._running.setdefault(batch_id, set())
        try:
            yield
        finally:
            async with self._changed:
                del self._running[batch_id]
                self._changed.notify_all()

    def rank(self, batch_id: str, index: int) -> int:
        """The place of story ``index`` among its batch's stories in progress (0: earliest)."""
        return sum(1 for other in self._running.get(batch_id, ()) if other < index)

    @asynccontextmanager
    async def story(self, batch_id: str, index: int) -> AsyncIterator[None]:
        """Wait until the batch is within its share, then hold one of its places."""
        running = self._running[batch_id]
        async with self._changed:
            await self._changed.wait_for(lambda: len(running) < self.share())
            running.add(index)
        try:
            yield
        finally:
            async with self._changed:
                running.discard(index)
                self._changed.notify_all()
