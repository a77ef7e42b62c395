"""``batchkit lab`` and ``batchkit app``: the workbench notebook on the embedded server, in one go.

``batchkit lab`` starts the embedded reference server in this process, then JupyterLab (a
subprocess) on the workbench notebook; ``batchkit app`` does the same with Voilà, which shows
the notebook as a standalone page without its code. Start-up ends with the one URL to open, on
a line of its own. The server's URL and login are handed to Jupyter's environment
(``BATCHKIT_URL``, ``BATCHKIT_USERNAME``, ``BATCHKIT_PASSWORD``), so every kernel it starts
works on that server: the password lives in the kernels' environment, and is never printed.
With ``BATCHKIT_URL`` already set (or ``--url``), no server is started and the kernels use that
one. Ctrl-C (or SIGTERM) stops Jupyter, then the server.

The notebooks are batchkit's own (:mod:`batchkit.notebooks`): those the current folder lacks are
written there (the workbench, the tuning grid, the run analysis; one already there is the
user's and is left alone), and the workbench is opened. ``--notebook`` opens another instead.
Every argument is checked before anything starts.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Final

from batchkit import notebooks
from batchkit.errors import ConfigError
from batchkit.lab import jupyter
from batchkit.lab.jupyter import TOOLS, Launch, jupyter_command

if TYPE_CHECKING:
    from batchkit.server import EmbeddedServer

__all__ = ["FLAGS", "Launch", "choose_notebook", "jupyter_command", "main", "server_environment"]

FLAGS: Final = {"notebook": "--notebook", "port": "--port", "pace": "--pace", "base_url": "--url"}
"""The flag of each setting a :class:`ConfigError` can name (see ``ConfigError.worded``)."""


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1..65535)")
    return port


def _parser(mode: str) -> argparse.ArgumentParser:
    tool = TOOLS[mode]
    what = "JupyterLab" if mode == "lab" else "Voilà (a standalone page, no code shown)"
    parser = argparse.ArgumentParser(
        prog=f"batchkit {mode}",
        description=f"Start the embedded reference server and {what} on the workbench "
        "notebook, then print the URL to open.",
        epilog="Arguments it does not know are passed on to Jupyter, after batchkit's own: "
        "--log-level=INFO shows Jupyter's whole log (default: its warnings only).",
    )
    parser.add_argument(
        "--port", type=_port,
        help=f"Jupyter's port (default: the first free one from {tool.default_port})",
    )  # fmt: skip
    parser.add_argument(
        "--notebook", type=Path,
        help=f"the notebook to open (default: ./{notebooks.WORKBENCH}, written to the current "
        "folder with the other two notebooks when they are not there)",
    )  # fmt: skip
    parser.add_argument(
        "--no-browser", action="store_true",
        help="only print the URL (default: also open it in a browser)",
    )  # fmt: skip
    parser.add_argument(
        "--url", dest="base_url", metavar="URL",
        help="the Story API the notebooks use (default: $BATCHKIT_URL, else an embedded "
        "reference server)",
    )  # fmt: skip
    parser.add_argument(
        "--data-dir", type=Path,
        help="the embedded server's data (default: a temporary folder, deleted at the end)",
    )  # fmt: skip
    parser.add_argument(
        "--pace", type=float,
        help="the embedded server's seconds per chunk (default: $BATCHKIT_PACE, else 0.05, so "
        "progress can be followed)",
    )  # fmt: skip
    return parser


def choose_notebook(given: Path | None, cwd: Path) -> tuple[Path, list[Path]]:
    """The notebook to open, and the shipped notebooks just written to ``cwd`` for it."""
    if given is not None:
        if not given.is_file():
            raise ConfigError(f"no notebook at {given}", field="notebook")
        return given.resolve(), []
    written = notebooks.provide(cwd)
    return (cwd / notebooks.WORKBENCH).resolve(), written


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
    if importlib.util.find_spec(TOOLS[mode].module) is None:
        print(
            f"batchkit {mode}: {TOOLS[mode].title} is not installed; "
            'install it with: pip install "batchkit[all]"',
            file=sys.stderr,
        )
        return 2
    try:
        cwd = Path.cwd()
        port = jupyter.choose_port(args.port, TOOLS[mode])
        notebook, written = choose_notebook(args.notebook, cwd)
        _tell_about_notebooks(mode, cwd, written, chosen=args.notebook is not None)
        launch = Launch(mode, notebook, port, not args.no_browser, tuple(extra))
        with _sigterm_as_interrupt(), _story_api(mode, args) as env:
            return jupyter.run(launch, env, root_dir=cwd)
    except KeyboardInterrupt:  # before Jupyter had started: the server is stopped all the same
        return 130
    except ConfigError as exc:  # a bad --pace or $BATCHKIT_PACE, a missing --notebook, ...
        print(f"batchkit {mode}: {exc.worded(FLAGS)}", file=sys.stderr)
        return 2
    except OSError as exc:  # the notebooks could not be written here, say
        print(f"batchkit {mode}: {exc}", file=sys.stderr)
        return 2


def _tell_about_notebooks(mode: str, cwd: Path, written: list[Path], *, chosen: bool) -> None:
    if chosen:
        return
    if written:
        names = ", ".join(path.name for path in written)
        print(f"batchkit {mode}: wrote batchkit's notebooks to {cwd}: {names}", flush=True)
    kept = [name for name in notebooks.NOTEBOOKS if cwd / name not in written]
    if kept:
        print(
            f"batchkit {mode}: kept the copies already in {cwd}: {', '.join(kept)} "
            "(delete one to get batchkit's again)",
            flush=True,
        )


@contextmanager
def _story_api(mode: str, args: argparse.Namespace) -> Iterator[dict[str, str]]:
    """The environment for Jupyter: the given Story API, or an embedded server while it runs."""
    env = dict(os.environ)
    if args.base_url is not None:
        env["BATCHKIT_URL"] = args.base_url
    if env.get("BATCHKIT_URL"):
        print(f"batchkit {mode}: the notebooks use the Story API at {env['BATCHKIT_URL']}")
        yield env
        return
    # Imported only when a server is wanted: `--help` and `--url` stay quick.
    from batchkit.server import start_embedded_server
    from batchkit.workbench.settings import embedded_pace

    pace = embedded_pace() if args.pace is None else args.pace
    server = start_embedded_server(data_dir=args.data_dir, pace=pace)
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
