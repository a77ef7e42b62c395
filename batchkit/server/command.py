"""``batchkit serve``: the reference Story API server in the foreground, until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from pathlib import Path
from typing import Final

from batchkit.errors import ConfigError
from batchkit.server.accounts import DEMO_USER, demo_password
from batchkit.server.app import build_application
from batchkit.server.limit_flags import add_limit_flags, limit_settings
from batchkit.server.serving import ServingServer, bind_socket
from batchkit.server.settings import LIMITS, ServerSettings

__all__ = ["FLAGS", "main"]

FLAGS: Final = {
    "host": "--host", "port": "--port", "data_dir": "--data-dir", "pace": "--pace",
    "workers": "--workers", "fail_rates": "--fail-rate", "seed": "--seed", "users": "--user",
    "removed_users": "--remove-user", **{name: "--" + name.replace("_", "-") for name in LIMITS},
}  # fmt: skip
"""The flag of each setting a :class:`ConfigError` can name (see ``ConfigError.worded``)."""


def _fail_rate(text: str) -> tuple[str, float]:
    step, sep, rate = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return step.strip(), float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected STEP=PROBABILITY") from None


def _user(text: str) -> tuple[str, str]:
    name, sep, password = text.partition(":")
    if not sep or not name or not password:
        raise argparse.ArgumentTypeError("expected NAME:PASSWORD")
    return name, password


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchkit serve", description="Run the reference Story API server."
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="TCP port, 0 for any free one (default: %(default)s)"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("batchkit-data"),
        help="where everything is kept (default: ./%(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--pace", type=float, default=0.0, help="seconds of delay per chunk (default: %(default)s)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="engine worker processes; a batch alone runs as many stories at once "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--fail-rate",
        type=_fail_rate,
        action="append",
        default=[],
        metavar="STEP=P",
        help="make a step (story, images, audio, merge) fail with probability P; repeatable "
        "(default: no step fails on purpose)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the fault injection (default: random)"
    )
    parser.add_argument(
        "--user",
        type=_user,
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="a user to create, or whose password to reset; repeatable (default: 'demo', with "
        "a random password made once and kept in DATA_DIR/demo-password)",
    )
    add_limit_flags(parser)
    return parser


def main(argv: list[str]) -> int:
    """Serve until interrupted; 0 after a graceful stop, 1 if the server could not start, 2 on
    a usage error."""
    args = _parser().parse_args(argv)
    try:
        settings = ServerSettings(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            pace=args.pace,
            workers=args.workers,
            fail_rates=dict(args.fail_rate),
            seed=args.seed,
            users=dict(args.user),
            **limit_settings(args),
        )
        if not settings.users:
            settings = _with_demo_user(settings)
        sock = bind_socket(settings.host, settings.port)
    except ConfigError as exc:
        print(f"batchkit serve: {exc.worded(FLAGS)}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"batchkit serve: {exc}", file=sys.stderr)
        return 1
    host, port = settings.host, sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host

    def announce() -> None:
        print(f"batchkit server listening on http://{shown_host}:{port}", flush=True)

    server = ServingServer(build_application(settings), on_ready=announce, handle_signals=True)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except SystemExit as exc:  # uvicorn exits this way when startup fails
        print(f"batchkit serve: the server could not start ({exc.code})", file=sys.stderr)
        return 1
    return 0 if server.started else 1


def _with_demo_user(settings: ServerSettings) -> ServerSettings:
    """``settings`` with the demo user, whose password the data directory keeps across restarts."""
    password, kept_in = demo_password(settings.data_dir)
    print(
        f"batchkit serve: user {DEMO_USER!r}, password {password} (kept in {kept_in.resolve()})",
        flush=True,
    )
    return dataclasses.replace(settings, users={DEMO_USER: password})
