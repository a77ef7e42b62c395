"""``batchkit lab`` and ``batchkit app``: the workbench notebook on the embedded server, in one go.

``batchkit lab`` starts the embedded reference server in this process, then JupyterLab (a
subprocess) on the workbench notebook; ``batchkit app`` does the same with Voilà, which shows
the notebook as a standalone page without its code. The server's URL and login are handed to
Jupyter's environment (``BATCHKIT_URL``, ``BATCHKIT_USERNAME``, ``BATCHKIT_PASSWORD``), so every
kernel it starts works on that server: the password lives in the kernels' environment, and is
never printed. With ``BATCHKIT_URL`` already set (or ``--url``), no server is started and the
kernels use that one. Ctrl-C (or SIGTERM) stops Jupyter, then the server.

The notebook opened is ``notebooks/01_batch_workbench.ipynb`` when the current folder has it;
otherwise the copy shipped inside batchkit is written to ``./01_batch_workbench.ipynb`` (once:
an existing file there is used as it is).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Final

from batchkit.errors import ConfigError

if TYPE_CHECKING:
    from batchkit.server import EmbeddedServer

__all__ = ["BUNDLED_NOTEBOOK", "Launch", "jupyter_command", "main", "resolve_notebook"]

NOTEBOOK_NAME: Final = "01_batch_workbench.ipynb"
BUNDLED_NOTEBOOK: Final = Path(__file__).parent / "notebooks" / NOTEBOOK_NAME
"""The workbench notebook shipped with batchkit (kept identical to notebooks/ by a test)."""
_STOP_TIMEOUT: Final = 20.0


@dataclass(frozen=True, slots=True)
class Launch:
    """What to run: ``lab`` or ``app``, on which notebook, how, and Jupyter's extra arguments."""

    mode: str
    notebook: Path
    port: int | None
    open_browser: bool
    extra: tuple[str, ...] = ()


def _parser(mode: str) -> argparse.ArgumentParser:
    what = "JupyterLab" if mode == "lab" else "Voilà (a standalone page, no code shown)"
    parser = argparse.ArgumentParser(
        prog=f"batchkit {mode}",
        description=f"Start the embedded reference server and {what} on the workbench "
        "notebook. Arguments it does not know are passed on to Jupyter.",
    )
    parser.add_argument("--port", type=int, help="Jupyter's port (default: Jupyter's own)")
    parser.add_argument("--notebook", type=Path, help=f"default: notebooks/{NOTEBOOK_NAME}")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--url", help="use this Story API instead ($BATCHKIT_URL, else embedded)")
    parser.add_argument(
        "--data-dir", type=Path, help="the embedded server's data (default: a temporary folder)"
    )
    parser.add_argument(
        "--pace", type=float, help="embedded server: seconds per chunk (default $BATCHKIT_PACE "
        "or 0.05, so progress can be followed)",
    )  # fmt: skip
    return parser


def resolve_notebook(given: Path | None, cwd: Path) -> tuple[Path, bool]:
    """The notebook to open, and whether the bundled copy was just written to ``cwd``."""
    if given is not None:
        if not given.is_file():
            raise ConfigError(f"no notebook at {given}", field="notebook")
        return given.resolve(), False
    in_project = cwd / "notebooks" / NOTEBOOK_NAME
    if in_project.is_file():
        return in_project.resolve(), False
    target = cwd / NOTEBOOK_NAME
    if target.exists():
        return target.resolve(), False
    shutil.copyfile(BUNDLED_NOTEBOOK, target)
    return target.resolve(), True


def jupyter_command(launch: Launch, *, as_root: bool, root_dir: Path) -> list[str]:
    """The command line of JupyterLab (``lab``) or Voilà (``app``) for ``launch``."""
    port = [] if launch.port is None else [f"--port={launch.port}"]
    browser = [] if launch.open_browser else ["--no-browser"]
    if launch.mode == "app":
        return [sys.executable, "-m", "voila", str(launch.notebook), *port, *browser,
                *launch.extra]  # fmt: skip
    root = ["--allow-root"] if as_root else []
    where = (
        launch.notebook.relative_to(root_dir) if launch.notebook.is_relative_to(root_dir) else None
    )
    opened = [str(where)] if where is not None else []
    folder = root_dir if where is not None else launch.notebook.parent
    return [
        sys.executable, "-m", "jupyterlab", *port, *browser, *root,
        f"--ServerApp.root_dir={folder}", *opened, *launch.extra,
    ]  # fmt: skip


def server_environment(server: EmbeddedServer) -> dict[str, str]:
    """What a kernel needs to log in to ``server`` (the password included: never print it)."""
    return {
        "BATCHKIT_URL": server.url,
        "BATCHKIT_USERNAME": server.credentials.username,
        "BATCHKIT_PASSWORD": server.credentials.password,
        "BATCHKIT_PROFILE": "reference",
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``batchkit lab`` (and of ``batchkit app`` when ``argv[0] == "app"``)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    mode = "app" if args_in[:1] == ["app"] else "lab"
    args_in = args_in[1:] if mode == "app" else args_in
    try:
        args, extra = _parser(mode).parse_known_args(args_in)
    except SystemExit as exc:  # argparse exits 2 on a usage error and 0 on --help
        return int(exc.code or 0)
    try:
        notebook, copied = resolve_notebook(args.notebook, Path.cwd())
    except (ConfigError, OSError) as exc:
        print(f"batchkit {mode}: {exc}", file=sys.stderr)
        return 2
    if copied:
        print(f"batchkit {mode}: wrote the workbench notebook to {notebook}", flush=True)
    launch = Launch(mode, notebook, args.port, not args.no_browser, tuple(extra))
    try:
        with _sigterm_as_interrupt(), _story_api(mode, args.url, args.data_dir, args.pace) as env:
            return _run_jupyter(launch, env)
    except KeyboardInterrupt:  # before Jupyter had started: the server is stopped all the same
        return 130
    except ConfigError as exc:  # a bad $BATCHKIT_PACE, say
        print(f"batchkit {mode}: {exc}", file=sys.stderr)
        return 2


@contextmanager
def _story_api(
    mode: str, url: str | None, data_dir: Path | None, pace: float | None
) -> Iterator[dict[str, str]]:
    """The environment for Jupyter: the given Story API, or an embedded server while it runs."""
    env = dict(os.environ)
    if url is not None:
        env["BATCHKIT_URL"] = url
    if env.get("BATCHKIT_URL"):
        print(f"batchkit {mode}: the notebooks use the Story API at {env['BATCHKIT_URL']}")
        yield env
        return
    # Imported only when a server is wanted: `--help` and `--url` stay quick.
    from batchkit.server import start_embedded_server
    from batchkit.workbench.settings import embedded_pace

    chosen_pace = embedded_pace() if pace is None else pace
    server = start_embedded_server(data_dir=data_dir, pace=chosen_pace)
    try:
        print(
            f"batchkit {mode}: reference Story API server on {server.url} "
            f"(user {server.credentials.username}; its password is in the kernels' environment)",
            flush=True,
        )
        env.update(server_environment(server))
        yield env
    finally:
        server.stop()
        print(f"batchkit {mode}: the reference server has stopped", flush=True)


def _run_jupyter(launch: Launch, env: Mapping[str, str]) -> int:
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    command = jupyter_command(launch, as_root=as_root, root_dir=Path.cwd())
    process = subprocess.Popen(command, env=dict(env))  # noqa: S603 - our own interpreter
    try:
        return process.wait()
    except KeyboardInterrupt:
        return _stop(process)
    finally:
        if process.poll() is None:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> int:
    """Ask Jupyter to shut down (it stops its kernels), then make sure it has."""
    process.terminate()
    try:
        return process.wait(_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends ``batchkit lab`` the way Ctrl-C does: Jupyter first, then the server."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
