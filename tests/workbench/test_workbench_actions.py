"""The workbench's actions without a browser: retry, regenerate, new batch, start over, media.

As in test_workbench.py: real server and files, buttons clicked, waits on the workbench's own
conditions, never on sleeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets

from batchkit.samples import sample_paths
from batchkit.server.launcher import EmbeddedServer, start_embedded_server
from batchkit.tracker import FileStatus
from batchkit.workbench import Workbench
from workbench.made_runs import USERS, bad_files
from workbench.page_reading import last_notice, open_workbench


# ---------------------------------------------------------------- actions
async def test_retry_failed_runs_the_failed_files_again_as_a_new_batch(tmp_path: Path) -> None:
    with start_embedded_server(
        data_dir=tmp_path / "srv", users=USERS, fail_rates={"audio": 1.0}
    ) as server:
        wb = await open_workbench(server, tmp_path)
        try:
            wb.add_files([*sample_paths()[:2], *bad_files(tmp_path / "bad")])
            first = await wb.start()
            await wb.wait()
            assert first.files["status"].tolist() == ["failed", "failed"]
            assert not wb.page.retry.disabled
            server.set_fail_rates({"audio": 0.0})
            wb.page.retry.click()
            await wb.settled()
            second = await wb.wait()
            assert second is not first
            assert second.files["name"].tolist() == [p.name for p in sample_paths()[:2]]
            assert second.files["status"].tolist() == ["completed", "completed"]
            assert wb.page.retry.disabled
        finally:
            await wb.close()


async def test_regenerate_asks_first_then_makes_the_story_again(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:2])
    run = await wb.start()
    await wb.wait()
    assert wb.page.regenerate_file.value == 0  # the first completed file, chosen for you
    wb.page.regenerate_file.value = 1
    wb.page.regenerate_prompt.value = "Tell it as a sea shanty."
    wb.page.regenerate.click()
    dialog = wb.page.regenerate_confirm.children[0]
    assert "market_day.docx" in dialog.children[0].value  # the question names the file
    assert not any(f.kind == "regenerate" for f in run.facts)  # nothing happens before yes
    yes = dialog.children[1]
    yes.click()
    await wb.settled()
    assert any(f.kind == "regenerate" and f.index == 1 for f in run.facts)
    await wb.wait()
    assert run.status_of(1) is FileStatus.COMPLETED
    assert wb.status == "done: all 2 files completed"


async def test_regenerate_needs_a_prompt(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:1])
    await wb.start()
    await wb.wait()
    wb.page.regenerate_file.value = 0
    wb.page.regenerate.click()
    assert last_notice(wb) == ("warning", "write a prompt for the new story")
    assert wb.page.regenerate_confirm.children == ()


async def test_a_new_batch_while_one_runs_asks_first(
    paced_server: EmbeddedServer, tmp_path: Path
) -> None:
    wb = await open_workbench(paced_server, tmp_path)
    try:
        wb.add_files(sample_paths()[:1])
        first = await wb.start()
        assert wb.running
        wb.page.start.click()
        dialog = wb.page.confirm_slot.children[0]
        dialog.children[2].click()  # Cancel: keep following the first batch
        await wb.settled()
        assert wb.run is first
        assert wb.running
        wb.page.start.click()
        wb.page.confirm_slot.children[0].children[1].click()  # Yes: start a new batch
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
        wb.page.confirm_slot.children[0].children[1].click()
        await wb.settled()
        assert not wb.running
        assert wb.zone.documents == []
        assert wb.page.progress_slot.children == ()
        assert wb.status == "ready: choose documents"
        assert last_notice(wb)[0] == "info"
    finally:
        await wb.close()


# ---------------------------------------------------------------- media
async def test_picking_a_story_shows_its_images_and_audio(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:2])
    run = await wb.start()
    await wb.wait()
    assert wb.media.body.children == ()  # nothing is fetched before a pick
    story_id = str(run.files.at[0, "story_id"])
    wb.media.choice.value = story_id
    await wb.settled()
    parts = list(wb.media.body.children)
    images = [w for w in parts[1].children if isinstance(w, widgets.Image)]
    assert len(images) == int(run.files.at[0, "images_chunks"])
    assert all(bytes(image.value).startswith(b"\x89PNG") for image in images)
    assert {image.format for image in images} == {"png"}
    players = [c for part in parts[2:] for c in part.children if isinstance(c, widgets.Audio)]
    assert len(players) == 1  # the merged audio
    assert bytes(players[0].value)[:4] == b"RIFF"
    assert players[0].format == "wav"
    # Another pick replaces the media: the first story's widgets are closed, bytes and all.
    wb.media.choice.value = str(run.files.at[1, "story_id"])
    await wb.settled()
    assert all(image.comm is None for image in images)
    assert wb.media.shown == run.files.at[1, "story_id"]


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
    shown = wb.media.body.children
    wb.media.set_stories([("a", first), ("b", second), ("c", "another")])
    await wb.settled()
    assert fetched == [first]  # no second fetch
    assert wb.media.body.children == shown
    assert wb.media.choice.value == first
    wb.media.set_stories([("b", second)])  # the story shown is gone from the list
    assert wb.media.shown == ""
    assert wb.media.body.children == ()
