"""Progress events held for a moment, so that a burst of them is folded in one go.

During a burst, a live run takes one socket event per turn of the event loop, and between two of
them the loop runs the whole socket stack. Folding each event on its own turn is three times
dearer than folding the same events one after another (measured: ~50 against ~11 µs per event),
so :class:`EventInbox` keeps the progress events a run is given and hands them back together at
most :data:`HOLD_INTERVAL` seconds later, well inside a page's 10 Hz paint.

Holding is only safe because the run folds what is held before anything else: before any other
fact, and before answering any question about itself. The inbox only keeps the events and the
timer; :class:`~batchkit.tracker.BatchRun` decides what may wait and folds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Final

from batchkit.contract.events import ServerEvent

__all__ = ["HOLD_INTERVAL", "EventInbox", "HeldEvent"]

HOLD_INTERVAL: Final = 0.02
"""The longest a progress event waits to be folded when nobody asks about the run (seconds)."""

HeldEvent = tuple[ServerEvent, datetime]
"""An event and when it was received (stamped as it arrived, not as it is folded)."""


class EventInbox:
    """Events waiting to be folded, and the one timer that folds them.

    ``fold_held`` is called (on the loop the first held event arrived on) when the timer fires;
    it takes the events with :meth:`take`. Not thread-safe, like the run that owns it.
    """

    __slots__ = ("_fold_held", "_held", "_timer")

    def __init__(self, fold_held: Callable[[], None]) -> None:
        self._fold_held = fold_held
        self._held: list[HeldEvent] = []
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, event: ServerEvent, at: datetime) -> bool:
        """Keep ``event`` to be folded soon; False (nothing kept) when no event loop runs here,
        where nothing would ever fold it unasked."""
        if not self._held:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return False
            self._timer = loop.call_later(HOLD_INTERVAL, self._fold_held)
        self._held.append((event, at))
        return True

    def take(self) -> list[HeldEvent]:
        """Every held event, oldest first; the inbox is empty afterwards and its timer stopped."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        held, self._held = self._held, []
        return held
