"""``batchkit report``: arguments checked, media fetched from each run's server, the file written.

Runs are the tuning grid's, made on the real reference server; the command runs in-process
(``batchkit.cli.main``), and fetches over HTTP from that server with the login in the
environment, as a user's shell would give it.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from help_text import options_without_a_default

from analysis.tuned_runs import USERS, TunedRuns
from batchkit.analysis import MEDIA_FOLDER
from batchkit.cli import main
from batchkit.runs import CONFIG_FILE


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch) -> None:
    username, password = next(iter(USERS.items()))
    for name in ("BATCHKIT_URL", "BATCHKIT_TOKEN", "BATCHKIT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATCHKIT_USERNAME", username)
    monkeypatch.setenv("BATCHKIT_PASSWORD", password)


def test_it_fetches_what_is_missing_then_writes_one_file(
    tuned: TunedRuns, login: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "tuning.html"
    root = next(iter(tuned.folders.values())).parent  # a folder of runs
    assert main(["report", str(root), "-o", str(out)]) == 0
    said = capsys.readouterr()
    assert f"wrote {out}" in said.out
    assert "2 runs" in said.out
    assert "fetched the media of 8 stories" in said.err
    assert all((folder / MEDIA_FOLDER).is_dir() for folder in tuned.folders.values())
    page = out.read_text(encoding="utf-8")
    assert page.count("data:audio/wav;base64,") == 7  # one clip per completed file
    assert "Stories, pictures and sound" in page
    assert tuned.url in page
    # Everything is on disk now: a second report asks no server (none is named to reach).
    assert main(["report", str(root), "-o", str(out), "--media", "none"]) == 0
    assert "fetched" not in capsys.readouterr().err


def test_without_fetching_it_says_what_is_not_there(
    tuned: TunedRuns, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    assert main(["report", *map(str, tuned.folders.values()), "-o", str(out), "--no-fetch"]) == 0
    assert "media not fetched yet" in out.read_text(encoding="utf-8")
    assert not any((folder / MEDIA_FOLDER).exists() for folder in tuned.folders.values())
    assert "wrote" in capsys.readouterr().out


def test_a_server_that_is_gone_is_reported_and_the_report_still_written(
    tuned: TunedRuns, login: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{probe.getsockname()[1]}"
    folder = tuned.folders["realistic"]
    meta = json.loads((folder / CONFIG_FILE).read_text())
    (folder / CONFIG_FILE).write_text(json.dumps({**meta, "server_url": gone}))
    out = tmp_path / "report.html"
    assert main(["report", str(folder), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"media of 4 stories not fetched from {gone}" in err
    assert out.is_file()


def test_arguments_are_checked_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "is not a saved run" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "--media", "bogus"]) == 2
    assert main(["report"]) == 2


def test_every_option_says_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert options_without_a_default(help_text) == []
    assert "RUN_DIR" in help_text
