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
    anything older than the window counts as seen."""

    highest: int | None = None
    recent: set[int] = field(default_factory=set)

    def add(self, seq: int) -> tuple[bool, bool]:
        """Record ``seq``; return (is_new, skipped_some_numbers_before_it)."""
        if self.highest is None:
            self.highest, self.recent = seq, {seq}
            return True, False
        if seq in self.recent or seq <= self.highest - _SEQ_WINDOW:
            return False, False
        gap = seq > self.highest + 1
        self.recent.add(seq)
        if seq > self.highest:
            self.highest = seq
            if len(self.recent) > 2 * _SEQ_WINDOW:
                self.recent = {s for s in self.recent if s > seq - _SEQ_WINDOW}
        return True, gap


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
