"""``batchkit lab`` and ``batchkit app``: the real commands, JupyterLab and the embedded server.

The start/stop test runs ``batchkit lab --no-browser`` as a subprocess with every Jupyter folder
in a temporary directory, waits for the URL line JupyterLab prints (reading its output with a
deadline, never sleeping), checks that the notebook is served, then sends SIGTERM and checks
that JupyterLab and the reference server are both gone.
"""

from __future__ import annotations

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
import pytest

from batchkit import lab
from batchkit.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
TOKEN = "lab-test-token"


def batchkit(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "batchkit.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("command", "tool"), [("lab", "JupyterLab"), ("app", "Voilà")])
def test_help_names_the_options(command: str, tool: str) -> None:
    result = batchkit(command, "--help")
    assert result.returncode == 0, result.stderr
    assert f"usage: batchkit {command}" in result.stdout
    for option in ("--port", "--notebook", "--no-browser", "--url", "--data-dir", "--pace"):
        assert option in result.stdout
    assert tool in result.stdout


def test_a_missing_notebook_is_a_usage_error(tmp_path: Path) -> None:
    result = batchkit("lab", "--notebook", str(tmp_path / "nope.ipynb"), "--no-browser")
    assert result.returncode == 2
    assert "no notebook at" in result.stderr


def test_the_bundled_notebook_is_the_one_in_notebooks() -> None:
    # One source: notebooks/01_batch_workbench.ipynb; batchkit ships an identical copy.
    source = REPO / "notebooks" / "01_batch_workbench.ipynb"
    assert lab.BUNDLED_NOTEBOOK.read_bytes() == source.read_bytes(), (
        "copy notebooks/01_batch_workbench.ipynb to batchkit/notebooks/"
    )


def test_resolve_notebook_prefers_the_project_then_writes_the_bundled_copy_once(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    mine = project / "notebooks" / lab.NOTEBOOK_NAME
    mine.write_text("{}")
    assert lab.resolve_notebook(None, project) == (mine.resolve(), False)

    bare = tmp_path / "bare"
    bare.mkdir()
    written, copied = lab.resolve_notebook(None, bare)
    assert copied
    assert written.read_bytes() == lab.BUNDLED_NOTEBOOK.read_bytes()
    written.write_text('{"edited": true}')  # the user's own changes are never overwritten
    assert lab.resolve_notebook(None, bare) == (written, False)
    assert written.read_text() == '{"edited": true}'
    with pytest.raises(ConfigError, match="no notebook"):
        lab.resolve_notebook(bare / "missing.ipynb", bare)


def test_jupyter_commands(tmp_path: Path) -> None:
    notebook = tmp_path / "notebooks" / "01_batch_workbench.ipynb"
    launch = lab.Launch("lab", notebook, 9999, False, ("--IdentityProvider.token=x",))
    command = lab.jupyter_command(launch, as_root=True, root_dir=tmp_path)
    assert command[1:3] == ["-m", "jupyterlab"]
    assert "--port=9999" in command
    assert "--no-browser" in command
    assert "--allow-root" in command
    assert f"--ServerApp.root_dir={tmp_path}" in command
    assert "notebooks/01_batch_workbench.ipynb" in command
    assert command[-1] == "--IdentityProvider.token=x"
    app = lab.jupyter_command(
        lab.Launch("app", notebook, None, True), as_root=False, root_dir=tmp_path
    )
    assert app == [sys.executable, "-m", "voila", str(notebook)]


def test_the_kernels_get_the_login_but_it_is_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BATCHKIT_URL", raising=False)
    with lab._story_api("lab", None, tmp_path / "data", 0.0) as env:
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


@pytest.fixture
def lab_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    port = _free_port()
    workdir = tmp_path / "work"
    workdir.mkdir()
    command = [
        sys.executable, "-m", "batchkit.cli", "lab", "--no-browser", f"--port={port}",
        f"--IdentityProvider.token={TOKEN}", "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=_environment(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, port, workdir
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_lab_starts_the_server_and_jupyterlab_and_stops_both(
    lab_process: tuple[subprocess.Popen[str], int, Path],
) -> None:
    process, port, workdir = lab_process
    lines, seen = _lines(process), []
    server = _wait_for_line(
        lines, r"reference Story API server on http://127\.0\.0\.1:\d+", seen, 30
    )
    server_url = server.rsplit(" ", 1)[-1]
    _wait_for_line(lines, rf"http://127\.0\.0\.1:{port}/lab", seen, 30)
    assert (workdir / lab.NOTEBOOK_NAME).exists()  # no notebooks/ here: the bundled copy
    served = httpx.get(
        f"http://127.0.0.1:{port}/api/contents/{lab.NOTEBOOK_NAME}",
        headers={"Authorization": f"token {TOKEN}"},
        timeout=10,
    )
    assert served.status_code == 200
    assert served.json()["type"] == "notebook"
    assert httpx.get(f"{server_url}/api/stories/options", timeout=5).status_code == 401

    process.send_signal(signal.SIGTERM)
    _wait_for_line(lines, "the reference server has stopped", seen, 30)
    assert process.wait(10) == 0
    for url in (f"http://127.0.0.1:{port}/api/status", f"{server_url}/api/stories/options"):
        with pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=2)
