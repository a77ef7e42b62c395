"""The workbench page without a browser: real server, real files, widgets driven by their traits.

Buttons are pressed with ``.click()`` and form fields set through their ``value``; waits are on
the workbench's own conditions (``settled()``: the page's actions are over; ``wait()``: the run
is over and painted), never on sleeps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from batchkit.client import RetryPolicy, StoryClient
from batchkit.config import BatchConfig
from batchkit.samples import sample_paths
from batchkit.server.launcher import EmbeddedServer, start_embedded_server
from batchkit.session import StoryService
from batchkit.workbench import Workbench
from workbench.made_runs import USERS, bad_files
from workbench.page_reading import PASSWORD, last_notice, page_html, page_text


# ---------------------------------------------------------------- the whole flow
async def test_a_batch_from_code_completes_and_the_page_shows_it(wb: Workbench) -> None:
    wb.add_files(sample_paths())
    run = await wb.start(BatchConfig(words_per_chunk_image=300))
    assert wb.run is run
    assert wb.files is run.files
    await wb.wait()
    assert wb.status == "done: all 4 files completed"
    assert "done: all 4 files completed" in wb.page.header.value
    assert last_notice(wb) == ("success", "all 4 files completed")
    view = wb.page.progress_slot.children[0]
    assert "bk-final-ok" in view._dom_classes
    assert (run.files["status"] == "completed").all()
    # What can be done next: regenerate or show any of the four stories; nothing to retry.
    assert [label for label, _ in wb.page.regenerate_file.options] == [
        p.name for p in sample_paths()
    ]
    assert not wb.page.regenerate.disabled
    assert wb.page.retry.disabled
    assert len(wb.media.choice.options) == 5  # the "pick one" entry and the four stories
    assert not wb.zone.disabled


async def test_pressing_start_runs_the_files_in_the_zone(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:2])
    assert wb.form.file_names == [p.name for p in sample_paths()[:2]]
    wb.page.start.click()
    assert wb.page.start.disabled  # loading state while it starts
    await wb.settled()
    assert not wb.page.start.disabled
    assert wb.page.start.description == "Start"
    run = await wb.wait()
    assert run.files["name"].tolist() == [p.name for p in sample_paths()[:2]]
    assert wb.status.startswith("done")


async def test_the_page_shows_the_server_url_but_never_a_secret(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:1])
    await wb.start()
    await wb.wait()
    token = wb.service.client.token
    assert token
    text = page_text(wb)
    assert wb.service.url in wb.page.header.value
    assert token not in text
    assert PASSWORD not in text
    assert token not in repr(wb)
    assert PASSWORD not in repr(wb)


async def test_file_names_are_shown_as_text_never_as_html(wb: Workbench, tmp_path: Path) -> None:
    hostile = tmp_path / "<img src=x onerror=alert(1)>.txt"
    hostile.write_text("A short story about a careful cat. " * 20, encoding="utf-8")
    wb.add_files([hostile])
    await wb.start()
    await wb.wait()
    assert wb.files["status"].tolist() == ["completed"]
    markup = "\n".join(page_html(wb.widget))
    assert "<img src=x" not in markup
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in markup
    # Where a name is plain text (a dropdown's label), it is the name itself.
    assert [label for label, _ in wb.page.regenerate_file.options] == [hostile.name]


# ---------------------------------------------------------------- mistakes never crash it
async def test_start_without_files_says_so_and_nothing_runs(wb: Workbench) -> None:
    wb.page.start.click()
    await wb.settled()
    level, text = last_notice(wb)
    assert level == "error"
    assert "choose at least one document" in text
    assert wb.status == "ready: choose documents"
    with pytest.raises(Exception, match="no batch yet"):
        _ = wb.run


async def test_invalid_settings_are_refused_and_the_settings_unfold(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:1])
    wb.form.controls["words_per_chunk_image"].value = 10
    assert wb.form.errors
    wb.page.start.click()
    await wb.settled()
    level, text = last_notice(wb)
    assert level == "error"
    assert "words_per_chunk_image" in text
    assert wb.page.settings.selected_index == 0
    assert wb.page.progress_slot.children == ()


async def test_a_server_that_went_away_fails_the_files_and_the_page_says_so(
    tmp_path: Path,
) -> None:
    # Two quick tries instead of the default patient back-off: the test is about the page.
    retry = RetryPolicy(attempts=2, base_delay=0.01)
    with start_embedded_server(data_dir=tmp_path / "gone", users=USERS) as server:
        client = StoryClient(server.url, username="ada", password=PASSWORD, env={}, retry=retry)
        await client.login()
        service = StoryService(client)
        wb = Workbench(service, options=await client.options(), owns_service=True)
    try:
        # The server has stopped: uploads cannot connect.
        wb.add_files(sample_paths()[:2])
        wb.page.start.click()
        await wb.settled()
        run = await wb.wait()
        assert (run.files["status"] == "failed").all()
        assert run.files["error"].str.contains("upload failed").all()
        assert wb.status == "done: 0 completed, 2 failed"
        assert last_notice(wb)[0] == "error"
        assert "bk-final-failed" in wb.page.progress_slot.children[0]._dom_classes
        assert not wb.page.retry.disabled  # accepted files that failed can be retried
    finally:
        await wb.close()


async def test_a_rejected_file_stays_in_the_list_and_the_good_ones_run(
    wb: Workbench, tmp_path: Path
) -> None:
    wb.add_files([sample_paths()[0], *bad_files(tmp_path / "bad")])
    assert [r.name for r in wb.zone.rejections] == ["empty.txt", "report.pdf"]
    await wb.start()
    run = await wb.wait()
    assert run.files["name"].tolist() == [sample_paths()[0].name]
    assert [r.name for r in wb.zone.rejections] == ["empty.txt", "report.pdf"]


# ---------------------------------------------------------------- opening and closing
async def test_open_without_a_url_starts_the_embedded_server_and_close_stops_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("BATCHKIT_URL", "BATCHKIT_USERNAME", "BATCHKIT_PASSWORD", "BATCHKIT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATCHKIT_PACE", "0")
    wb = await Workbench.open(presets_dir=tmp_path / "presets")
    embedded = wb.service.embedded
    assert embedded is not None
    assert embedded.settings.pace == 0.0
    assert "reference server, embedded in this kernel" in wb.page.header.value
    data_dir = embedded.data_dir
    assert data_dir.exists()
    wb.add_files(sample_paths()[:1])
    await wb.start()
    await wb.wait()
    await wb.close()
    assert not data_dir.exists()  # the server stopped and deleted its temporary data
    assert wb.status == "closed"


async def test_a_workbench_on_a_service_of_your_own_leaves_it_open(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    client = StoryClient(server.url, username="ada", password=PASSWORD, env={})
    async with StoryService(client) as service:
        wb = Workbench(service, options=await client.options(), presets_dir=tmp_path)
        bundle = wb._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
        await wb.close()
        assert (await client.options()).from_server  # still logged in and usable
