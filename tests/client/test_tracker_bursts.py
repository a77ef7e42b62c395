"""A followed run takes its socket events in bursts, and nobody can see what is still held.

The event stream holds progress messages for a moment and hands them over together, because
handling them one per turn of the event loop costs several times more
(:mod:`batchkit.events`). The run folds a burst in one go (``apply_events``), and asks the one
holding them (``catch_up_with``) before every read and every other fact. These tests hold those
promises; the holding source here is the callable the run is given, standing for the stream's
``deliver_held`` (``tests/session/test_event_stream.py`` drives the real stream).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import datetime

from batchkit.contract import AutoModeComplete, ServerEvent
from batchkit.tracker import BatchRun, EventFact
from batchkit.tracker.state import HISTORY_KEPT
from client.one_file_run import at, images_progress, one_file_run


class HeldEvents:
    """Events received and not handed over yet; handing them over is what the run asks for."""

    def __init__(self, run: BatchRun) -> None:
        self.run = run
        self.held: list[tuple[ServerEvent, datetime]] = []
        self.asked = 0

    def receive(self, event: ServerEvent) -> None:
        self.held.append((event, event.timestamp))  # type: ignore[union-attr]

    def deliver(self) -> None:
        self.asked += 1
        burst, self.held = self.held, []
        if burst:
            self.run.apply_events(burst)


def test_a_burst_is_folded_once_in_order_with_each_arrival_time() -> None:
    run = one_file_run()
    told: list[int] = []
    run.subscribe(lambda r: told.append(r.fact_count))
    before = run.fact_count
    burst: list[tuple[ServerEvent, datetime]] = [
        (images_progress(seq, 2.5 * seq), at(seq + 0.5)) for seq in range(1, 41)
    ]
    burst.append((AutoModeComplete(story_id="s1", step="images", timestamp=at(41), seq=41), at(42)))
    assert run.apply_events(burst) is True
    assert told == [before + 41]  # one burst, one telling
    events = [fact for fact in run.facts[before:] if isinstance(fact, EventFact)]
    assert [fact.event.seq for fact in events] == list(range(1, 42))
    assert [fact.received_at for fact in events] == [arrived for _event, arrived in burst]
    assert run.files.at[0, "status"] == "completed"
    assert run.done
    assert run.apply_events(burst[:3]) is False  # already folded: nothing new


def test_every_read_hands_over_what_is_held_first() -> None:
    run = one_file_run()
    source = HeldEvents(run)
    run.catch_up_with(source.deliver)
    reads: dict[str, Callable[[], object]] = {
        "files": lambda: run.files.at[0, "step_progress"],
        "snapshot": lambda: run.snapshot().files[0].step_progress,
        "facts": lambda: len(run.facts),
        "fact_count": lambda: run.fact_count,
        "events": lambda: len(run.events),
        "version": lambda: run.version,
        "done": lambda: run.done,
        "status_of": lambda: run.status_of(0),
        "active_story_ids": lambda: run.active_story_ids(),
    }
    for seq, (name, read) in enumerate(reads.items(), start=1):
        facts_before = len(run.facts)
        version_before = run.version
        source.receive(images_progress(seq, 10.0 * seq))
        value = read()
        assert source.held == [], name  # the read asked for them
        expected = {
            "files": seq / 10,
            "snapshot": seq / 10,
            "facts": facts_before + 1,
            "fact_count": facts_before + 1,
            "events": facts_before + 1,
            "version": version_before + 1,
        }.get(name)
        if expected is not None:
            assert value == expected, name
    assert run.files.at[0, "step_progress"] == len(reads) / 10


def test_held_events_are_folded_before_any_other_fact() -> None:
    run = one_file_run()
    source = HeldEvents(run)
    run.catch_up_with(source.deliver)
    source.receive(images_progress(1, 50.0))
    run.mark_stopped("a test stops following", received_at=at(2))
    assert [fact.kind for fact in run.facts[-2:]] == ["event", "follow-stopped"]
    assert run.files.at[0, "step_progress"] == 0.5  # folded before the file failed
    assert run.files.at[0, "status"] == "failed"


def test_a_run_no_longer_followed_stops_asking() -> None:
    run = one_file_run()
    source = HeldEvents(run)
    run.catch_up_with(source.deliver)
    count = run.fact_count
    asked = source.asked
    run.catch_up_with(None)
    source.receive(images_progress(1, 50.0))
    assert run.fact_count == count
    assert source.asked == asked
    assert source.held  # still with the source: the run did not ask


def test_a_burst_of_progress_leaves_the_garbage_collector_nothing_to_do() -> None:
    """Once a story's replay history is full, folding progress keeps no new container object.

    CPython collects its youngest objects every ~700 container objects made and still alive; a
    client that keeps nothing (a bare socket.io handler) never collects. The run keeps every
    event (its history), so it must keep them as plain values: a tuple per event kept, or a
    model, ran the collector every few hundred events of a burst.
    """
    run = one_file_run()
    seq = 1
    for _ in range(2 * HISTORY_KEPT // 50 + 1):  # fill the story's bounded replay history
        run.apply_events([(images_progress(seq + n, 10.0), at(seq + n)) for n in range(50)])
        seq += 50
    bursts = [
        [(images_progress(seq + 50 * k + n, 50.0), at(seq + 50 * k + n)) for n in range(50)]
        for k in range(100)
    ]
    gc.collect()
    gc.disable()
    try:
        made_before = gc.get_count()[0]
        for burst in bursts:
            run.apply_events(burst)
        kept = gc.get_count()[0] - made_before
    finally:
        gc.enable()
    # A tuple per event kept alone would be 5,000; the history's sealed chunks are ~40.
    assert kept < 500, f"{kept:,} container objects kept for 5,000 events"
    assert run.fact_count == 3 + (seq - 1) + 5_000  # the plan, the batch, its status, events
    assert run.files.at[0, "step_progress"] == 0.5
