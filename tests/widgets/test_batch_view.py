"""The one file table and the one overall bar: drawn from one snapshot by one throttled flusher,
always ending exact, joined to the chosen files by key, and saying everything in words.

The run is a real :class:`BatchRun` folding real contract events (no server: the tracker's own
inputs); the widgets' comms record what the front end would receive (see ``conftest``).
"""

from __future__ import annotations

import asyncio
import re
import time

from ipywidgets.widgets.widget import _instances

from batchkit.contract import AutoModeError, AutoModeProgress, AutoModeStart, StoryProcessingStart
from batchkit.samples import sample_paths
from batchkit.tracker import BatchRun, PlannedFile
from batchkit.widgets import BatchView, progress_view, upload_zone
from widgets.conftest import Recorder
from widgets.story_events import at, interleaved, make_run, story_events

NAMES = [f"doc{i}.txt" for i in range(10)]
XSS = "<img src=x onerror=alert(1)>.txt"


def text(markup: str) -> str:
    """What a reader sees of ``markup``: the tags dropped, the entities kept escaped."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", markup))


def bar_values(view: BatchView) -> dict[str, str]:
    found = re.search(
        r'<div class="bk-overall-bar" role="progressbar"([^>]*)>', view.html["overview"]
    )
    assert found, view.html["overview"]
    return dict(re.findall(r'(aria-[a-z]+)="([^"]*)"', found.group(1)))


def segments(view: BatchView) -> dict[str, float]:
    found = re.findall(r'bk-seg-(\w+)" style="width:([\d.]+)%', view.html["overview"])
    return {kind: float(width) for kind, width in found}


async def feed_at_full_speed(run: BatchRun, events: list) -> None:
    """Fold ``events`` as fast as the loop allows; ``sleep(0)`` only yields the loop between
    events, as a socket reader does between messages; it waits for nothing."""
    for i, event in enumerate(events):
        run.apply_event(event, received_at=at(10 + i / 1000))
        await asyncio.sleep(0)


async def test_ten_thousand_events_send_at_most_ten_redraws_a_second_and_end_exact(
    comms: Recorder,
) -> None:
    run = make_run(NAMES)
    events = interleaved(len(NAMES), 10_000, failing={3})
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
    # at most one message per widget per redraw: the table, the bar, the live region
    assert len(comms.updates(before)) <= 3 * view.redraws
    final = run.snapshot()
    assert view.drawn == final
    assert view.html == view.html_of(final)
    counts = text(view.html["overview"])
    assert "9 completed · ✗ 1 failed · ▶ 0 running · ○ 0 waiting" in counts
    assert "✗ Done: 9 of 10 completed, 1 failed" in counts  # words, not only red
    assert "bk-final-failed" in view.html["overview"]
    assert "voice &lt;engine&gt; crashed" in view.html["table"]
    view.close()


def test_one_failure_is_one_red_segment_never_a_red_bar() -> None:
    run = make_run(NAMES[:4])
    for i, event in enumerate(interleaved(4, 80, failing={2})):
        run.apply_event(event, received_at=at(10 + i))
    view = progress_view(run)
    assert segments(view) == {"completed": 75.0, "failed": 25.0}
    values = bar_values(view)
    assert (values["aria-valuenow"], values["aria-valuemax"]) == ("4", "4")
    assert values["aria-valuetext"] == "4 of 4 files done: 3 completed, 1 failed"
    assert "story 4/4 · images 4/4 · audio 3/4 (1 failed) · merge 3/4" in text(
        view.html["overview"]
    )


def test_a_run_without_failures_paints_no_count_in_the_failure_colour() -> None:
    run = make_run(NAMES[:3])
    for i, event in enumerate(interleaved(3, 80)):
        run.apply_event(event, received_at=at(10 + i))
    overview = progress_view(run).html["overview"]
    classes = {
        kind: css
        for css, kind in re.findall(
            r'<span class="bk-count ([^"]*)">.*? \d+ (\w+)</span>', overview
        )
    }
    # "0 failed" is still said in words, but muted: a red count on a page of successes lies.
    assert classes["failed"] == "bk-count-failed bk-count-none", overview
    assert classes["completed"] == "bk-count-completed", overview


def test_every_file_in_progress_is_named_with_its_step() -> None:
    run = make_run(["a.txt", "b.txt", "c.txt"])
    for index, step, fraction in ((0, "images", 40.0), (1, "audio", 10.0)):
        for event in story_events(f"s{index}", 1)[:3]:  # its story step, done
            run.apply_event(event, received_at=at(3))
        run.apply_event(
            AutoModeStart(story_id=f"s{index}", step=step, seq=10, timestamp=at(4)),
            received_at=at(4),
        )
        run.apply_event(
            AutoModeProgress(
                story_id=f"s{index}", step=step, progress=fraction, seq=11, timestamp=at(5)
            ),
            received_at=at(5),
        )
    view = progress_view(run)
    shown = text(view.html["overview"])
    assert "In progress: a.txt (images 40%), b.txt (audio 10%)" in shown
    assert segments(view) == {"running": 66.667, "waiting": 33.333}
    chips = text(view.html["table"])
    assert "▶ images : running 40%" in chips


def test_the_time_left_is_an_estimate_and_only_once_there_is_evidence() -> None:
    run = make_run(["a.txt", "b.txt"], steps=["story"])
    run.apply_event(StoryProcessingStart(story_id="s0", timestamp=at(5), seq=1), received_at=at(5))
    view = progress_view(run)
    assert "left" not in text(view.html["overview"])  # no step seen from start to end yet
    for i, event in enumerate(story_events("s1", 1)):
        run.apply_event(event, received_at=at(8 + 2 * i))  # b.txt's story: seen from start to end
    view.flush()
    assert run.snapshot().eta_s is not None
    assert re.search(r"about \d+ s left \(estimate\)", text(view.html["overview"]))


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
    await asyncio.wait_for(view.settled(), timeout=2.0)
    assert view.drawn == run.snapshot()
    assert "bk-final-failed" in view.html["overview"]
    assert view.redraws == 1
    view.close()


def test_names_and_errors_are_escaped_and_an_error_is_said_once() -> None:
    run = make_run([XSS, "rain_song.txt"], steps=["story"])
    run.apply_event(
        AutoModeError(story_id="s0", step="story", error="<b>bad</b>", timestamp=at(5), seq=1),
        received_at=at(5),
    )
    run.apply_event(
        AutoModeError(
            story_id="s1",
            step="story",
            error="rain_song.txt: injected fault",
            timestamp=at(5),
            seq=1,
        ),
        received_at=at(5),
    )
    view = progress_view(run)
    table = view.html["table"]
    assert XSS not in table
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in table
    assert "&lt;b&gt;bad&lt;/b&gt;" in table
    assert "<b>bad</b>" not in table
    assert "✗ failed" in text(table)  # icon and word
    # The row names the file: its error does not say the name a second time.
    assert view.row("rain_song.txt").error == "injected fault"
    whole = view.html["table"] + view.html["overview"]
    assert whole.count("injected fault") == 1


def test_without_a_loop_draws_are_synchronous_and_throttled() -> None:
    run = make_run(NAMES)
    events = interleaved(10, 2_000, failing=set())
    started = time.perf_counter()
    view = progress_view(run, max_rate=10.0)
    for i, event in enumerate(events):
        run.apply_event(event, received_at=at(10 + i / 1000))
    elapsed = time.perf_counter() - started
    assert run.done
    assert view.redraws <= 10 * elapsed + 1
    assert view.drawn == run.snapshot()


def test_the_live_region_speaks_when_a_file_finishes_not_on_progress() -> None:
    run = make_run(["a.txt", "b.txt"], steps=["story"])
    view = progress_view(run)
    said = [view.html["announcement"]]
    run.apply_event(StoryProcessingStart(story_id="s0", timestamp=at(5), seq=1), received_at=at(5))
    view.flush()
    said.append(view.html["announcement"])
    assert said[1] == said[0]  # progress is drawn, not said
    for event in story_events("s0", 3):
        run.apply_event(event, received_at=at(6))
    view.flush()
    assert "1 of 2 files done: 1 completed, 0 failed" in view.html["announcement"]
    assert 'role="status"' in view.html["announcement"]


async def test_close_stops_following_and_leaves_no_widget_behind(comms: Recorder) -> None:
    before = set(_instances)
    run = make_run(NAMES[:1], steps=["story"])
    view = progress_view(run)
    view.close()
    assert set(_instances) - before == set()  # 16 models were left per dropped view
    sent = len(comms.sent)
    run.apply_event(StoryProcessingStart(story_id="s0", timestamp=at(5), seq=1), received_at=at(5))
    await asyncio.sleep(0)  # give a (wrongly) scheduled flusher its turn
    assert comms.updates(sent) == []


def test_rows_are_joined_to_the_files_chosen_by_key_never_by_name() -> None:
    zone = upload_zone()
    view = BatchView(zone)
    first = sample_paths()[0]
    zone.add_paths([first])
    [(key, _)] = zone.chosen_documents()
    run = BatchRun([_planned(first.name)], steps=["story"], created_at=at(0))
    run.mark_upload_progress(0, 10, 10, received_at=at(1))
    run.mark_uploaded(0, "http://srv/u/0.txt", received_at=at(1))
    zone.mark_sent([key])
    view.show_run(run, [key])
    view.flush()
    assert view.row(first.name).upload.words == "on the server"
    # After the run, the file is removed and another file with the same name is added: it is a
    # new file, never sent. (Matched by name, it showed "To server ✓ uploaded".)
    zone.remove(first.name)
    zone.add_paths([first])
    view.flush()
    old, new = view.rows
    assert (old.name, old.check, old.upload.words) == (first.name, "withdrawn", "on the server")
    assert not old.removable  # the run's record: it stays, beside its results, until Start
    assert (new.name, new.check, new.status) == (first.name, "accepted", None)
    assert new.upload.words == "on the kernel's disk"
    assert "new: not in this run" in text(view.html["table"])
    zone.mark_sent([])  # a new Start: the withdrawn row goes
    view.flush()
    assert [r.check for r in view.rows] == ["accepted"]
    view.close()
    zone.close()


def _planned(name: str) -> PlannedFile:
    return PlannedFile(name=name, size=10)
