"""``batchkit serve``: the reference Story API server in the foreground, until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from pathlib import Path
from typing import TypedDict

from batchkit.errors import ConfigError
from batchkit.server.app import build_application
from batchkit.server.serving import ServingServer, bind_socket
from batchkit.server.settings import ServerSettings

__all__ = ["main"]

DEMO_USER = "demo"


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
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (0: any free port)")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("batchkit-data"), help="where everything is kept"
    )
    parser.add_argument("--pace", type=float, default=0.0, help="seconds of delay per chunk")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="engine worker processes (a batch alone runs as many stories at once)",
    )
    parser.add_argument(
        "--fail-rate",
        type=_fail_rate,
        action="append",
        default=[],
        metavar="STEP=P",
        help="make a step (story, images, audio, merge) fail with probability P",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault injection")
    parser.add_argument(
        "--user",
        type=_user,
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="a user to create (default: 'demo' with a printed random password)",
    )
    _add_work_limits(parser)
    return parser


# ---------------------------------------------------------------- work limits (engine workers)
_DEFAULTS = ServerSettings()
_MIB = 1024 * 1024


class _WorkLimits(TypedDict):
    job_cpu_seconds: float
    job_memory_bytes: int
    job_wall_seconds: float
    max_story_words: int
    max_chunks_per_step: int
    max_media_bytes_per_story: int


def _add_work_limits(parser: argparse.ArgumentParser) -> None:
    """What one job and one story may cost (batchkit.server.work_limits), defaults shown."""
    group = parser.add_argument_group("work limits (a story that would pass one fails, naming it)")
    for flag, kind, default, metavar, text in (
        ("--job-cpu-seconds", float, _DEFAULTS.job_cpu_seconds, "S",
         "CPU time of one job: a picture, a spoken clip, a document read"),
        ("--job-memory-mib", int, _DEFAULTS.job_memory_bytes // _MIB, "MIB",
         "memory of an engine worker while it runs a job"),
        ("--job-wall-seconds", float, _DEFAULTS.job_wall_seconds, "S",
         "wall-clock time of one job, past which its worker is replaced"),
        ("--max-story-words", int, _DEFAULTS.max_story_words, "N",
         "words of a document once its text is extracted"),
        ("--max-chunks-per-step", int, _DEFAULTS.max_chunks_per_step, "N",
         "pictures, or spoken clips, of one story's step"),
        ("--max-media-mib", int, _DEFAULTS.max_media_bytes_per_story // _MIB, "MIB",
         "text, pictures and audio one story may write"),
    ):  # fmt: skip
        group.add_argument(
            flag, type=kind, default=default, metavar=metavar, help=f"{text} (default {default:g})"
        )


def _work_limits(args: argparse.Namespace) -> _WorkLimits:
    return _WorkLimits(
        job_cpu_seconds=args.job_cpu_seconds,
        job_memory_bytes=args.job_memory_mib * _MIB,
        job_wall_seconds=args.job_wall_seconds,
        max_story_words=args.max_story_words,
        max_chunks_per_step=args.max_chunks_per_step,
        max_media_bytes_per_story=args.max_media_mib * _MIB,
    )


def main(argv: list[str]) -> int:
    """Serve until interrupted; 0 after a graceful stop, 1 if the server could not start."""
    args = _parser().parse_args(argv)
    users = dict(args.user)
    if not users:
        users = {DEMO_USER: secrets.token_urlsafe(12)}
        print(f"created user {DEMO_USER!r} with password {users[DEMO_USER]}", flush=True)
    try:
        settings = ServerSettings(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            pace=args.pace,
            workers=args.workers,
            fail_rates=dict(args.fail_rate),
            seed=args.seed,
            users=users,
            **_work_limits(args),
        )
        sock = bind_socket(settings.host, settings.port)
    except (ConfigError, OSError) as exc:
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
