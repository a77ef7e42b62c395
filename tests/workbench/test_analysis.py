"""batchkit.analysis on real runs of the reference server, live and saved."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from batchkit.analysis import (
    compare_runs,
    duration_summary,
    export,
    failure_table,
    plot_comparison,
    plot_step_durations,
    plot_timeline,
    run_settings,
    run_totals,
    status_counts,
    step_durations,
    timeline,
    tuning_grid,
)
from batchkit.errors import ConfigError
from batchkit.runs import read_facts
from batchkit.samples import sample_paths
from batchkit.server.launcher import EmbeddedServer
from batchkit.tracker import BatchRun
from workbench.made_runs import MadeRun, make_run

STEPS = ["story", "images", "audio", "merge"]


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


# ---------------------------------------------------------------- durations and timeline
def test_step_durations_are_one_row_per_file_and_finished_step(completed_run: MadeRun) -> None:
    durations = step_durations(completed_run.run)
    assert len(durations) == 4 * len(STEPS)
    assert list(durations.columns) == ["index", "file", "step", "seconds"]
    assert list(durations["step"].cat.categories) == STEPS
    assert (durations["seconds"] > 0).all()
    files = completed_run.run.files
    audio = durations[durations["step"] == "audio"].set_index("index")["seconds"]
    assert audio.to_dict() == files.set_index("index")["audio_s"].to_dict()


def test_a_saved_run_gives_the_same_tables_as_the_live_one(completed_run: MadeRun) -> None:
    live, saved = completed_run.run, completed_run.directory
    pd.testing.assert_frame_equal(step_durations(live), step_durations(saved))
    pd.testing.assert_frame_equal(timeline(live), timeline(saved))


def test_duration_summary_counts_files_per_step(completed_run: MadeRun) -> None:
    summary = duration_summary(completed_run.run)
    assert list(summary.index.astype(str)) == STEPS
    assert summary["files"].tolist() == [4, 4, 4, 4]
    assert (summary["longest"] >= summary["median"]).all()


def test_the_timeline_goes_upload_then_each_step_in_order(completed_run: MadeRun) -> None:
    lines = timeline(completed_run.run)
    assert len(lines) == 4 * (1 + len(STEPS))
    assert set(lines["outcome"]) == {"done"}
    assert (lines["end_s"] >= lines["start_s"]).all()
    assert (lines["start_s"] >= 0).all()
    for _, stages in lines.groupby("index"):
        assert stages["stage"].astype(str).tolist() == ["upload", *STEPS]
        # Each stage starts once the one before it ended (one clock: the client's).
        assert (stages["start"].iloc[1:].to_numpy() >= stages["end"].iloc[:-1].to_numpy()).all()


def test_a_run_cut_short_shows_running_stages(completed_run: MadeRun) -> None:
    facts = read_facts(completed_run.directory / "events.jsonl")
    # The first moment of the real run at which a step had started and not finished yet.
    for cut in range(1, len(facts)):
        halfway = BatchRun.replay(facts[:cut])
        files = halfway.files
        if (files["images_started_at"].notna() & files["images_finished_at"].isna()).any():
            break
    assert not halfway.done
    lines = timeline(halfway)
    running = lines[lines["outcome"] == "running"]
    assert not running.empty
    # An open stage ends at the latest fact the run has, never before it started.
    assert (running["end"] == halfway.snapshot().as_of).all()
    assert (running["end_s"] >= running["start_s"]).all()


# ---------------------------------------------------------------- outcomes
def test_failure_table_says_where_each_file_failed(failed_run: MadeRun) -> None:
    table = failure_table(failed_run.run)
    by_file = table.set_index("file")["stage"].to_dict()
    names = [p.name for p in sample_paths()[:2]]
    assert by_file == {names[0]: "audio", names[1]: "audio", "empty.txt": "rejected",
                       "report.pdf": "rejected"}  # fmt: skip
    assert table["error"].notna().all()
    assert table["error"].str.len().min() > 0
    rejected = table[table["stage"] == "rejected"]
    assert rejected["story_id"].isna().all()


def test_failure_table_of_a_clean_run_is_empty_but_typed(completed_run: MadeRun) -> None:
    table = failure_table(completed_run.run)
    assert table.empty
    assert list(table.columns) == ["index", "file", "stage", "error", "batch_id", "story_id"]


def test_status_counts_list_every_status(failed_run: MadeRun, completed_run: MadeRun) -> None:
    failed = status_counts(failed_run.run)
    assert failed["failed"] == 4
    assert failed["completed"] == 0
    assert failed.sum() == 4
    assert status_counts(completed_run.directory)["completed"] == 4


def test_steps_finished_before_a_failure_still_count(failed_run: MadeRun) -> None:
    durations = step_durations(failed_run.run)
    # The two real files finished story and images, then failed at audio.
    assert durations.groupby("step", observed=False).size().to_dict() == {
        "story": 2, "images": 2, "audio": 0, "merge": 0,
    }  # fmt: skip
    lines = timeline(failed_run.run)
    failed_audio = lines[(lines["stage"] == "audio")]
    assert failed_audio["outcome"].tolist() == ["failed", "failed"]


# ---------------------------------------------------------------- several runs
def test_tuning_grid_spells_out_every_combination() -> None:
    grid = tuning_grid(words_per_chunk=[200, 500], image_style=["realistic", "comic"])
    assert [p.label for p in grid] == [
        "200 / realistic", "200 / comic", "500 / realistic", "500 / comic",
    ]  # fmt: skip
    assert grid[1].config.words_per_chunk_image == 200
    assert grid[1].config.words_per_chunk_audio == 200
    assert grid[1].config.image_style == "comic"
    assert dict(grid[3].settings) == {"words_per_chunk": 500, "image_style": "comic"}


def test_tuning_grid_refuses_bad_values_before_anything_runs() -> None:
    with pytest.raises(ConfigError) as caught:
        tuning_grid(audio_voice=["Kore", "kore"])
    assert caught.value.field == "audio_voice"
    with pytest.raises(ConfigError):
        tuning_grid(image_style="comic")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        tuning_grid(words_per_chunk=[10])


def test_compare_runs_puts_runs_side_by_side(
    server: EmbeddedServer, runs_root: Path, completed_run: MadeRun
) -> None:
    grid = tuning_grid(words_per_chunk=[200, 500])
    small_chunks = asyncio.run(make_run(server, runs_root / "grid", sample_paths(), grid[0].config))
    runs = {grid[0].label: small_chunks.run, grid[1].label: completed_run.directory}
    table = compare_runs(runs, grid)
    assert list(table.index) == ["200", "500"]
    assert table.columns[0] == "words_per_chunk"
    assert table["files"].tolist() == [4, 4]
    assert table["completed"].tolist() == [4, 4]
    assert table["failed"].tolist() == [0, 0]
    # Fewer words per chunk, more chunks: the real server's chunking shows through.
    assert table.loc["200", "images_chunks"] > table.loc["500", "images_chunks"]
    assert table.loc["200", "audio_chunks"] > table.loc["500", "audio_chunks"]
    assert (table["wall_s"] > 0).all()
    assert table.loc["500", "audio_median_s"] == pytest.approx(
        completed_run.run.files["audio_s"].median()
    )
    settings = run_settings([small_chunks.directory, completed_run.directory])
    assert set(settings.columns) == {"words_per_chunk_image", "words_per_chunk_audio"}
    assert settings["words_per_chunk_image"].tolist() == [200, 500]


def test_run_totals_of_a_failed_run(failed_run: MadeRun) -> None:
    totals = run_totals(failed_run.run)
    assert (totals["files"], totals["completed"], totals["failed"]) == (4, 0, 4)
    assert totals["audio_median_s"] != totals["audio_median_s"]  # NaN: no file finished audio
    assert totals["story_median_s"] > 0


# ---------------------------------------------------------------- plots
def test_plot_timeline_draws_one_bar_per_stage(failed_run: MadeRun) -> None:
    lines = timeline(failed_run.run)
    ax = plot_timeline(lines)
    bars = ax.collections
    assert len(bars) == len(lines)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [p.name for p in sample_paths()[:2]]  # rejected files never started
    hatches = [bar.get_hatch() for bar in bars]
    assert hatches.count("xx") == 2  # the failed audio stages, marked by more than colour
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {
        "upload",
        "story",
        "images",
        "audio",
    }


def test_plot_step_durations_and_comparison_draw_on_given_axes(completed_run: MadeRun) -> None:
    _, (left, right) = plt.subplots(1, 2)
    durations = step_durations(completed_run.run)
    assert plot_step_durations(durations, ax=left) is left
    assert [t.get_text() for t in left.get_xticklabels()] == STEPS
    table = compare_runs({"a": completed_run.run, "b": completed_run.directory})
    assert plot_comparison(table, "wall_s", ax=right) is right
    widths = sorted(round(p.get_width(), 6) for p in right.patches)
    assert widths == [round(table["wall_s"].iloc[0], 6)] * 2


def test_plot_step_durations_by_run(completed_run: MadeRun) -> None:
    both = pd.concat([step_durations(completed_run.run).assign(run=label) for label in ("a", "b")])
    ax = plot_step_durations(both)
    assert len(ax.get_xticklabels()) == 2 * len(STEPS)
    assert ax.get_xticklabels()[0].get_text() == "a · story"


# ---------------------------------------------------------------- export
@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_export_writes_the_per_file_table(
    completed_run: MadeRun, tmp_path: Path, suffix: str
) -> None:
    written = export(completed_run.run, tmp_path / "out" / f"files.{suffix}")
    assert written.exists()
    assert [p.name for p in written.parent.iterdir()] == [f"files.{suffix}"]  # nothing partial
    back = pd.read_csv(written) if suffix == "csv" else pd.read_parquet(written)
    assert back["name"].tolist() == completed_run.run.files["name"].tolist()
    assert back["status"].astype(str).tolist() == ["completed"] * 4


def test_export_any_table_and_refuse_unknown_formats(
    completed_run: MadeRun, tmp_path: Path
) -> None:
    written = export(step_durations(completed_run.run), tmp_path / "d.data", format="csv")
    assert len(pd.read_csv(written)) == 16
    with pytest.raises(ConfigError, match="choose one of csv, parquet, xlsx"):
        export(completed_run.run, tmp_path / "files.json")
    assert not (tmp_path / "files.json").exists()


def test_export_to_excel_explains_what_is_missing(completed_run: MadeRun, tmp_path: Path) -> None:
    target = tmp_path / "files.xlsx"
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="openpyxl"):
            export(completed_run.run, target)
        assert not target.exists()
    else:
        export(completed_run.run, target)
        assert pd.read_excel(target)["name"].tolist() == completed_run.run.files["name"].tolist()
