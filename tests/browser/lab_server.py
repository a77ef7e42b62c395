"""A JupyterLab server for the browser tests: a subprocess on a free loopback port.

Everything Jupyter would read or write under the user's home (config, data, runtime, Lab settings
and workspaces, IPython) is redirected into a temporary folder, and Lab is configured to make no
network calls of its own (no news feed, no update check, a read-only extension manager).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import httpx

READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
KERNEL_DISPLAY_NAME = "Python 3 (ipykernel)"

# Lab's own network habits, switched off: the announcements feed, the update check, PyPI search.
SERVER_CONFIG = {
    "LabApp": {
        "news_url": None,
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
        "extension_manager": "readonly",
    },
    "ServerApp": {"open_browser": False, "port_retries": 0, "ip": "127.0.0.1"},
}
# User settings of Lab plugins. Widget state is saved into the notebook on purpose: it is where
# file bytes would leak if the upload widget kept them in a trait, so the tests look there.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings": {"saveState": True},
    # No autosave: the notebook on disk changes only when a test saves it, so a test knows
    # which state it reads.
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}


@dataclass(frozen=True, slots=True)
class LabServer:
    """A running JupyterLab: where it listens, its token, the folder it serves and its log."""

    url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen[bytes]

    def workspace_url(self, notebook: str) -> str:
        """A fresh workspace opening ``notebook``, so no page inherits another's layout."""
        return f"{self.url}/lab/workspaces/{uuid4().hex}/tree/{notebook}?token={self.token}"

    def contents(self, path: str) -> dict[str, object]:
        """The notebook as the server has it on disk (``/api/contents``)."""
        response = httpx.get(
            f"{self.url}/api/contents/{path}",
            headers={"Authorization": f"token {self.token}"},
            timeout=10,
        )
        response.raise_for_status()
        body: dict[str, object] = response.json()
        return body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def jupyter_environment(home: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """The server's (and so its kernels') environment, with every Jupyter folder under ``home``."""
    folders = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "lab-workspaces",
        "IPYTHONDIR": home / "ipython",
        "MPLCONFIGDIR": home / "matplotlib",
        "BATCHKIT_PRESETS_DIR": home / "presets",
        "BATCHKIT_RUNS_DIR": home / "runs",
        "TMPDIR": home / "tmp",  # the kernel writes received uploads to temporary files
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    _write_json(folders["JUPYTER_CONFIG_DIR"] / "jupyter_server_config.json", SERVER_CONFIG)
    _write_json(folders["JUPYTER_CONFIG_DIR"] / "labconfig" / "page_config.json", PAGE_CONFIG)
    for relative, values in LAB_SETTINGS.items():
        _write_json(folders["JUPYTERLAB_SETTINGS_DIR"] / relative, values)
    # The user data folder comes first in the kernelspec search: this "python3" is the
    # interpreter running the tests, whatever `python` means on PATH.
    _write_json(folders["JUPYTER_DATA_DIR"] / "kernels" / "python3" / "kernel.json", _kernelspec())
    env = {key: value for key, value in os.environ.items() if not key.startswith("BATCHKIT_")}
    env.update({key: str(value) for key, value in folders.items()})
    repo = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def start_lab(root: Path, home: Path, token: str, extra_env: Mapping[str, str]) -> LabServer:
    """Start JupyterLab serving ``root`` and return once ``/api/status`` answers."""
    port = free_port()
    log = home / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--allow-root",
        "--no-browser",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=jupyter_environment(home, extra_env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    lab = LabServer(f"http://127.0.0.1:{port}", token, root, log, process)
    try:
        _wait_until_ready(lab)
    except BaseException:
        stop_lab(lab)
        raise
    return lab


def stop_lab(lab: LabServer) -> None:
    """Shut the server down through its API (which stops its kernels), then make sure it exited."""
    if lab.process.poll() is None:
        try:
            httpx.post(
                f"{lab.url}/api/shutdown",
                headers={"Authorization": f"token {lab.token}"},
                timeout=5,
            )
        except httpx.HTTPError:
            lab.process.terminate()
    try:
        lab.process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        lab.process.kill()
        lab.process.wait(timeout=STOP_TIMEOUT_S)


def _wait_until_ready(lab: LabServer) -> None:
    """Poll ``/api/status`` with the token until it answers 200, the process dies, or time's up."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    headers = {"Authorization": f"token {lab.token}"}
    with httpx.Client(timeout=2) as http:
        while True:
            if (code := lab.process.poll()) is not None:
                raise RuntimeError(f"JupyterLab exited with {code}:\n{_tail(lab.log)}")
            try:
                if http.get(f"{lab.url}/api/status", headers=headers).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"JupyterLab not ready in {READY_TIMEOUT_S} s:\n{_tail(lab.log)}"
                )
            time.sleep(0.1)  # poll interval of the readiness condition above, not a wait for it


def _kernelspec() -> dict[str, object]:
    return {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL_DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True},
    }


def _write_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1), encoding="utf-8")


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
