"""``batchkit run`` as a user runs it: a subprocess, the embedded server, real files.

Each run gets its own empty ``TMPDIR``: the embedded server makes its data folder there, so an
empty ``TMPDIR`` afterwards proves that no server was started.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from help_text import options_without_a_default

from batchkit.client import StoryClient
from batchkit.runs import load_run
from batchkit.samples import sample_paths
from batchkit.server.launcher import EmbeddedServer
from batchkit.session import BatchSession
from batchkit.tracker import BatchRun

from .conftest import write_texts

SAVED_FILES = {"events.jsonl", "files.parquet", "files.csv", "config.json"}


def batchkit(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "batchkit.cli", *map(str, args)]
    temporary = cwd / "tmp"
    temporary.mkdir(exist_ok=True)
    # No BATCHKIT_URL: the embedded server, whose data goes to TMPDIR.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "TMPDIR": str(temporary)}
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=120, env=env, check=False
    )


def batchkit_run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return batchkit("run", *args, cwd=cwd)


def no_server_started(cwd: Path) -> bool:
    return list((cwd / "tmp").iterdir()) == []


def saved_run(out: Path) -> tuple[Path, BatchRun]:
    (directory,) = [d for d in out.iterdir() if d.is_dir()]
    return directory, load_run(directory)


def test_the_samples_complete_and_the_run_is_saved(tmp_path: Path) -> None:
    result = batchkit_run(*sample_paths(), "--out", tmp_path / "runs", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    directory, run = saved_run(tmp_path / "runs")
    assert directory.name == run.run_id  # the rule of the Python API: the run's id
    assert {p.name for p in directory.iterdir()} >= SAVED_FILES
    assert list(run.files["status"]) == ["completed"] * 4
    saved = pd.read_parquet(directory / "files.parquet")
    assert list(saved["name"]) == [p.name for p in sample_paths()]
    metadata = json.loads((directory / "config.json").read_text())
    assert metadata["run_id"] == directory.name
    assert metadata["batch_ids"] == list(run.batch_ids)
    for path in sample_paths():
        assert path.name in result.stdout  # the per-file table is printed
    first, *_, last = result.stdout.splitlines()
    where = tmp_path / "runs" / directory.name
    assert first.endswith(f"run {run.run_id}, saved in {where}")  # said when it starts
    assert last == f"batchkit run: 4 of 4 completed, 0 failed; saved in {where}"
    assert "0.000" not in result.stdout  # seconds to a tenth in the table


async def test_the_cli_and_the_python_api_lay_a_run_out_alike(
    tmp_path: Path, client: StoryClient, server: EmbeddedServer
) -> None:
    (document,) = write_texts(tmp_path / "docs", 1)
    result = batchkit_run(document, "--out", tmp_path / "cli", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    session = BatchSession(client, runs_dir=tmp_path / "api")
    run = await session.run_batch([document])

    from_cli, cli_run = saved_run(tmp_path / "cli")
    from_api, api_run = saved_run(tmp_path / "api")
    assert session.run_dir == from_api
    for directory, loaded in ((from_cli, cli_run), (from_api, api_run)):
        assert directory.name == loaded.run_id  # <out>/<run id>/, whichever API made it
        assert json.loads((directory / "config.json").read_text())["run_id"] == directory.name
        assert {p.name for p in directory.iterdir()} == SAVED_FILES
    assert api_run.run_id == run.run_id


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


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nosuchfile.txt"], "batchkit run: nosuchfile.txt: no such file"),
        (["DOC", "docs"], "batchkit run: docs: is a folder, not a file"),
        (["DOC", "--config", "nope.json"], "batchkit run: --config: no preset file at nope.json"),
        (["DOC", "--config", "PRESET"], "batchkit run: --config: titles: no file is named"),
        (["DOC", "--password", "p", "--token", "t"], "give --password or --token, not both"),
        (["DOC", "--username", "u"], "--username: only with --url (or BATCHKIT_URL)"),
        (["DOC", "--profile", "production"], "--profile: production needs --url"),
        (["DOC", "--poll", "0"], "--poll: 0.0 is not a number of seconds > 0"),
        (["DOC", "--out", "DOC"], "is a file, not a folder"),
        (["DOC", "--url", "nowhere"], "--url: 'nowhere' is not an http:// or https:// URL"),
    ],
    ids=lambda value: value if isinstance(value, str) else "-".join(value)[:40],
)
def test_arguments_are_checked_before_any_server_starts(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    (doc,) = write_texts(tmp_path / "docs", 1)
    preset = tmp_path / "preset.json"
    preset.write_text(json.dumps({"titles": {"nobody.txt": "A title"}}))
    given = [{"DOC": str(doc), "PRESET": str(preset)}.get(a, a) for a in arguments]

    result = batchkit_run(*given, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stdout == ""
    assert no_server_started(tmp_path)


def test_messages_name_the_flags_not_python_keywords(tmp_path: Path) -> None:
    (doc,) = write_texts(tmp_path / "docs", 1)
    result = batchkit_run(doc, "--url", "http://127.0.0.1:9", cwd=tmp_path)
    assert result.returncode == 2
    assert "pass --token, or --username and --password" in result.stderr
    assert "=" not in result.stderr.replace("BATCHKIT_", "")


def test_every_help_shows_its_defaults(tmp_path: Path) -> None:
    run_help = batchkit("run", "--help", cwd=tmp_path)
    assert run_help.returncode == 0
    assert options_without_a_default(run_help.stdout) == []
    top = batchkit("--help", cwd=tmp_path)
    assert top.returncode == 0
    environment = top.stdout.split("\nenvironment:\n", 1)[1]
    variables = [line for line in environment.splitlines() if line.startswith("  BATCHKIT")]
    assert len(variables) >= 5
    meanings = environment.split("\n\n", 1)[0].split("\n  BATCHKIT")[1:]
    assert all("default" in meaning for meaning in meanings)
    nothing = batchkit(cwd=tmp_path)
    assert nothing.returncode == 2
    assert nothing.stdout == ""
    assert "usage: batchkit COMMAND" in nothing.stderr
