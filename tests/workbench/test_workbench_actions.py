"""The workbench's actions without a browser: retry, regenerate, new batch, start over, media.

As in test_workbench.py: real server and files, buttons clicked, waits on the workbench's own
conditions, never on sleeps. The media test that delivers a pick on another thread stands for
ipykernel's subshell threads (the browser test picks two stories in a real JupyterLab).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from batchkit.samples import sample_paths
from batchkit.server.launcher import EmbeddedServer, start_embedded_server
from batchkit.tracker import FileStatus
from batchkit.workbench import Workbench
from workbench.made_runs import USERS, bad_files
from workbench.page_reading import last_notice_in, open_workbench, reason


def yes_in(slot: Any) -> Any:
    [dialog] = slot.children
    return next(w for w in dialog.children if "bk-confirm-yes" in w._dom_classes)


def cancel_in(slot: Any) -> Any:
    [dialog] = slot.children
    return next(w for w in dialog.children if "bk-confirm-no" in w._dom_classes)


# ---------------------------------------------------------------- retry
async def test_retry_sends_the_failed_files_again_in_the_same_run_with_their_titles(
    tmp_path: Path,
) -> None:
    with start_embedded_server(
        data_dir=tmp_path / "srv", users=USERS, fail_rates={"audio": 1.0}
    ) as server:
        wb = await open_workbench(server, tmp_path)
        try:
            # One file is rejected before it is sent, and has a title of its own: a title for a
            # file that is not retried made the retry fail ("titles: no file is named ...").
            bad = bad_files(tmp_path / "bad")
            wb.add_files([*sample_paths()[:2], *bad])
            wb.form.set_file_names([*(p.name for p in sample_paths()[:2]), bad[0].name])
            wb.form.controls[f"titles[{sample_paths()[0].name}]"].value = "The first one"
            first = await wb.start()
            await wb.wait()
            assert first.files["status"].tolist() == ["failed", "failed"]
            assert not wb.page.retry.disabled
            assert reason(wb.page.retry_action) == ""
            server.set_fail_rates({"audio": 0.0})
            wb.page.retry.click()
            assert wb.page.retry.description == "Retry failed…"
            await wb.settled()
            # Once the retry runs, Retry is off (the old Busy put the pre-press state back).
            assert wb.running
            assert wb.page.retry.disabled
            assert reason(wb.page.retry_action) == "the batch is still running"
            again = await wb.wait()
            assert again is first  # the same run: no file, no story, no row lost
            assert again.files["status"].tolist() == ["completed", "completed"]
            assert again.files["attempt"].tolist() == [2, 2]
            title = await wb.service.client.story(str(again.files.at[0, "story_id"]))
            assert title.title == "The first one"  # its own title went with it
            shown = [(r.name, r.status, r.attempt) for r in wb.view.rows]
            assert shown == [
                *((p.name, "completed", 2) for p in sample_paths()[:2]),
                (bad[0].name, None, 1),
                (bad[1].name, None, 1),
            ]  # the same rows, in their places, each with its attempt
            assert wb.page.retry.disabled
            assert len(wb.media.choice.options) == 3  # both stories offered, and "pick one"
            assert last_notice_in(wb, "run")[0] == "success"
        finally:
            await wb.close()


async def test_after_the_list_is_cleared_retry_still_sends_what_reached_the_server(
    tmp_path: Path,
) -> None:
    with start_embedded_server(
        data_dir=tmp_path / "srv", users=USERS, fail_rates={"audio": 1.0}
    ) as server:
        wb = await open_workbench(server, tmp_path)
        try:
            wb.add_files(sample_paths()[:2])
            run = await wb.start()
            await wb.wait()
            wb.zone.clear()  # the notebook's own "your documents" cell
            # The run's rows stay in the table as its record, beside their results...
            assert [r.check for r in (wb.view.flush(), wb.view.rows)[1]] == ["withdrawn"] * 2
            # ...and their uploads are on the server: Retry can still send them.
            assert not wb.page.retry.disabled
            server.set_fail_rates({"audio": 0.0})
            wb.page.retry.click()
            await wb.settled()
            assert (await wb.wait()) is run
            assert run.files["status"].tolist() == ["completed", "completed"]
        finally:
            await wb.close()


# ---------------------------------------------------------------- regenerate
async def test_regenerate_asks_first_then_makes_the_story_again(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:2])
    run = await wb.start()
    await wb.wait()
    assert wb.page.regenerate_file.value == 0  # the first completed file, chosen for you
    wb.page.regenerate_file.value = 1
    assert wb.page.regenerate.disabled
    assert reason(wb.page.regenerate_action) == "write a prompt for the new story"
    wb.page.regenerate_prompt.value = "Tell it as a sea shanty."
    assert not wb.page.regenerate.disabled
    wb.page.regenerate.click()
    dialog = wb.page.regenerate_confirm.children[0]
    assert "market_day.docx" in dialog.children[0].value  # the question names the file
    assert not any(f.kind == "regenerate" for f in run.facts)  # nothing happens before yes
    yes_in(wb.page.regenerate_confirm).click()
    await wb.settled()
    assert any(f.kind == "regenerate" and f.index == 1 for f in run.facts)
    await wb.wait()
    assert run.status_of(1) is FileStatus.COMPLETED
    # The end speaks of the regenerated file, where it was asked for; not of the old run.
    assert last_notice_in(wb, "stories") == ("success", "generated again: market_day.docx")
    assert wb.status == "done: all 2 files completed"
    assert wb.view.row("market_day.docx").attempt == 2  # the same row, its attempt shown
    assert len(wb.view.rows) == 2


async def test_regenerate_is_off_without_a_prompt_and_says_so(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:1])
    await wb.start()
    await wb.wait()
    wb.page.regenerate_file.value = 0
    assert wb.page.regenerate.disabled
    wb.page.regenerate.click()  # pressed from code anyway: it asks nothing, it says why
    assert last_notice_in(wb, "stories") == ("warning", "write a prompt for the new story")
    assert wb.page.regenerate_confirm.children == ()


# ---------------------------------------------------------------- new batch, start over
async def test_a_new_batch_while_one_runs_asks_first(
    paced_server: EmbeddedServer, tmp_path: Path
) -> None:
    wb = await open_workbench(paced_server, tmp_path)
    try:
        wb.add_files(sample_paths()[:1])
        first = await wb.start()
        assert wb.running
        assert not wb.page.start.disabled
        wb.page.start.click()
        cancel_in(wb.page.confirm_slot).click()  # Cancel: keep following the first batch
        await wb.settled()
        assert wb.run is first
        assert wb.running
        wb.page.start.click()
        yes_in(wb.page.confirm_slot).click()  # Yes: start a new batch
        await wb.settled()
        assert wb.run is not first
        second = await wb.wait()
        assert second.files["status"].tolist() == ["completed"]
    finally:
        await wb.close()


async def test_start_over_while_running_asks_then_clears_everything(
    paced_server: EmbeddedServer, tmp_path: Path
) -> None:
    wb = await open_workbench(paced_server, tmp_path)
    try:
        wb.add_files(sample_paths()[:2])
        await wb.start()
        wb.page.start_over.click()
        assert wb.running  # not before the user says yes
        yes_in(wb.page.confirm_slot).click()
        await wb.settled()
        assert not wb.running
        assert wb.zone.entries == ()
        assert wb.view.run is None
        assert wb.status == "ready: choose documents"
        assert last_notice_in(wb, "files")[0] == "info"
        assert wb.page.start_over.disabled
        assert reason(wb.page.start_over_action) == "nothing to clear"
    finally:
        await wb.close()


async def test_start_over_after_a_run_asks_first_too(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:1])
    await wb.start()
    await wb.wait()
    wb.page.start_over.click()
    assert len(wb.zone.entries) == 1  # the results are still there until the user says yes
    assert "Clear the files" in wb.page.confirm_slot.children[0].children[0].value
    cancel_in(wb.page.confirm_slot).click()
    await wb.settled()
    assert len(wb.zone.entries) == 1
    assert wb.view.run is not None


# ---------------------------------------------------------------- media
async def test_picking_a_story_shows_its_images_and_audio(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:2])
    run = await wb.start()
    await wb.wait()
    assert wb.media.view.shown == ()  # nothing is fetched before a pick
    story_id = str(run.files.at[0, "story_id"])
    wb.media.choice.value = story_id
    await wb.settled()
    items = wb.media.view.shown
    images = [item for item in items if item.kind == "image"]
    assert len(images) == int(run.files.at[0, "images_chunks"])
    assert {item.state for item in items} == {"ready"}
    assert {item.format for item in images} == {"png"}
    assert all(item.alt.startswith("Image ") and "for “" in item.alt for item in images)
    [audio] = [item for item in items if item.kind == "audio"]  # the merged audio
    assert audio.format == "wav"
    assert all(b"data" not in repr(state).encode() for state in wb.media.view.items)
    first_bytes = wb.media.view.held_bytes
    assert first_bytes > 0
    # Another pick replaces the media: only the story on show is held, bytes and all.
    second = str(run.files.at[1, "story_id"])
    wb.media.choice.value = second
    await wb.settled()
    assert wb.media.shown == second
    assert {item.state for item in wb.media.view.shown} == {"ready"}
    assert wb.media.view.held_bytes != first_bytes


async def test_a_pick_delivered_on_another_thread_fetches_on_the_pages_loop(
    wb: Workbench,
) -> None:
    # ipykernel 7 delivered the second pick on a subshell thread with a loop of its own, and
    # the fetch ran there: "... is bound to a different event loop", on every second pick.
    wb.add_files(sample_paths()[:2])
    run = await wb.start()
    await wb.wait()
    first, second = (str(run.files.at[i, "story_id"]) for i in (0, 1))
    wb.media.choice.value = first
    await wb.settled()

    def subshell() -> None:
        async def deliver() -> None:
            wb.media.choice.value = second

        asyncio.run(deliver())

    thread = threading.Thread(target=subshell)
    thread.start()
    # The pick was handed to this loop before the thread ended, so it ran before this resumes.
    await asyncio.to_thread(thread.join)
    assert wb.media.shown == second
    await wb.settled()
    assert [n for n in wb.notifier.log if n.level.value == "error"] == []
    assert {item.state for item in wb.media.view.shown} == {"ready"}
    assert wb.keeper.handed_over >= 1


async def test_a_new_list_of_stories_keeps_the_media_on_show(wb: Workbench) -> None:
    fetched: list[str] = []
    fetch_story = wb.media._fetch_story

    async def counting(story_id: str) -> Any:
        fetched.append(story_id)
        return await fetch_story(story_id)

    wb.media._fetch_story = counting
    wb.add_files(sample_paths()[:2])
    run = await wb.start()
    await wb.wait()
    first, second = (str(run.files.at[i, "story_id"]) for i in (0, 1))
    wb.media.choice.value = first
    await wb.settled()
    shown = wb.media.view.shown
    wb.media.set_stories([("a", first), ("b", second), ("c", "another")])
    await wb.settled()
    assert fetched == [first]  # no second fetch
    assert wb.media.view.shown == shown
    assert wb.media.choice.value == first
    wb.media.set_stories([("b", second)])  # the story shown is gone from the list
    assert wb.media.shown == ""
    assert wb.media.view.shown == ()
    assert wb.media.view.held_bytes == 0
