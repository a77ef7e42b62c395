"""The flusher: at most one drawing per interval, urgent ones at once, failures kept.

The synchronous tests move a hand-set clock (the flusher's only notion of time) instead of
waiting; the asyncio tests wait on the flusher's own ``settled()``.
"""

from __future__ import annotations

import asyncio
import time

import ipywidgets as widgets
import pytest

from batchkit.widgets import Flusher, set_changed
from widgets.conftest import Recorder


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_without_a_loop_it_draws_on_a_change_one_interval_after_the_last() -> None:
    clock, drawn = Clock(), []
    flusher = Flusher(lambda: drawn.append(clock.now), max_rate=4.0, clock=clock)
    for _ in range(100):
        flusher.mark_dirty()
    assert drawn == []  # the view drew itself when it was built: wait one interval
    clock.now += 0.25
    flusher.mark_dirty()
    flusher.mark_dirty()
    assert drawn == [100.25]
    clock.now += 0.125
    flusher.mark_dirty()
    assert drawn == [100.25]
    assert flusher.dirty
    flusher.mark_dirty(urgent=True)
    assert drawn == [100.25, 100.375]
    assert not flusher.dirty
    assert flusher.redraws == 2


def test_a_failing_drawing_is_counted_and_reported() -> None:
    errors: list[Exception] = []

    def draw() -> None:
        raise ValueError("bad value")

    flusher = Flusher(draw, on_error=errors.append)
    flusher.mark_dirty(urgent=True)
    flusher.mark_dirty(urgent=True)
    assert flusher.errors == 2
    assert [str(e) for e in errors] == ["bad value"] * 2


def test_max_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Flusher(lambda: None, max_rate=0)


async def test_with_a_loop_one_task_draws_the_latest_state_per_interval() -> None:
    values: list[int] = []
    state = {"n": 0}
    flusher = Flusher(lambda: values.append(state["n"]), max_rate=20.0)
    started = time.perf_counter()
    for n in range(1, 2001):
        state["n"] = n
        flusher.mark_dirty()
        if n % 100 == 0:
            await asyncio.sleep(0)  # yield, as an event source does between reads
    await asyncio.wait_for(flusher.settled(), timeout=2.0)
    elapsed = time.perf_counter() - started
    assert values[-1] == 2000
    assert len(values) <= 20 * elapsed + 1
    assert values == sorted(values)


async def test_urgent_skips_the_wait_and_close_stops_drawing() -> None:
    drawn: list[str] = []
    flusher = Flusher(lambda: drawn.append("x"), max_rate=0.1)  # ten seconds apart
    flusher.mark_dirty()
    flusher.mark_dirty(urgent=True)
    await asyncio.wait_for(flusher.settled(), timeout=2.0)
    assert drawn == ["x"]
    flusher.mark_dirty()
    flusher.close()
    await asyncio.wait_for(flusher.settled(), timeout=2.0)  # released, not drawn
    assert drawn == ["x"]
    assert flusher.closed


def test_set_changed_sends_one_message_for_the_values_that_changed(comms: Recorder) -> None:
    bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0)
    before = len(comms.sent)
    assert set_changed(bar, value=0.5, bar_style="success", description="")
    [update] = comms.updates(before)
    assert update.data["state"] == {"value": 0.5, "bar_style": "success"}
    assert not set_changed(bar, value=0.5, bar_style="success")
    assert len(comms.updates(before)) == 1
