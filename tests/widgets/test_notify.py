"""Notices and confirmations: shown where their cause is, in words, answered once, never lost;
and a closed widget tree leaves no widget model behind."""

from __future__ import annotations

import asyncio

import ipywidgets as widgets
from ipywidgets.widgets.widget import _instances

from batchkit.widgets import Level, Notifier, ask, close_tree, confirm
from widgets.conftest import Recorder


def test_notices_are_escaped_logged_and_shown_in_their_place() -> None:
    notifier = Notifier()
    notifier.info("uploading <3> files", place="files")
    notifier.error("server said <b>no</b>", place="run")
    assert [(n.level, n.text, n.place) for n in notifier.log] == [
        (Level.INFO, "uploading <3> files", "files"),
        (Level.ERROR, "server said <b>no</b>", "run"),
    ]
    run = notifier.message_in("run")
    assert "server said &lt;b&gt;no&lt;/b&gt;" in run
    assert "<b>no</b>" not in run
    assert "error:" in run  # the level in words, not only a colour
    assert "uploading &lt;3&gt; files" in notifier.message_in("files")
    assert notifier.message == ""  # nothing was sent to the page-wide line
    assert "uploading &lt;3&gt; files" in notifier._log_list.value
    assert notifier._log_box.label == "Log (2)"


def test_an_error_goes_to_the_alert_region_anything_else_to_the_polite_one() -> None:
    notifier = Notifier()
    place = notifier.place("run")
    notifier.error("broken", place="run")
    alert, status = place.widget.html.split("</div><div")
    assert 'role="alert"' in alert
    assert "broken" in alert
    assert "broken" not in status
    notifier.success("fixed", place="run")
    alert, status = place.widget.html.split("</div><div")
    assert "fixed" in status
    assert "broken" not in alert  # the regions stay; only their words change


async def test_a_notice_fades_but_an_error_stays() -> None:
    notifier = Notifier(linger=0.01)
    place = notifier.place("run")
    notifier.success("saved", place="run")
    faded = asyncio.Event()
    place.widget.observe(lambda _: faded.set(), names="html")
    await asyncio.wait_for(faded.wait(), timeout=2.0)
    assert notifier.message_in("run") == ""
    notifier.error("broken", place="run")
    assert place._fade is None
    assert "broken" in notifier.message_in("run")


def test_confirm_runs_the_action_only_on_yes_and_gives_the_focus_back(comms: Recorder) -> None:
    done: list[str] = []
    asked_by = widgets.Button(description="Start over")
    slot = widgets.VBox([])
    question = "Start over and lose this run?"
    dialog = confirm(question, lambda: done.append("yes"), return_to=asked_by)
    since = len(comms.sent)
    ask(slot, dialog)
    text, yes, no = dialog.children
    focused = [s.comm_id for s in comms.sent[since:] if s.data.get("content") == {"do": "focus"}]
    assert focused == [no.comm.comm_id]  # the keyboard lands on the question, on its safe answer
    assert "Start over and lose this run?" in text.value
    assert yes.description == "Yes"
    assert yes.tooltip
    assert no.tooltip
    since = len(comms.sent)
    no.click()
    assert done == []
    assert dialog.layout.display == "none"
    focused = [s.comm_id for s in comms.sent[since:] if s.data.get("content") == {"do": "focus"}]
    assert focused == [asked_by.comm.comm_id]
    dialog = confirm("Remove <all>?", lambda: done.append("yes"))
    assert "Remove &lt;all&gt;?" in dialog.children[0].value
    dialog.children[1].click()
    assert done == ["yes"]
    assert dialog.children[1].disabled


def test_close_tree_closes_layouts_and_styles_too() -> None:
    # A view dropped with close() left its children, and every widget's Layout and Style
    # models (each a widget of its own), in the kernel and the page.
    before = set(_instances)
    box = widgets.VBox(
        [widgets.Button(description="a"), widgets.HBox([widgets.HTML("b"), widgets.IntText()])]
    )
    made = set(_instances) - before
    assert len(made) > 5  # four widgets, each with a layout, some with a style
    close_tree(box)
    assert set(_instances) - before == set()


def test_a_new_question_closes_the_one_left_in_the_slot() -> None:
    before = set(_instances)
    slot = widgets.VBox([])
    ask(slot, confirm("First?", lambda: None))
    ask(slot, confirm("Second?", lambda: None))
    assert len(slot.children) == 1
    assert "Second?" in slot.children[0].children[0].value
    close_tree(slot)
    assert set(_instances) - before == set()
