"""``batchkit run`` as a user runs it: a subprocess, the embedded server, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from batchkit.runs import load_run
from batchkit.samples import sample_paths
from batchkit.tracker import BatchRun

from .conftest import write_texts


def batchkit_run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "batchkit.cli", "run", *map(str, args)]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}  # no BATCHKIT_URL: the embedded server
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=120, env=env, check=False
    )


def saved_run(out: Path) -> tuple[Path, BatchRun]:
    (directory,) = [d for d in out.iterdir() if d.is_dir()]
    return directory, load_run(directory)


def test_the_samples_complete_and_the_run_is_saved(tmp_path: Path) -> None:
    result = batchkit_run(*sample_paths(), "--out", tmp_path / "runs", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    directory, run = saved_run(tmp_path / "runs")
    assert directory.name == run.batch_ids[0]
    assert {p.name for p in directory.iterdir()} >= {
        "events.jsonl",
        "files.parquet",
        "files.csv",
        "config.json",
    }
    assert list(run.files["status"]) == ["completed"] * 4
    saved = pd.read_parquet(directory / "files.parquet")
    assert list(saved["name"]) == [p.name for p in sample_paths()]
    assert json.loads((directory / "config.json").read_text())["batch_ids"] == [directory.name]
    for path in sample_paths():
        assert path.name in result.stdout  # the per-file table is printed
    assert "completed" in result.stdout


def test_a_failed_file_exits_1_and_is_in_the_table(tmp_path: Path) -> None:
    (good,) = write_texts(tmp_path / "docs", 1)
    bad = tmp_path / "docs" / "empty.txt"
    bad.write_bytes(b"")

    result = batchkit_run(good, bad, "--out", tmp_path / "runs", "--quiet", cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    _, run = saved_run(tmp_path / "runs")
    assert list(run.files["status"]) == ["completed", "failed"]
    assert "empty" in str(run.files.at[1, "error"])


def test_usage_and_connection_errors_exit_2(tmp_path: Path) -> None:
    (doc,) = write_texts(tmp_path / "docs", 1)

    no_files = batchkit_run(cwd=tmp_path)
    unreachable = batchkit_run(
        doc, "--url", "http://127.0.0.1:9", "--username", "u", "--password", "p", cwd=tmp_path
    )

    assert no_files.returncode == 2
    assert "FILE" in no_files.stderr
    assert unreachable.returncode == 2
    assert "127.0.0.1:9" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
