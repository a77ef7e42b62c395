"""``batchkit lab`` and ``batchkit app``: the real commands, JupyterLab and the embedded server.

The start/stop tests run ``batchkit lab --no-browser`` (and ``batchkit app``) as a subprocess in
an empty folder with every Jupyter folder in a temporary directory, wait for the URL line it
prints (reading its output with a deadline, never sleeping), check what it wrote and served,
then send SIGTERM and check that Jupyter and the reference server are both gone.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest
from help_text import options_without_a_default

from batchkit import lab, notebooks
from batchkit.errors import ConfigError
from batchkit.lab import jupyter

REPO = Path(__file__).resolve().parents[2]
TOKEN = "lab-test-token"
THREE = ["01_batch_workbench.ipynb", "02_batch_tuning.ipynb", "03_run_analysis.ipynb"]


def batchkit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "batchkit.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=cwd)


def assert_stripped(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} has outputs"
            assert cell.execution_count is None, f"{path.name} has execution counts"


@pytest.mark.parametrize(("command", "tool"), [("lab", "JupyterLab"), ("app", "Voilà")])
def test_help_names_the_options_and_every_default(command: str, tool: str) -> None:
    result = batchkit(command, "--help")
    assert result.returncode == 0, result.stderr
    assert f"usage: batchkit {command}" in result.stdout
    for option in ("--port", "--notebook", "--no-browser", "--url", "--data-dir", "--pace"):
        assert option in result.stdout
    assert tool in result.stdout
    assert options_without_a_default(result.stdout) == []
    # The real default: the workbench in the current folder, not the repository's layout.
    assert "default: ./01_batch_workbench.ipynb" in " ".join(result.stdout.split())
    assert "notebooks/01" not in result.stdout


def test_a_missing_notebook_is_a_usage_error(tmp_path: Path) -> None:
    result = batchkit("lab", "--notebook", str(tmp_path / "nope.ipynb"), "--no-browser")
    assert result.returncode == 2
    assert "--notebook: no notebook at" in result.stderr


def test_each_notebook_has_one_copy_in_the_repository() -> None:
    # The package data the wheel ships is the only copy: nbval runs it, `batchkit lab` hands it
    # out. Two copies of the workbench used to drift apart.
    listed = subprocess.run(
        ["git", "ls-files", "*.ipynb"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert sorted(listed) == [f"batchkit/notebooks/{name}" for name in THREE]
    assert list(notebooks.NOTEBOOKS) == THREE
    for name in THREE:
        assert Path(str(notebooks.bundled(name))).resolve() == REPO / "batchkit/notebooks" / name


def test_an_empty_folder_gets_the_three_notebooks_stripped_and_edits_are_kept(
    tmp_path: Path,
) -> None:
    opened, written = lab.choose_notebook(None, tmp_path)
    assert opened == (tmp_path / notebooks.WORKBENCH).resolve()
    assert [path.name for path in written] == THREE
    for path in written:
        assert path.read_bytes() == notebooks.bundled(path.name).read_bytes()
        assert_stripped(path)

    edited = tmp_path / "03_run_analysis.ipynb"
    edited.write_text('{"edited": true}')  # the user's own changes are never overwritten
    (tmp_path / "02_batch_tuning.ipynb").unlink()  # a deleted one comes back
    assert lab.choose_notebook(None, tmp_path)[1] == [tmp_path / "02_batch_tuning.ipynb"]
    assert edited.read_text() == '{"edited": true}'

    other = tmp_path / "mine.ipynb"
    other.write_text("{}")
    assert lab.choose_notebook(other, tmp_path / "elsewhere") == (other.resolve(), [])
    with pytest.raises(ConfigError, match="no notebook"):
        lab.choose_notebook(tmp_path / "missing.ipynb", tmp_path)


def test_the_workbench_refers_only_to_notebooks_beside_it() -> None:
    text = notebooks.bundled(notebooks.WORKBENCH).read_text()
    mentioned = set(re.findall(r"\b\d\d_\w+\.ipynb", text))
    assert mentioned <= set(THREE)
    assert "notebooks/" not in text


def test_jupyter_commands(tmp_path: Path) -> None:
    notebook = tmp_path / "sub" / "01_batch_workbench.ipynb"
    launch = lab.Launch("lab", notebook, 9999, False, ("--IdentityProvider.token=x",))
    command = lab.jupyter_command(launch, as_root=True, root_dir=tmp_path)
    assert command[:4] == [sys.executable, "-m", "batchkit.lab.jupyter_process", "jupyterlab"]
    for argument in (
        "--port=9999", "--no-browser", "--allow-root", "--ServerApp.port_retries=0",
        "--ServerApp.log_level=WARN", f"--ServerApp.root_dir={tmp_path}",
        "sub/01_batch_workbench.ipynb",
    ):  # fmt: skip
        assert argument in command
    assert command[-1] == "--IdentityProvider.token=x"  # last: the user's arguments win
    assert not any("token" in argument.lower() for argument in command[:-1])  # never on argv
    # Jupyter refuses a setting given twice: the user's own replace batchkit's.
    louder = lab.Launch(
        "lab", notebook, 9999, False, ("--log-level=INFO", "--ServerApp.port_retries=5")
    )
    chosen = lab.jupyter_command(louder, as_root=False, root_dir=tmp_path)
    assert not any(".log_level=" in argument for argument in chosen)
    assert [a for a in chosen if "port_retries" in a] == ["--ServerApp.port_retries=5"]
    app = lab.jupyter_command(
        lab.Launch("app", notebook, 8866, True), as_root=False, root_dir=tmp_path
    )
    assert app[:5] == [sys.executable, "-m", "batchkit.lab.jupyter_process", "voila", str(notebook)]
    assert "--port=8866" in app
    assert "--Voila.port_retries=0" in app
    assert "--no-browser" not in app


def test_the_url_opens_the_notebook_with_the_token(tmp_path: Path) -> None:
    launch = lab.Launch("lab", tmp_path / "my runs" / "01_batch_workbench.ipynb", 8890, False)
    url = jupyter.open_url(launch, token="t0k", root_dir=tmp_path)
    assert url == "http://localhost:8890/lab/tree/my%20runs/01_batch_workbench.ipynb?token=t0k"
    outside = jupyter.open_url(launch, token="t0k", root_dir=tmp_path / "other")
    assert outside == "http://localhost:8890/lab/tree/01_batch_workbench.ipynb?token=t0k"
    app = lab.Launch("app", launch.notebook, 8866, False)
    assert jupyter.open_url(app, token=None, root_dir=tmp_path) == "http://localhost:8866/"


def test_the_port_is_checked_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port: {port} is in use"):
            jupyter.choose_port(port, jupyter.TOOLS["lab"])
        tool = jupyter.Tool("x", "X", port, ())
        assert jupyter.choose_port(None, tool) > port  # the next free one


def test_a_port_in_use_is_refused_before_the_server_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = batchkit("lab", "--no-browser", f"--port={port}", cwd=tmp_path)
    assert result.returncode == 2
    assert f"batchkit lab: --port: {port} is in use" in result.stderr
    assert "reference Story API server" not in result.stdout
    assert list(tmp_path.iterdir()) == []  # nothing written either


def test_the_kernels_get_the_login_but_it_is_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BATCHKIT_URL", raising=False)
    args = argparse.Namespace(base_url=None, data_dir=tmp_path / "data", pace=0.0)
    with lab._story_api("lab", args) as env:
        password = env["BATCHKIT_PASSWORD"]
        url = env["BATCHKIT_URL"]
        assert env["BATCHKIT_USERNAME"] == "demo"
        assert httpx.get(f"{url}/api/stories/options", timeout=5).status_code == 401
    printed = capsys.readouterr().out
    assert url in printed
    assert password not in printed
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/api/stories/options", timeout=2)  # stopped with the context


# ---------------------------------------------------------------- the real command
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHKIT_")}
    for name in (
        "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
        "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR",
    ):  # fmt: skip
        folder = home / name.lower()
        folder.mkdir(parents=True)
        env[name] = str(folder)
    env["BATCHKIT_PACE"] = "0"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for_line(lines: queue.Queue[str], pattern: str, seen: list[str], within: float) -> str:
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        seen.append(line)
        if match := re.search(pattern, line):
            return match.group(0)
    raise AssertionError(f"no line matching {pattern!r} in {within} s:\n{''.join(seen)}")


def _start(mode: str, tmp_path: Path) -> tuple[subprocess.Popen[str], int, Path]:
    port = _free_port()
    workdir = tmp_path / "work"
    workdir.mkdir()  # empty: the notebooks come from batchkit
    extra = [
        f"--IdentityProvider.token={TOKEN}", "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ] if mode == "lab" else []  # fmt: skip
    command = [
        sys.executable, "-m", "batchkit.cli", mode, "--no-browser", f"--port={port}", *extra,
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=_environment(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, port, workdir


@pytest.fixture
def lab_process(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    process, port, workdir = _start(request.param, tmp_path)
    try:
        yield process, port, workdir
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _start_up(lines: queue.Queue[str], seen: list[str], title: str) -> tuple[str, str]:
    """The Story API's URL, and the URL printed at the end of the start-up, on its own line."""
    server = _wait_for_line(
        lines, r"reference Story API server on http://127\.0\.0\.1:\d+", seen, 30
    )
    _wait_for_line(lines, rf"{title} is ready; open this URL", seen, 60)
    url = _wait_for_line(lines, r"^.*$", seen, 5)  # the very next line, and nothing else on it
    startup = "".join(seen)
    assert "[I " not in startup, startup  # Jupyter's info log is quieted: the URL stands out
    assert "deprecat" not in startup.lower(), startup
    return server.rsplit(" ", 1)[-1], url


def _stop_and_read_the_rest(
    process: subprocess.Popen[str], lines: queue.Queue[str], seen: list[str]
) -> str:
    process.send_signal(signal.SIGTERM)
    _wait_for_line(lines, "the reference server has stopped", seen, 30)
    assert process.wait(10) == 0
    while not lines.empty():
        seen.append(lines.get_nowait())
    return "".join(seen)


@pytest.mark.parametrize("lab_process", ["lab"], indirect=True)
def test_lab_in_an_empty_folder_ends_its_start_up_with_the_url_and_stops_cleanly(
    lab_process: tuple[subprocess.Popen[str], int, Path],
) -> None:
    process, port, workdir = lab_process
    lines, seen = _lines(process), []
    server_url, url = _start_up(lines, seen, "JupyterLab")

    assert url == f"http://localhost:{port}/lab/tree/01_batch_workbench.ipynb?token={TOKEN}"
    assert sorted(path.name for path in workdir.iterdir()) == THREE
    for path in workdir.iterdir():
        assert_stripped(path)
    assert httpx.get(url, timeout=10).status_code == 200  # the URL works as printed
    served = httpx.get(
        f"http://localhost:{port}/api/contents/{notebooks.WORKBENCH}",
        headers={"Authorization": f"token {TOKEN}"},
        timeout=10,
    )
    assert served.status_code == 200
    assert served.json()["type"] == "notebook"
    assert httpx.get(f"{server_url}/api/stories/options", timeout=5).status_code == 401

    output = _stop_and_read_the_rest(process, lines, seen)
    assert "deprecat" not in output.lower()
    for gone in (f"http://127.0.0.1:{port}/api/status", f"{server_url}/api/stories/options"):
        with pytest.raises(httpx.TransportError):
            httpx.get(gone, timeout=2)


@pytest.mark.parametrize("lab_process", ["app"], indirect=True)
def test_app_in_an_empty_folder_ends_its_start_up_with_the_url_and_stops_cleanly(
    lab_process: tuple[subprocess.Popen[str], int, Path],
) -> None:
    process, port, workdir = lab_process
    lines, seen = _lines(process), []
    server_url, url = _start_up(lines, seen, "Voilà")

    assert url == f"http://localhost:{port}/"
    assert sorted(path.name for path in workdir.iterdir()) == THREE
    for path in workdir.iterdir():
        assert_stripped(path)
    # Not fetched: Voilà runs the whole workbench (a batch) to render the page.

    output = _stop_and_read_the_rest(process, lines, seen)
    assert "deprecat" not in output.lower()
    for gone in (url, f"{server_url}/api/stories/options"):
        with pytest.raises(httpx.TransportError):
            httpx.get(gone, timeout=2)
