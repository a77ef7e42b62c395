"""Which received events are new: the ``seq`` numbers (EXT) the event stream has seen, per room.

The reference server numbers every room event; production numbers none (an event without
``seq`` is always new). socket.io keeps order within one connection, so a number seen again is a
re-delivery of something recent, and a number past the next one means events were missed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from batchkit.contract.events import EventModel

__all__ = ["RoomSequences"]

_SEQ_WINDOW: Final = 4096


@dataclass(slots=True)
class _SeqWindow:
    """The ``seq`` numbers seen in one room: exact over the last ``_SEQ_WINDOW`` numbers;
    anything older than the window counts as seen.

    Numbers nearly always come in order, each one more than the last, so what it keeps is the
    highest number, the lowest, and the numbers between them not seen yet: a number in order
    costs two comparisons, where a set of the numbers seen cost an insertion and, every
    ``_SEQ_WINDOW`` numbers, a rebuild.
    """

    highest: int | None = None
    lowest: int = 0
    missing: set[int] = field(default_factory=set)

    def add(self, seq: int) -> tuple[bool, bool]:
        """Record ``seq``; return (is_new, skipped_some_numbers_before_it)."""
        highest = self.highest
        if highest is None:
            self.highest = self.lowest = seq
            return True, False
        if seq == highest + 1:
            self.highest = seq
            return True, False
        if seq > highest:
            self.missing.update(range(max(highest + 1, seq - _SEQ_WINDOW), seq))
            self.highest = seq
            if len(self.missing) > _SEQ_WINDOW:
                self.missing = {s for s in self.missing if s > seq - _SEQ_WINDOW}
            return True, True
        if seq <= highest - _SEQ_WINDOW:
            return False, False
        if seq < self.lowest:  # older than anything seen, and never seen: the ones between too
            self.missing.update(range(seq + 1, self.lowest))
            self.lowest = seq
            return True, False
        if seq in self.missing:
            self.missing.discard(seq)
            return True, False
        return False, False


def _room_field(model: type[EventModel]) -> str | None:
    """The field naming the room a kind of event is sent to (None: sent to one socket alone)."""
    name = str(model.model_fields["event"].default)
    if name.startswith("batch-stories-"):
        return "batch_id"
    if name.startswith(("story:processing:", "story-processing-", "auto-mode-")):
        return "story_id"
    return None


class RoomSequences:
    """The ``seq`` numbers seen in every room, across reconnects (a room's numbers go on)."""

    __slots__ = ("_fields", "_windows")

    def __init__(self) -> None:
        # A room is (its field, its id): no string is built for every event.
        self._windows: dict[tuple[str, str], _SeqWindow] = {}
        self._fields: dict[type[EventModel], str | None] = {}

    def check(self, event: EventModel) -> tuple[bool, bool]:
        """Record ``event``; return (is_new, events_were_missed_before_it)."""
        if event.seq is None:
            return True, False
        model = type(event)
        if model in self._fields:
            field_name = self._fields[model]
        else:
            field_name = self._fields[model] = _room_field(model)
        if field_name is None:
            return True, False
        room = (field_name, getattr(event, field_name))
        window = self._windows.get(room)
        if window is None:  # not setdefault: that would build a window for every event
            window = self._windows[room] = _SeqWindow()
        return window.add(event.seq)
