"""The progress view draws a real run through one throttled flusher and always ends exact.

The run is a real :class:`BatchRun` folding real contract events (no server: the tracker's own
inputs); the widgets' comms record what the front end would receive (see ``conftest``).
"""

from __future__ import annotations

import asyncio
import re
import time

from batchkit.contract import AutoModeError, ServerEvent, StoryProcessingStart
from batchkit.tracker import BatchRun
from batchkit.widgets import progress_view, render
from widgets.conftest import Recorder
from widgets.story_events import at, interleaved, make_run

NAMES = [f"doc{i}.txt" for i in range(10)]
XSS = "<img src=x onerror=alert(1)>.txt"


def text(markup: str) -> str:
    """What a reader sees of ``markup``: the tags dropped, the entities kept escaped."""
    return re.sub(r"<[^>]*>", "", markup)


async def feed_at_full_speed(run: BatchRun, events: list[ServerEvent]) -> None:
    """Fold ``events`` as fast as the loop allows.

    ``sleep(0)`` only yields the loop between events, as a socket reader does between
    messages; it waits for nothing.
    """
    for i, event in enumerate(events):
        run.apply_event(event, received_at=at(10 + i / 1000))
        await asyncio.sleep(0)


async def test_ten_thousand_events_send_at_most_ten_redraws_a_second_and_end_exact(
    comms: Recorder,
) -> None:
    run = make_run(NAMES)
    events = interleaved(len(NAMES), 10_000, failing={3})
    assert len(events) >= 10_000
    started = time.perf_counter()  # the flusher's clock starts with the view
    view = progress_view(run, max_rate=10.0)
    before = len(comms.sent)
    await feed_at_full_speed(run, events)
    await asyncio.wait_for(view.settled(), timeout=2.0)
    elapsed = time.perf_counter() - started

    assert run.done
    assert view.redraws <= 10 * elapsed + 1, (view.redraws, elapsed)
    if elapsed >= 2 * view.flusher.interval:
        assert view.redraws >= 2, "the view should have drawn while the events arrived"
    updates = comms.updates(before)
    # at most one message per widget per redraw: the bar, summary, table, errors, the box
    assert len(updates) <= 5 * view.redraws
    final = run.snapshot()
    assert view.drawn == final
    assert view.html == {
        "summary": render.summary(final),
        "table": render.file_table(final),
        "errors": render.error_panel(final),
    }
    assert "9 completed · 1 failed · 10 total" in text(view.html["summary"])
    assert "bk-final-failed" in view.widget._dom_classes
    assert "✗ Done: 1 of 10 files failed" in text(view.html["summary"])  # words, not only red
    assert "doc3.txt" in view.html["errors"]
    assert "voice &lt;engine&gt; crashed" in view.html["errors"]
    view.close()


async def test_the_subscriber_only_marks_dirty(comms: Recorder) -> None:
    run = make_run(NAMES)
    view = progress_view(run)
    before = len(comms.sent)
    run.apply_event(StoryProcessingStart(story_id="s0", timestamp=at(5), seq=1), received_at=at(5))
    assert comms.sent[before:] == []  # nothing drawn inside the run's publish
    assert view.flusher.dirty
    await asyncio.wait_for(view.settled(), timeout=2.0)
    assert view.drawn == run.snapshot()
    assert len(comms.updates(before)) >= 1
    view.close()


async def test_the_final_state_is_drawn_at_once_not_after_the_throttle() -> None:
    run = make_run(["a.txt"], steps=["story"])
    view = progress_view(run, max_rate=0.1)  # ten seconds between ordinary redraws
    run.apply_event(StoryProcessingStart(story_id="s0", timestamp=at(5), seq=1), received_at=at(5))
    assert view.flusher.dirty  # an ordinary change waits out the ten seconds
    run.apply_event(
        AutoModeError(story_id="s0", step="story", error="boom", timestamp=at(6), seq=2),
        received_at=at(6),
    )
    assert run.done
    started = time.perf_counter()
    await asyncio.wait_for(view.settled(), timeout=2.0)
    assert time.perf_counter() - started < 2.0
    assert view.drawn == run.snapshot()
    assert view.drawn is not None
    assert view.drawn.all_done
    assert "bk-final-failed" in view.widget._dom_classes
    assert view.redraws == 1
    view.close()


def test_a_finished_run_shows_green_with_words() -> None:
    run = make_run(NAMES[:2])
    for i, event in enumerate(interleaved(2, 40, failing=set())):
        run.apply_event(event, received_at=at(10 + i))
    view = progress_view(run)  # no loop: drawn when built
    assert "bk-final-ok" in view.widget._dom_classes
    assert "✓ Done: all 2 files completed" in text(view.html["summary"])
    assert view.html["errors"] == ""
    assert "✓ completed" in text(view.html["table"])


def test_names_and_errors_are_escaped_in_the_table() -> None:
    run = make_run([XSS, "b.txt"], steps=["story"])
    run.apply_event(
        AutoModeError(story_id="s0", step="story", error="<b>bad</b>", timestamp=at(5), seq=1),
        received_at=at(5),
    )
    view = progress_view(run)
    table = view.html["table"]
    assert XSS not in table
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in table
    assert "&lt;b&gt;bad&lt;/b&gt;" in table
    assert "<b>bad</b>" not in table
    assert "✗ failed" in text(table)  # icon and word
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in view.html["errors"]


def test_without_a_loop_draws_are_synchronous_and_throttled() -> None:
    run = make_run(NAMES)
    events = interleaved(10, 2_000, failing=set())
    started = time.perf_counter()  # the flusher's clock starts with the view
    view = progress_view(run, max_rate=10.0)
    for i, event in enumerate(events):
        run.apply_event(event, received_at=at(10 + i / 1000))
    elapsed = time.perf_counter() - started
    assert run.done
    assert view.redraws <= 10 * elapsed + 1
    assert view.drawn == run.snapshot()  # the last event finished the run: drawn at once


async def test_close_stops_following(comms: Recorder) -> None:
    run = make_run(NAMES[:1], steps=["story"])
    view = progress_view(run)
    view.close()
    before = len(comms.sent)
    run.apply_event(StoryProcessingStart(story_id="s0", timestamp=at(5), seq=1), received_at=at(5))
    await asyncio.sleep(0)  # give a (wrongly) scheduled flusher its turn
    assert comms.updates(before) == []
    assert view.drawn is not None
    assert view.drawn.version < run.version
