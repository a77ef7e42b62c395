"""Notices, confirmations and busy buttons: shown in words, answered once, never lost."""

from __future__ import annotations

import asyncio

import ipywidgets as widgets
import pytest

from batchkit.widgets import Busy, Level, Notifier, confirm


def test_notices_are_escaped_logged_and_kept() -> None:
    notifier = Notifier()
    notifier.info("uploading <3> files")
    notifier.error("server said <b>no</b>")
    assert [(n.level, n.text) for n in notifier.log] == [
        (Level.INFO, "uploading <3> files"),
        (Level.ERROR, "server said <b>no</b>"),
    ]
    assert "server said &lt;b&gt;no&lt;/b&gt;" in notifier.message
    assert "<b>no</b>" not in notifier.message
    assert "error:" in notifier.message  # the level in words, not only a colour
    assert "uploading &lt;3&gt; files" in notifier._log_view.value
    assert "bk-notify" in notifier.widget._dom_classes


async def test_a_notice_fades_but_an_error_stays() -> None:
    notifier = Notifier(linger=0.01)
    notifier.success("saved")
    assert notifier._fade is not None
    faded = asyncio.Event()
    notifier._message.observe(lambda _: faded.set(), names="value")
    await asyncio.wait_for(faded.wait(), timeout=2.0)
    assert notifier.message == ""
    notifier.error("broken")
    assert notifier._fade is None
    assert "broken" in notifier.message


def test_confirm_runs_the_action_only_on_yes() -> None:
    done: list[str] = []
    dialog = confirm("Start over and lose this run?", lambda: done.append("yes"))
    text, yes, no = dialog.children
    assert "Start over and lose this run?" in text.value
    assert yes.description == "Yes"
    assert yes.tooltip
    assert no.tooltip
    no.click()
    assert done == []
    assert dialog.layout.display == "none"
    dialog = confirm("Remove <all>?", lambda: done.append("yes"))
    assert "Remove &lt;all&gt;?" in dialog.children[0].value
    dialog.children[1].click()
    assert done == ["yes"]
    assert dialog.children[1].disabled


async def test_busy_shows_the_wait_and_restores_the_button() -> None:
    button = widgets.Button(description="Start")
    release = asyncio.Event()

    async def work() -> str:
        await release.wait()
        return "ok"

    busy = Busy()
    task = busy.run(button, work)
    assert (button.disabled, button.description) == (True, "Start…")
    assert busy.tasks == {task}
    release.set()
    assert await task == "ok"
    await busy.wait()
    assert (button.disabled, button.description) == (False, "Start")
    assert busy.tasks == set()


async def test_busy_paints_a_failure_into_the_notifier() -> None:
    notifier = Notifier()
    button = widgets.Button(description="Regenerate")

    async def work() -> None:
        raise RuntimeError("the story service is down")

    busy = Busy(notifier)
    task = busy.run(button, work, failure="could not regenerate")
    await busy.wait()
    assert task.done()
    with pytest.raises(RuntimeError):
        task.result()
    assert notifier.log[-1].level is Level.ERROR
    assert notifier.log[-1].text == "could not regenerate: the story service is down"
    assert (button.disabled, button.description) == (False, "Regenerate")


def test_busy_needs_a_running_loop_and_leaves_the_button_alone_without_one() -> None:
    button = widgets.Button(description="Start")

    async def work() -> None:
        return None

    with pytest.raises(RuntimeError):
        Busy().run(button, work)
    assert (button.disabled, button.description) == (False, "Start")
