"""The workbench page without a browser: real server, real files, widgets driven by their traits.

Buttons are pressed with ``.click()`` and form fields set through their ``value``; waits are on
the workbench's own conditions (``ready()``: logged in; ``settled()``: the page's actions are
over; ``wait()``: the run is over and painted), never on sleeps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from batchkit.client import RetryPolicy, StoryClient
from batchkit.config import BatchConfig
from batchkit.errors import AuthError, RunError
from batchkit.samples import sample_paths
from batchkit.server.launcher import EmbeddedServer, start_embedded_server
from batchkit.session import StoryService
from batchkit.workbench import Workbench
from workbench.made_runs import USERS, bad_files
from workbench.page_reading import (
    PASSWORD,
    last_notice,
    last_notice_in,
    page_html,
    page_text,
    reason,
)


# ---------------------------------------------------------------- the whole flow
async def test_a_batch_from_code_completes_and_the_page_shows_it(wb: Workbench) -> None:
    wb.add_files(sample_paths())
    run = await wb.start(BatchConfig(words_per_chunk_image=300))
    assert wb.run is run
    assert wb.files is run.files
    await wb.wait()
    assert wb.status == "done: all 4 files completed"
    assert "done: all 4 files completed" in wb.page.header.html
    assert last_notice_in(wb, "run") == ("success", "all 4 files completed")
    assert "bk-final-ok" in wb.view.html["overview"]
    # Logged, but not shown again beside the overview's own "Done: all 4 files completed"
    # (and not said a third time to a screen reader after the status line and the overview).
    assert wb.notifier.message_in("run") == ""
    assert (run.files["status"] == "completed").all()
    # The one table shows the same four rows as the DataFrame, each with its result.
    assert [(r.name, r.status) for r in wb.view.rows] == [
        (p.name, "completed") for p in sample_paths()
    ]
    assert [r.upload.words for r in wb.view.rows] == ["on the server"] * 4
    # What can be done next: regenerate or show any of the four stories; nothing to retry.
    assert [label for label, _ in wb.page.regenerate_file.options] == [
        p.name for p in sample_paths()
    ]
    assert reason(wb.page.regenerate_action) == "write a prompt for the new story"
    assert wb.page.retry.disabled
    assert reason(wb.page.retry_action) == "no file failed"
    assert len(wb.media.choice.options) == 5  # the "pick one" entry and the four stories
    assert not wb.zone.disabled


async def test_pressing_start_runs_the_files_and_keeps_the_button_focusable(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:2])
    assert wb.form.file_names == [p.name for p in sample_paths()[:2]]
    assert not wb.page.start.disabled
    wb.page.start.click()
    # Busy while it starts, but never disabled: a disabled button drops the keyboard focus.
    assert wb.page.start.description == "Start…"
    assert not wb.page.start.disabled
    await wb.settled()
    assert wb.page.start.description == "Start"
    run = await wb.wait()
    assert run.files["name"].tolist() == [p.name for p in sample_paths()[:2]]
    assert wb.status.startswith("done")
    assert not wb.page.start.disabled  # the files are still listed: Start runs them again


async def test_the_page_shows_the_server_url_but_never_a_secret(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:1])
    await wb.start()
    await wb.wait()
    token = wb.service.client.token
    assert token
    text = page_text(wb)
    assert wb.service.url in wb.page.header.html
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
async def test_start_without_files_is_off_and_says_why(wb: Workbench) -> None:
    assert wb.page.start.disabled
    assert reason(wb.page.start_action) == "add documents first"
    wb.page.start.click()  # from code a disabled button can still be pressed: it says why
    await wb.settled()
    level, text = last_notice_in(wb, "run")
    assert level == "error"
    assert "choose at least one document" in text
    assert wb.status == "ready: choose documents"
    with pytest.raises(RunError, match="no batch yet"):
        _ = wb.run


async def test_start_is_off_while_a_setting_is_invalid_and_says_which(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:1])
    assert not wb.page.start.disabled
    wb.form.controls["words_per_chunk_image"].value = 10
    assert wb.page.start.disabled  # checked as typed: no need to press Start to learn it
    assert reason(wb.page.start_action) == (
        "fix the settings first: Words per image: must be between 50 and 2000 words, not 10"
    )
    wb.page.start.click()
    await wb.settled()
    level, text = last_notice_in(wb, "run")
    assert level == "error"
    assert "Words per image" in text  # the label the user sees
    assert "words_per_chunk_image" not in text  # never the setting's internal name
    assert wb.page.settings.expanded
    assert wb.view.run is None
    wb.form.controls["words_per_chunk_image"].value = 120
    assert not wb.page.start.disabled
    assert reason(wb.page.start_action) == ""


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
        assert last_notice_in(wb, "run")[0] == "warning"
        assert "bk-final-failed" in wb.view.html["overview"]
        assert [r.upload.words for r in wb.view.rows] == ["upload failed"] * 2
        assert not wb.page.retry.disabled  # accepted files that failed can be retried
        # Removed from the list, they go with their copies: nothing is left to send again.
        # (Retry stayed on and failed with "no longer on the kernel's disk: ['a', 'b']".)
        wb.zone.clear()
        assert wb.page.retry.disabled
        names = [p.name for p in sample_paths()[:2]]
        assert reason(wb.page.retry_action) == (
            f"{names[0]} and {names[1]} were removed before reaching the server"
        )
    finally:
        await wb.close()


async def test_a_rejected_file_stays_in_the_table_and_the_good_ones_run(
    wb: Workbench, tmp_path: Path
) -> None:
    wb.add_files([sample_paths()[0], *bad_files(tmp_path / "bad")])
    assert [r.name for r in wb.zone.rejections] == ["empty.txt", "report.pdf"]
    await wb.start()
    run = await wb.wait()
    assert run.files["name"].tolist() == [sample_paths()[0].name]
    assert [(r.name, r.check, r.status) for r in wb.view.rows] == [
        (sample_paths()[0].name, "accepted", "completed"),
        ("empty.txt", "rejected", None),
        ("report.pdf", "rejected", None),
    ]


# ---------------------------------------------------------------- opening and closing
async def test_open_shows_the_page_at_once_and_says_what_it_waits_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("BATCHKIT_URL", "BATCHKIT_USERNAME", "BATCHKIT_PASSWORD", "BATCHKIT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATCHKIT_PACE", "0")
    wb = await Workbench.open(presets_dir=tmp_path / "presets")
    # Returned before the server is up: the page is there to show, saying what it waits for.
    assert wb.status == "loading batchkit's client…"
    assert wb.page.start.disabled
    assert reason(wb.page.start_action).startswith("waiting for the server: ")
    with pytest.raises(RunError, match="not ready yet"):
        _ = wb.service
    wb.add_files(sample_paths()[:1])  # files can be chosen meanwhile
    await wb.ready()
    embedded = wb.service.embedded
    assert embedded is not None
    assert embedded.settings.pace == 0.0
    assert "reference server, embedded in this kernel" in wb.page.header.html
    assert wb.status == "ready: choose documents"
    assert not wb.page.start.disabled
    data_dir = embedded.data_dir
    assert data_dir.exists()
    await wb.start()
    await wb.wait()
    await wb.close()
    assert not data_dir.exists()  # the server stopped and deleted its temporary data
    assert wb.status == "closed"


async def test_a_refused_login_is_shown_on_the_page_and_raised_by_ready(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    wb = await Workbench.open(
        server.url, username="ada", password="not-the-password", presets_dir=tmp_path
    )
    try:
        with pytest.raises(AuthError):
            await wb.ready()
        await wb.settled()
        level, text = last_notice_in(wb, "run")
        assert level == "error"
        assert text.startswith("could not reach the Story API: ")
        with pytest.raises(AuthError):
            await wb.start()
    finally:
        await wb.close()


async def test_a_workbench_on_a_service_of_your_own_leaves_it_open(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    client = StoryClient(server.url, username="ada", password=PASSWORD, env={})
    async with StoryService(client) as service:
        wb = Workbench(service, options=await client.options(), presets_dir=tmp_path)
        assert wb.status == "ready: choose documents"
        bundle = wb._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
        await wb.close()
        assert (await client.options()).from_server  # still logged in and usable


async def test_wb_files_is_the_raw_live_frame_and_shows_itself_readably(wb: Workbench) -> None:
    wb.add_files(sample_paths()[:2])
    await wb.start()
    await wb.wait()
    files = wb.files
    assert type(files).__name__ == "DataFrame"  # raw: the same object the run updates
    assert files is wb.run.files
    assert str(files["elapsed_s"].dtype) == "Float64"
    assert files["error"].isna().all()
    html = files._repr_html_()
    assert "&lt;NA&gt;" not in html  # blanks, not <NA>
    elapsed = float(files.at[0, "elapsed_s"])
    assert f"<td>{elapsed:.1f}</td>" in html  # rounded for the eye
    assert last_notice(wb)[0] == "success"


async def test_closing_the_page_leaves_no_widget_behind(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    from ipywidgets.widgets.widget import _instances

    before = set(_instances)
    client = StoryClient(server.url, username="ada", password=PASSWORD, env={})
    async with StoryService(client) as service:
        wb = Workbench(service, options=await client.options(), presets_dir=tmp_path)
        wb.add_files(sample_paths()[:2])
        run = await wb.start()
        await wb.wait()
        wb.media.choice.value = str(run.files.at[0, "story_id"])
        await wb.settled()
        assert wb.media.view.held_bytes > 0
        await wb.close()
    assert set(_instances) - before == set()  # every model, layouts and styles included
    assert wb.media.view.held_bytes == 0
