"""The order in which waiting jobs get a worker: round-robin across users, then their batches.

Each user with waiting jobs takes a turn; within a user, each of their groups (a batch, or a
story run on its own) takes a turn; within a group the job of the earliest story goes first, and
a story's jobs in the order they came. Above that order stands a job's *rank*: the place of its
story among its batch's stories in progress (0 for the earliest). Jobs of rank 0 (one story per
batch) are served first, in the turns above; a batch's later stories use the workers that no
batch's first story is waiting for. So a user's first file starts at the next free worker, and
keeps its share of the workers, whatever others have queued or started. The queue decides only
the order: it is plain data, used from the event loop only, and knows nothing of workers.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["FairQueue", "JobOwner"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class JobOwner:
    """Whose a job is: the scheduler's key."""

    user_id: str
    group_id: str
    """The batch, or the story when it runs on its own (a regeneration)."""
    story_index: int = 0
    """The story's place in its batch: earlier stories go first."""
    rank: int = 0
    """The story's place among its batch's stories in progress: lower ranks go first."""


@dataclass(order=True, slots=True)
class _Entry(Generic[T]):
    story_index: int
    arrival: int
    item: T = field(compare=False)


class _Turns(Generic[T]):
    """Users, then their groups, in turn; within a group, the earliest story first."""

    def __init__(self) -> None:
        # user → group → heap of entries; both dicts in turn order (next turn first).
        self._users: OrderedDict[str, OrderedDict[str, list[_Entry[T]]]] = OrderedDict()

    def __bool__(self) -> bool:
        return bool(self._users)

    def push(self, owner: JobOwner, entry: _Entry[T]) -> None:
        groups = self._users.setdefault(owner.user_id, OrderedDict())
        heapq.heappush(groups.setdefault(owner.group_id, []), entry)

    def pop(self) -> T | None:
        if not self._users:
            return None
        user_id, groups = next(iter(self._users.items()))
        group_id, heap = next(iter(groups.items()))
        entry = heapq.heappop(heap)
        if heap:
            groups.move_to_end(group_id)
        else:
            del groups[group_id]
        if groups:
            self._users.move_to_end(user_id)
        else:
            del self._users[user_id]
        return entry.item

    def remove(self, item: T) -> bool:
        for user_id, groups in self._users.items():
            for group_id, heap in groups.items():
                for position, entry in enumerate(heap):
                    if entry.item is item:
                        heap[position] = heap[-1]
                        heap.pop()
                        heapq.heapify(heap)
                        self._prune(user_id, group_id)
                        return True
        return False

    def _prune(self, user_id: str, group_id: str) -> None:
        groups = self._users[user_id]
        if not groups[group_id]:
            del groups[group_id]
        if not groups:
            del self._users[user_id]


class FairQueue(Generic[T]):
    """Items waiting for a worker, taken in the fair order of the module docstring."""

    def __init__(self) -> None:
        self._ranks: dict[int, _Turns[T]] = {}
        self._arrivals = itertools.count()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, owner: JobOwner, item: T) -> None:
        """Queue ``item``; a user or group with nothing queued joins at the end of the turns."""
        turns = self._ranks.setdefault(owner.rank, _Turns())
        turns.push(owner, _Entry(owner.story_index, next(self._arrivals), item))
        self._size += 1

    def pop(self) -> T | None:
        """The next item in fair order (``None`` when empty); its user and group go to the back
        of their turns."""
        for rank in sorted(self._ranks):
            item = self._ranks[rank].pop()
            if item is not None:
                self._settle(rank)
                return item
        return None

    def remove(self, item: T) -> bool:
        """Take ``item`` out of the queue (a job whose waiter gave up); ``False`` if absent."""
        for rank, turns in self._ranks.items():
            if turns.remove(item):
                self._settle(rank)
                return True
        return False

    def _settle(self, rank: int) -> None:
        self._size -= 1
        if not self._ranks[rank]:
            del self._ranks[rank]
