"""Jupyter as ``batchkit lab`` and ``batchkit app`` run it: a port, a token, a quiet log, and the
one URL to open, printed on a line of its own once Jupyter listens.

Jupyter runs as a subprocess of this interpreter (:mod:`batchkit.lab.jupyter_process`), its log
cut down to warnings (``--log-level=INFO`` among the extra arguments brings it all back). The
port is chosen before anything starts, so the URL printed is the one Jupyter serves: the one
given with ``--port`` if it is free, else the first free one from Jupyter's usual port, with
Jupyter's own port retries turned off. JupyterLab's token is chosen here too and handed over
the way Jupyter Server 2 wants it (``IdentityProvider``, from a file only the user can read:
neither the command line nor the kernels' environment hold it); one given as
``--IdentityProvider.token=...`` or in ``$JUPYTER_TOKEN`` is used instead. Voilà serves its
single page without a token, on ``localhost`` only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

from batchkit.errors import ConfigError

__all__ = ["TOOLS", "Launch", "Tool", "choose_port", "jupyter_command", "open_url", "run"]

_POLL_SECONDS: Final = 0.1
_STOP_TIMEOUT: Final = 20.0
_PORT_TRIES: Final = 50
_TOKEN_OPTION: Final = "--IdentityProvider.token="  # noqa: S105 - an option, not a secret


@dataclass(frozen=True, slots=True)
class Tool:
    """What ``lab`` and ``app`` each start: a module run with ``python -m``, and how it is set."""

    module: str
    title: str
    default_port: int
    quiet: tuple[str, ...]


TOOLS: Final = {
    "lab": Tool(
        "jupyterlab", "JupyterLab", 8888,
        (
            "--ServerApp.log_level=WARN", "--LabApp.log_level=WARN", "--ServerApp.port_retries=0",
            "--ServerApp.answer_yes=True",  # Ctrl-C stops it without a question
        ),
    ),
    "app": Tool("voila", "Voilà", 8866, ("--Voila.log_level=WARN", "--Voila.port_retries=0")),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Launch:
    """What to run: ``lab`` or ``app``, on which notebook, how, and Jupyter's extra arguments."""

    mode: str
    notebook: Path
    port: int
    open_browser: bool
    extra: tuple[str, ...] = ()

    @property
    def tool(self) -> Tool:
        return TOOLS[self.mode]


def jupyter_command(launch: Launch, *, as_root: bool, root_dir: Path) -> list[str]:
    """The command line of JupyterLab (``lab``) or Voilà (``app``) for ``launch``.

    The extra arguments come last, so that they override batchkit's (``--log-level``, say).
    """
    start = [sys.executable, "-m", "batchkit.lab.jupyter_process", launch.tool.module]
    common = [f"--port={launch.port}", *([] if launch.open_browser else ["--no-browser"])]
    common += _unless_given(launch.tool.quiet, launch.extra)
    if launch.mode == "app":
        return [*start, str(launch.notebook), *common, *launch.extra]
    root = ["--allow-root"] if as_root else []
    where = _relative_path(launch, root_dir)
    opened = [where.as_posix()] if where is not None else []
    folder = root_dir if where is not None else launch.notebook.parent
    return [*start, *common, *root, f"--ServerApp.root_dir={folder}", *opened, *launch.extra]


def _unless_given(defaults: tuple[str, ...], extra: tuple[str, ...]) -> list[str]:
    """batchkit's settings of Jupyter but those the user's own arguments make (Jupyter refuses
    a setting given twice); any log level or ``--debug`` of the user's replaces batchkit's."""
    given = {argument.split("=", 1)[0] for argument in extra}
    logs = any(a.startswith(("--log-level", "--debug")) or ".log_level" in a for a in extra)
    return [
        default
        for default in defaults
        if default.split("=", 1)[0] not in given and not (logs and ".log_level=" in default)
    ]


def open_url(launch: Launch, *, token: str | None, root_dir: Path) -> str:
    """The URL that opens ``launch``'s notebook (with the token JupyterLab checks)."""
    base = f"http://localhost:{launch.port}/"
    if launch.mode == "app":
        return base
    where = _relative_path(launch, root_dir) or Path(launch.notebook.name)
    query = f"?token={token}" if token else ""
    return f"{base}lab/tree/{quote(where.as_posix())}{query}"


def _relative_path(launch: Launch, root_dir: Path) -> Path | None:
    notebook = launch.notebook
    return notebook.relative_to(root_dir) if notebook.is_relative_to(root_dir) else None


def choose_port(given: int | None, tool: Tool) -> int:
    """``given`` if it is free, else the first free port from the tool's usual one."""
    if given is not None:
        if not _is_free(given):
            raise ConfigError(f"{given} is in use; choose another one", field="port")
        return given
    start = tool.default_port
    for port in range(start, start + _PORT_TRIES):
        if _is_free(port):
            return port
    end = start + _PORT_TRIES - 1
    raise ConfigError(f"none is free in {start}..{end}; choose one", field="port")


def _is_free(port: int) -> bool:
    """Whether nothing listens on ``port`` (a loopback bind succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Jupyter binds with SO_REUSEADDR: a port in TIME_WAIT is free for it, and for us.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def run(launch: Launch, env: Mapping[str, str], *, root_dir: Path) -> int:
    """Run Jupyter for ``launch`` until Ctrl-C/SIGTERM (then 0) or until it exits (its status)."""
    tool = launch.tool
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    command = jupyter_command(launch, as_root=as_root, root_dir=root_dir)
    print(f"batchkit {launch.mode}: starting {tool.title} on port {launch.port}...", flush=True)
    with _token(launch, env) as (token, jupyter_env):
        process = subprocess.Popen(command, env=jupyter_env)  # noqa: S603 - our own interpreter
        try:
            if _wait_until_listening(process, launch.port):
                url = open_url(launch, token=token, root_dir=root_dir)
                print(
                    f"batchkit {launch.mode}: {tool.title} is ready; open this URL to begin "
                    "(Ctrl-C stops everything):",
                    url,
                    sep="\n",
                    flush=True,
                )
            code = process.wait()
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: a stop asked for is a clean exit
            _stop(process)
            print(f"batchkit {launch.mode}: {tool.title} has stopped", flush=True)
            return 0
        finally:
            if process.poll() is None:
                _stop(process)
    print(f"batchkit {launch.mode}: {tool.title} stopped by itself (exit status {code})")
    return code


@contextlib.contextmanager
def _token(launch: Launch, env: Mapping[str, str]) -> Iterator[tuple[str | None, dict[str, str]]]:
    """The token the URL needs, and Jupyter's environment, which hands it over."""
    jupyter_env = dict(env)
    given = [a.removeprefix(_TOKEN_OPTION) for a in launch.extra if a.startswith(_TOKEN_OPTION)]
    if launch.mode == "app" or given or jupyter_env.get("JUPYTER_TOKEN"):
        yield (given[-1] if given else jupyter_env.get("JUPYTER_TOKEN") or None), jupyter_env
        return
    token = secrets.token_hex(24)
    with tempfile.TemporaryDirectory(prefix="batchkit-lab-") as folder:
        path = Path(folder) / "token"  # the folder is the user's alone (mode 0700)
        path.write_text(token, encoding="ascii")
        jupyter_env["JUPYTER_TOKEN_FILE"] = str(path)
        yield token, jupyter_env


def _wait_until_listening(process: subprocess.Popen[bytes], port: int) -> bool:
    """Whether Jupyter came to listen on ``port``; ``False`` when it exited first."""
    while process.poll() is None:
        try:
            with socket.create_connection(("localhost", port), timeout=1.0):
                return True
        except OSError:
            pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(_POLL_SECONDS)  # the pause between two tries, cut short by an exit
    return False


def _stop(process: subprocess.Popen[bytes]) -> int:
    """Ask Jupyter to shut down (it stops its kernels), then make sure it has."""
    process.terminate()
    try:
        return process.wait(_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
