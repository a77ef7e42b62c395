"""The one task keeper: callbacks on the page's loop whatever thread delivers them, kept tasks,
painted failures, and buttons that say they are busy without losing the keyboard focus.

ipykernel 7 delivers some widget messages on a *subshell* thread running an event loop of its
own; here a plain thread running ``asyncio.run`` stands for it (the real subshell is driven by
the browser test that picks two stories in a row).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import pytest

from batchkit.errors import RunError
from batchkit.widgets import Level, Notifier, TaskKeeper, describe_error


def on_a_subshell(deliver: Callable[[], Any]) -> None:
    """Call ``deliver()`` from another thread, inside that thread's own running event loop."""
    failures: list[BaseException] = []

    async def inside() -> None:
        deliver()

    def thread() -> None:
        try:
            asyncio.run(inside())
        except BaseException as error:  # re-raised on the test's thread below
            failures.append(error)

    runner = threading.Thread(target=thread)
    runner.start()
    runner.join()
    if failures:
        raise failures[0]


async def test_a_callback_from_another_thread_runs_on_the_pages_loop() -> None:
    page_loop = asyncio.get_running_loop()
    keeper = TaskKeeper()
    seen: list[tuple[int, asyncio.AbstractEventLoop]] = []
    arrived = asyncio.Event()

    def handler(value: int) -> None:
        seen.append((threading.get_ident(), asyncio.get_running_loop()))
        arrived.set()

    on_a_subshell(lambda: keeper.callback(handler, failure="failed")(1))
    await asyncio.wait_for(arrived.wait(), timeout=5)
    assert seen == [(threading.get_ident(), page_loop)]
    assert keeper.handed_over == 1


async def test_a_coroutine_spawned_from_another_thread_runs_on_the_pages_loop() -> None:
    page_loop = asyncio.get_running_loop()
    keeper = TaskKeeper()
    loops: list[asyncio.AbstractEventLoop] = []
    lock = asyncio.Lock()  # bound to the page's loop at first use, like the client's pool

    async def work() -> str:
        async with lock:
            loops.append(asyncio.get_running_loop())
        return "done"

    async with lock:  # the page's loop owns it now: a foreign loop would fail on it
        futures: list[Any] = []
        on_a_subshell(lambda: futures.append(keeper.spawn(work(), failure="failed")))
    assert await asyncio.wrap_future(futures[0]) == "done"
    assert loops == [page_loop]


async def test_a_failing_callback_is_painted_even_from_another_thread() -> None:
    notifier = Notifier()
    painted = asyncio.Event()

    def report(text: str) -> None:
        notifier.error(text)
        painted.set()

    keeper = TaskKeeper(report)

    def broken(_: object) -> None:
        raise RunError("the server went away")

    on_a_subshell(lambda: keeper.callback(broken, failure="could not pick")(None))
    await asyncio.wait_for(painted.wait(), timeout=5)  # handed over: painted on this loop
    assert (notifier.log[-1].level, notifier.log[-1].text) == (
        Level.ERROR,
        "could not pick: the server went away",
    )


async def test_callbacks_keep_their_order_across_threads() -> None:
    keeper = TaskKeeper()
    order: list[str] = []
    both = asyncio.Event()

    def note(word: str) -> None:
        order.append(word)
        if len(order) == 2:
            both.set()

    on_a_subshell(lambda: keeper.call(note, "first", failure="x"))
    keeper.call(note, "second", failure="x")  # on the page's thread, after it
    assert order == []  # waits behind the one handed over, so the order holds
    await asyncio.wait_for(both.wait(), timeout=5)
    assert order == ["first", "second"]
    keeper.call(order.append, "third", failure="x")
    assert order[-1] == "third"  # nothing queued: run at once


async def test_a_failing_task_is_painted_not_lost() -> None:
    notifier = Notifier()
    keeper = TaskKeeper(notifier.error)

    async def broken() -> None:
        raise RunError("the server went away")

    task = keeper.spawn(broken(), failure="could not start")
    assert task in keeper.tasks  # referenced while it runs
    await keeper.wait()
    assert keeper.tasks == set()
    assert keeper.failures == 1
    assert notifier.log[-1].text == "could not start: the server went away"
    assert "could not start: the server went away" in notifier.message


async def test_cancelled_tasks_are_not_failures() -> None:
    notifier = Notifier()
    keeper = TaskKeeper(notifier.error)
    keeper.spawn(asyncio.Event().wait(), failure="waiting")
    await keeper.cancel_all()
    assert keeper.failures == 0
    assert notifier.log == []


async def test_a_busy_button_says_so_ignores_presses_and_keeps_its_focus() -> None:
    button = widgets.Button(description="Start")
    release = asyncio.Event()
    settled: list[bool] = []
    keeper = TaskKeeper(on_settled=lambda: settled.append(button.disabled))
    runs = 0

    async def work() -> str:
        nonlocal runs
        runs += 1
        await release.wait()
        return "ok"

    task = keeper.run(button, work, failure="could not start")
    assert task is not None
    assert button.description == "Start…"
    assert not button.disabled  # a disabled button would drop the keyboard focus
    assert keeper.busy(button)
    assert keeper.run(button, work, failure="could not start") is None  # a second press
    release.set()
    assert await task == "ok"
    await keeper.wait()
    assert runs == 1
    assert button.description == "Start"
    assert settled == [False]  # the page decided afresh once the work ended


async def test_after_the_work_the_page_decides_not_the_state_before_the_press() -> None:
    # The old Busy put back the pre-press `disabled`: Retry came back enabled while the retry
    # it had started was running. Here the page's own rule decides.
    button = widgets.Button(description="Retry failed")
    running = {"now": False}

    def refresh() -> None:
        button.disabled = running["now"]

    keeper = TaskKeeper(on_settled=refresh)

    async def retry() -> None:
        running["now"] = True  # the retry started a batch that keeps running

    keeper.run(button, retry, failure="could not retry")
    await keeper.wait()
    assert button.disabled
    assert button.description == "Retry failed"


async def test_a_failure_in_a_buttons_work_is_painted_where_asked() -> None:
    notifier = Notifier()
    keeper = TaskKeeper(notifier.error)
    button = widgets.Button(description="Regenerate")

    async def work() -> None:
        raise RuntimeError("the story service is down")

    keeper.run(button, work, failure="could not regenerate", report=notifier.reporter("stories"))
    await keeper.wait()
    assert notifier.log[-1].place == "stories"
    assert notifier.log[-1].text == "could not regenerate: RuntimeError: the story service is down"
    assert "the story service is down" in notifier.message_in("stories")
    assert notifier.message == ""  # not painted far away, at the page's bottom
    assert button.description == "Regenerate"


def test_without_a_loop_callbacks_run_where_called_and_spawn_refuses() -> None:
    keeper = TaskKeeper()
    seen: list[int] = []
    keeper.callback(seen.append, failure="x")(1)
    assert seen == [1]

    async def work() -> None:
        return None

    with pytest.raises(RuntimeError, match="no event loop"):
        keeper.spawn(work(), failure="x")


def test_describe_error_names_foreign_exceptions() -> None:
    assert describe_error(RunError("no run")) == "no run"
    assert describe_error(ValueError("bad")) == "ValueError: bad"
    assert describe_error(KeyError()) == "KeyError"
