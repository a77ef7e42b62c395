"""Which ``seq`` numbers are new, per room: the stream's duplicate and gap detection.

The window keeps the highest number, the lowest and the numbers between them not seen yet, so
that a number in order costs two comparisons. It must answer exactly as the plain definition
does: a number is new when it was never seen and is not older than the window; numbers were
missed when it is more than one past the highest.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from batchkit.contract import AutoModeProgress, BatchStoriesProgress
from batchkit.event_order import _SEQ_WINDOW, RoomSequences

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def progress(seq: int | None, story_id: str = "s1") -> AutoModeProgress:
    return AutoModeProgress(story_id=story_id, step="images", timestamp=T0, seq=seq)


class PlainDefinition:
    """Every number seen, kept forever: what the window must agree with."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.highest: int | None = None

    def check(self, seq: int) -> tuple[bool, bool]:
        highest = self.highest
        is_new = seq not in self.seen and (highest is None or seq > highest - _SEQ_WINDOW)
        gap = highest is not None and seq > highest + 1
        if is_new:
            self.seen.add(seq)
            self.highest = seq if highest is None else max(highest, seq)
        return is_new, gap


# Steps: mostly the next number, some skips, some repeats and late ones, rare jumps past the
# window either way.
_STEPS = st.one_of(
    st.just(1),
    st.integers(2, 50),
    st.integers(-60, 0),
    st.integers(_SEQ_WINDOW - 10, 2 * _SEQ_WINDOW),
    st.integers(-2 * _SEQ_WINDOW, -(_SEQ_WINDOW - 10)),
)


@settings(max_examples=300, deadline=None)
@given(start=st.integers(-10, 10_000), steps=st.lists(_STEPS, max_size=300))
def test_the_window_answers_as_the_plain_definition(start: int, steps: list[int]) -> None:
    sequences, plain = RoomSequences(), PlainDefinition()
    seq = start
    for step in steps:
        seq += step
        assert sequences.check(progress(seq)) == plain.check(seq), seq


def test_in_order_repeated_skipped_late_and_too_old() -> None:
    sequences = RoomSequences()
    assert [sequences.check(progress(n)) for n in (10, 11, 12)] == [(True, False)] * 3
    assert sequences.check(progress(12)) == (False, False)  # delivered again
    assert sequences.check(progress(15)) == (True, True)  # 13 and 14 were missed
    assert sequences.check(progress(13)) == (True, False)  # late, not lost
    assert sequences.check(progress(13)) == (False, False)
    assert sequences.check(progress(9)) == (True, False)  # older than the first seen
    assert sequences.check(progress(9)) == (False, False)
    assert sequences.check(progress(15 + _SEQ_WINDOW)) == (True, True)
    assert sequences.check(progress(14)) == (False, False)  # out of the window: counted seen


def test_rooms_are_apart_and_events_without_seq_are_always_new() -> None:
    sequences = RoomSequences()
    assert sequences.check(progress(1, "s1")) == (True, False)
    assert sequences.check(progress(1, "s2")) == (True, False)
    batch = BatchStoriesProgress(
        batch_id="s1", current_story=1, total_stories=1, progress=0.0, timestamp=T0, seq=1
    )
    assert sequences.check(batch) == (True, False)  # a batch room, though its id is the same
    assert sequences.check(progress(None)) == (True, False)
    assert sequences.check(progress(None)) == (True, False)
