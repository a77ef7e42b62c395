"""``batchkit report``: one HTML file about saved runs, that opens with no network and no kernel.

Each argument is a saved run's folder (it holds ``events.jsonl``) or a folder of runs (such as
``runs/tuning``). Media not kept next to the runs yet are fetched first from the server each run
was made with (its ``config.json`` names it), logging in with ``$BATCHKIT_USERNAME`` and
``$BATCHKIT_PASSWORD`` (or ``$BATCHKIT_TOKEN``); a server that is gone or refuses is reported and
the report is written with what is on disk. ``--no-fetch`` never asks a server.

Exit status: 0 when the report was written, 2 on a usage error (an argument that is no run, a
bad option) or when the report could not be written.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from batchkit.analysis import MEDIA_MODES, as_run, fetch_media, report, run_metadata
from batchkit.analysis.media_store import uncached_stories
from batchkit.client import RetryPolicy, StoryClient
from batchkit.errors import BatchkitError
from batchkit.runs import EVENTS_FILE, list_runs

__all__ = ["main"]

EXIT_OK, EXIT_USAGE = 0, 2
_FETCH_RETRY: Final = RetryPolicy(attempts=2)  # a server that is gone should not hold us long


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchkit report",
        description="Write one self-contained HTML report of saved runs: their files and steps, "
        "timelines, durations, failures, settings, server and versions, and (for several runs) "
        "the comparison matrix with its pictures, sound and marks.",
    )
    parser.add_argument(
        "runs", nargs="+", type=Path, metavar="RUN_DIR",
        help="a saved run's folder, or a folder of runs (such as runs/tuning)",
    )  # fmt: skip
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("report.html"),
        help="the HTML file to write (default: report.html)",
    )  # fmt: skip
    parser.add_argument(
        "--media", choices=MEDIA_MODES, default="embed",
        help="embed: thumbnails and audio clips inside the file, up to --max-media-mb; link: "
        "links to the full files kept next to the runs; none: no media (default: embed)",
    )  # fmt: skip
    parser.add_argument(
        "--max-media-mb", type=float, default=20.0, metavar="MB",
        help="with --media embed, the most media to put in the file (default: 20)",
    )  # fmt: skip
    parser.add_argument(
        "--audio-seconds", type=float, default=30.0, metavar="S",
        help="with --media embed, the length of each clip; 0 for whole clips (default: 30)",
    )  # fmt: skip
    parser.add_argument(
        "--thumbnail-px", type=int, default=240, metavar="PX",
        help="with --media embed, the largest side of a thumbnail (default: 240)",
    )  # fmt: skip
    parser.add_argument(
        "--no-fetch", action="store_true",
        help="use only the media kept next to the runs (default: fetch what is missing from each "
        "run's server, with $BATCHKIT_USERNAME and $BATCHKIT_PASSWORD or $BATCHKIT_TOKEN)",
    )  # fmt: skip
    parser.add_argument(
        "--title", default="batchkit run report", help="the report's title (default: %(default)s)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``batchkit report``; ``argv`` excludes the word ``report``."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a usage error and 0 on --help
        return int(exc.code or 0)
    try:
        folders = _run_folders(args.runs)
    except ValueError as problem:
        print(f"batchkit report: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        for folder in folders:  # a run that cannot be read stops us before any request
            as_run(folder)
        if not args.no_fetch:
            asyncio.run(_fetch_missing(folders, os.environ))
        seconds = None if args.audio_seconds <= 0 else args.audio_seconds
        written = report(
            folders, args.output, media=args.media, max_media_mb=args.max_media_mb,
            thumbnail_px=args.thumbnail_px, audio_seconds=seconds, title=args.title,
        )  # fmt: skip
    except (BatchkitError, OSError) as error:
        print(f"batchkit report: {error}", file=sys.stderr)
        return EXIT_USAGE
    size = written.stat().st_size / 1e6
    plural = "s" if len(folders) != 1 else ""
    print(f"wrote {written} ({size:.1f} MB, {len(folders)} run{plural}, media: {args.media})")
    return EXIT_OK


def _run_folders(paths: Sequence[Path]) -> list[Path]:
    """Each argument as run folders: itself when it holds a run, else the runs inside it."""
    folders: list[Path] = []
    for path in paths:
        if (path / EVENTS_FILE).is_file():
            folders.append(path)
            continue
        inside = list_runs(path) if path.is_dir() else None
        if inside is None or inside.empty:
            raise ValueError(
                f"{path} is not a saved run (it has no {EVENTS_FILE}) nor a folder of runs"
            )
        folders.extend(Path(str(found)) for found in inside["path"])
    unique = list(dict.fromkeys(folder.resolve() for folder in folders))
    if len(unique) != len(folders):
        raise ValueError("the same run is given twice")
    return folders


async def _fetch_missing(folders: Sequence[Path], env: Mapping[str, str]) -> None:
    """Fetch each server's missing media; say what could not be fetched, and go on."""
    by_server: dict[str, list[Path]] = {}
    for folder in folders:
        url = run_metadata(folder).get("server_url")
        if isinstance(url, str) and url:
            by_server.setdefault(url, []).append(folder)
    for url, served in by_server.items():
        missing = uncached_stories(served)
        if not missing:
            continue
        try:
            async with StoryClient(url, env=env, retry=_FETCH_RETRY, timeout=15.0) as client:
                await client.ensure_token()  # one login, or one clear reason why not
                fetched = await fetch_media(served, client)
        except BatchkitError as error:
            print(f"batchkit report: media of {missing} stories not fetched from {url}: {error}",
                  file=sys.stderr)  # fmt: skip
            continue
        for failure in fetched.failures:
            print(f"batchkit report: {failure}", file=sys.stderr)
        print(f"fetched the media of {fetched.fetched} stories from {url}", file=sys.stderr)
