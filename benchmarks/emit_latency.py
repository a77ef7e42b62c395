"""Time from a server's emit to the DataFrame row changing, on loopback.

The reference server runs in a child process (``batchkit serve``, pace 0) so that it does not
share the client's event loop or interpreter. A batch with many small image and audio chunks
makes a stream of ``auto-mode-progress`` events; for each event the client records the time its
row changed (right after the fold applied it) minus the event's own ``timestamp`` (set by the
server when it emitted). Both sides read the same machine clock.

Reported as absolute figures (the contract's goal is an absolute one); the socket-path ratio
against a bare python-socketio client is ``benchmarks/socket_path.py``'s job.

    python benchmarks/emit_latency.py [--files 10] [--words 2000] [--chunk 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from batchkit.client import StoryClient
from batchkit.config import BatchConfig
from batchkit.session import BatchSession, FollowOptions
from batchkit.tracker import BatchRun

USER, PASSWORD = "bench", "bench-password"


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "batchkit.cli", "serve", "--port", "0", "--data-dir",
         str(data_dir), "--user", f"{USER}:{PASSWORD}", "--workers", "2"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if "listening on" in line:
            return process, line.rsplit(" ", 1)[-1].strip()
    raise RuntimeError("the server did not start")


def write_documents(folder: Path, files: int, words: int) -> list[Path]:
    vocabulary = [
        "the",
        "keeper",
        "watched",
        "boats",
        "come",
        "home",
        "over",
        "grey",
        "water",
        "at",
        "dusk",
    ]
    paths = []
    for i in range(files):
        path = folder / f"doc_{i:02d}.txt"
        path.write_text(" ".join(vocabulary[(i + j) % len(vocabulary)] for j in range(words)))
        paths.append(path)
    return paths


class LatencyProbe:
    """Wraps the run's fold: after each socket event is applied, how old is that event?"""

    def __init__(self, run: BatchRun) -> None:
        self.samples_ms: list[float] = []
        original = run.apply_event

        def timed(event, *, received_at=None):  # type: ignore[no-untyped-def]
            changed = original(event, received_at=received_at)
            if changed and getattr(event, "timestamp", None) is not None:
                age = datetime.now(UTC) - event.timestamp
                self.samples_ms.append(age.total_seconds() * 1000)
            return changed

        run.apply_event = timed  # type: ignore[method-assign]


async def measure(url: str, documents: list[Path], chunk: int) -> list[float]:
    config = BatchConfig(words_per_chunk_image=chunk, words_per_chunk_audio=chunk)
    async with StoryClient(url, username=USER, password=PASSWORD, env={}) as client:
        session = BatchSession(client, follow=FollowOptions(poll_interval=0.5))
        run = await session.start(documents, config)
        probe = LatencyProbe(run)
        await session.wait()
    return probe.samples_ms


def report(samples: list[float]) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"events measured: {len(ordered)}")
    print(f"emit -> DataFrame row: median {statistics.median(ordered):.2f} ms, "
          f"p99 {p99:.2f} ms, max {ordered[-1]:.2f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        process, url = start_server(folder / "server")
        try:
            documents = write_documents(folder, args.files, args.words)
            samples = asyncio.run(measure(url, documents, args.chunk))
        finally:
            process.terminate()
            process.wait(10)
    report(samples)


if __name__ == "__main__":
    main()
