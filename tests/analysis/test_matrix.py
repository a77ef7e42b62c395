"""The comparison matrix of real runs: cells, filters, media kept next to the runs, and marks.

The runs are a two-point grid on the real reference server, one file failing its audio step on
purpose (``tuned_runs``). Media are fetched from that server over HTTP; a counting transport (a
real one, that counts) shows that opening the matrix again asks the server nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.tuned_runs import TunedRuns, counted_client
from batchkit.analysis import (
    MARKS_FILE,
    MEDIA_FOLDER,
    Rating,
    comparison_matrix,
    load_runs,
    open_matrix,
    read_marks,
    run_directory,
    save_mark,
)
from batchkit.analysis.media_store import NOT_LISTED
from batchkit.errors import ConfigError, RunError
from batchkit.tracker import FileStatus

STEPS = ("story", "images", "audio", "merge")


def _failing(tuned: TunedRuns) -> str:
    files = tuned.runs["comic"].files
    failed = files[files["status"] == "failed"]["name"].tolist()
    assert len(failed) == 1, f"the grid was meant to fail exactly one file, not {failed}"
    return str(failed[0])


async def test_cells_hold_status_steps_time_chunks_text_pictures_and_sound(
    tuned: TunedRuns,
) -> None:
    counted = counted_client(tuned.url)
    async with counted.client as client:
        matrix = await open_matrix(tuned.folders, client, tuned.grid)
        story = await client.story(str(tuned.runs["realistic"].files["story_id"].iloc[0]))
    assert [c.label for c in matrix.columns] == ["realistic", "comic"]
    assert [dict(c.settings) for c in matrix.columns] == [
        {"image_style": "realistic"}, {"image_style": "comic"},
    ]  # fmt: skip
    assert matrix.documents == tuple(tuned.runs["realistic"].files["name"])
    failing = _failing(tuned)
    realistic, comic = matrix.columns[0].key, matrix.columns[1].key
    for document in matrix.documents:
        done = matrix.cell(document, realistic)
        assert done is not None
        assert done.status is FileStatus.COMPLETED
        assert dict(done.steps) == dict.fromkeys(STEPS, "completed")
        assert done.seconds is not None
        assert done.seconds > 0
        assert done.media is not None
        assert done.media.listed
        assert len(done.media.images) == done.images_chunks
        assert done.media.audio_labels == ("merged audio",)
        assert all(path.is_file() for path in (*done.media.images, *done.media.audio))
        assert done.media_note is None
    first = matrix.cell(matrix.documents[0], realistic)
    assert first is not None
    assert first.excerpt
    assert (story.generated_content or "").strip().startswith(first.excerpt.split("\n")[0])
    broken = matrix.cell(failing, comic)
    assert broken is not None
    assert broken.failed
    assert dict(broken.steps) == {"story": "completed", "images": "completed",
                                  "audio": "failed", "merge": "skipped"}  # fmt: skip
    assert broken.error is not None
    assert "injected fault" in broken.error
    assert broken.media is not None
    assert len(broken.media.images) == broken.images_chunks  # the pictures were made
    assert broken.media.audio == ()  # and no sound


async def test_media_are_fetched_concurrently_once_and_reopening_asks_nothing(
    tuned: TunedRuns,
) -> None:
    first = counted_client(tuned.url)
    async with first.client as client:
        await open_matrix(tuned.folders, client)
    downloads = [r for r in first.transport.requests if "/api/media/" in r]
    stories = [r for r in first.transport.requests if r.startswith("GET /api/stories/")]
    assert len(stories) == 2 * 4
    assert len(downloads) > len(stories)  # pictures and sound of every story
    assert first.transport.most_in_flight > 1
    for folder in tuned.folders.values():
        assert (folder / MEDIA_FOLDER).is_dir()
    again = counted_client(tuned.url)
    async with again.client as client:
        reopened = await open_matrix(load_runs(next(iter(tuned.folders.values())).parent), client)
    assert again.transport.requests == []
    assert sum(c.media is not None for c in reopened.cells.values()) == 8


async def test_filters_keep_the_failing_and_the_differing_documents(tuned: TunedRuns) -> None:
    matrix = await open_matrix(tuned.folders)  # no client: what is on disk only
    failing = _failing(tuned)
    assert matrix.filtered(only_failures=True).documents == (failing,)
    # The style changes no text and no chunk count: only the failure makes cells differ.
    assert matrix.filtered(only_differences=True).documents == (failing,)
    both = matrix.filtered(only_failures=True, only_differences=True)
    assert both.documents == (failing,)
    assert set(both.cells) == {(failing, c.key) for c in matrix.columns}
    assert matrix.filtered().documents == matrix.documents
    # Without media the matrix still says what it can, and why it shows no pictures.
    cell = matrix.cell(matrix.documents[0], matrix.columns[0].key)
    assert cell is not None
    assert cell.media is None
    assert cell.media_note is not None
    assert "not fetched" in cell.media_note


async def test_marks_are_saved_in_the_run_folder_and_read_back_with_the_settings(
    tuned: TunedRuns,
) -> None:
    matrix = comparison_matrix(tuned.folders, tuned.grid)
    failing = _failing(tuned)
    comic, realistic = matrix.columns[1].key, matrix.columns[0].key
    marked = matrix.mark(failing, comic, "worse", "no voice at all")
    marked = marked.mark(failing, realistic, Rating.BETTER, "")
    cell = marked.cell(failing, comic)
    assert cell is not None
    assert cell.mark is not None
    assert cell.mark.rating is Rating.WORSE
    saved = json.loads((tuned.folders["comic"] / MARKS_FILE).read_text())
    assert saved["marks"][str(cell.index)]["note"] == "no voice at all"
    table = read_marks(tuned.folders)
    assert table[["label", "document", "rating", "note", "image_style"]].to_dict("records") == [
        {"label": "realistic", "document": failing, "rating": "better", "note": "",
         "image_style": "realistic"},
        {"label": "comic", "document": failing, "rating": "worse", "note": "no voice at all",
         "image_style": "comic"},
    ]  # fmt: skip
    assert isinstance(table["marked_at"].dtype, pd.DatetimeTZDtype)
    # A new matrix of the same folders shows the marks; clearing one removes it.
    again = comparison_matrix(list(tuned.folders.values()))
    assert again.cell(failing, comic).mark.note == "no voice at all"  # type: ignore[union-attr]
    again.mark(failing, realistic, None, "")
    assert read_marks(tuned.folders)["label"].tolist() == ["comic"]


def test_bad_marks_are_refused_and_an_unreadable_file_is_never_overwritten(
    tuned: TunedRuns,
) -> None:
    folder = tuned.folders["realistic"]
    with pytest.raises(ConfigError, match="not a rating"):
        save_mark(folder, 0, "great")
    with pytest.raises(ConfigError, match="no file at row 9"):
        save_mark(folder, 9, "better")
    with pytest.raises(ConfigError, match="limit is 2,000"):
        save_mark(folder, 0, "better", "x" * 2001)
    (folder / MARKS_FILE).write_text('{"version": 1, "marks": {"0": {"rating": "meh"}}}')
    before = (folder / MARKS_FILE).read_bytes()
    with pytest.raises(RunError, match="left as it is"):
        save_mark(folder, 0, "better", "kept?")
    assert (folder / MARKS_FILE).read_bytes() == before


def test_a_run_only_in_memory_has_no_folder_for_marks(tuned: TunedRuns) -> None:
    from batchkit.tracker import BatchRun

    replayed = BatchRun.replay(tuned.runs["realistic"].facts)
    assert run_directory(replayed) is None
    with pytest.raises(RunError, match="never saved"):
        save_mark(replayed, 0, "better")
    assert run_directory(tuned.runs["realistic"]) == tuned.runs["realistic"].log.path.parent  # type: ignore[union-attr]


async def test_against_production_each_cell_says_there_is_no_media(tmp_path: Path) -> None:
    """The production double (tests/production) stands in for production, which cannot run
    here: its stories carry no media URLs."""
    from production import start_production_double

    from batchkit.client import StoryClient
    from batchkit.config import BatchConfig
    from batchkit.samples import sample_paths
    from batchkit.session import BatchSession, FollowOptions

    fast = FollowOptions(poll_interval=0.05, quiet_poll_interval=0.2, lost_after=0.5)
    with start_production_double(pace=0.02) as double:
        async with StoryClient(
            double.url, profile="production", env={},
            username=double.username, password=double.password,
        ) as client:  # fmt: skip
            session = BatchSession(client, follow=fast, runs_dir=tmp_path)
            run = await session.run_batch(sample_paths()[:2], BatchConfig(merge_audio=False))
            matrix = await open_matrix([run], client)
    cells = list(matrix.cells.values())
    assert [c.status for c in cells] == [FileStatus.COMPLETED] * 2
    assert all(c.media is not None and not c.media.listed for c in cells)
    assert {c.media_note for c in cells} == {NOT_LISTED}
    assert all(c.excerpt for c in cells)  # the text is there, from REST
    reopened = comparison_matrix([session.run_dir])  # type: ignore[list-item]
    assert {c.media_note for c in reopened.cells.values()} == {NOT_LISTED}
