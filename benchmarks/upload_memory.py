"""How much memory the client holds while it uploads 10 files of 10 MiB each in one request.

    python benchmarks/upload_memory.py [--files 10] [--mib 10]

The reference server runs in a child process, so every number printed is the client's alone:

* RSS growth: the highest resident memory sampled (every 2 ms, from ``/proc/self/statm``, so
  Linux only) during the upload minus the resident memory just before it, in a run without
  tracemalloc (which costs memory of its own);
* tracemalloc peak: the most Python memory allocated at once during a second, traced upload.

A client that read the files into memory would show about ``files × mib`` MiB in both.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import tempfile
import threading
import time
import tracemalloc
from multiprocessing.connection import Connection
from pathlib import Path

from batchkit.client import StoryClient
from batchkit.files import Document

MIB = 1024 * 1024
USER, PASSWORD = "bench", "bench-password"


def serve(pipe: Connection, data_dir: str) -> None:
    """The child process: run the reference server until the parent says stop."""
    from batchkit.server.launcher import start_embedded_server

    with start_embedded_server(data_dir=Path(data_dir), users={USER: PASSWORD}) as server:
        pipe.send(server.url)
        pipe.recv()


def write_file(path: Path, size: int) -> Path:
    line = b"The keeper counted the ships coming home before the storm.\n"
    block = (line * (MIB // len(line) + 1))[:MIB]
    with path.open("wb") as out:
        for start in range(0, size, MIB):
            out.write(block[: min(MIB, size - start)])
    return path


def rss_mib() -> float:
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * resource.getpagesize() / MIB


class RssSampler:
    """Samples the resident memory on a thread while the event loop uploads."""

    def __init__(self) -> None:
        self.highest = rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.highest = max(self.highest, rss_mib())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.highest = max(self.highest, rss_mib())


async def upload_all(client: StoryClient, documents: list[Document]) -> float:
    started = time.perf_counter()
    answer = await client.upload(documents)
    assert answer.total_size == sum(d.size for d in documents)
    return time.perf_counter() - started


async def measure(url: str, paths: list[Path]) -> None:
    documents = [Document.from_path(path) for path in paths]
    total_mib = sum(d.size for d in documents) / MIB
    async with StoryClient(url, username=USER, password=PASSWORD, env={}) as client:
        await client.login()
        warm_up = write_file(paths[0].with_name("warm-up.txt"), 64 * 1024)
        await client.upload([Document.from_path(warm_up)])  # imports, connection, code paths

        before = rss_mib()
        with RssSampler() as sampler:
            elapsed = await upload_all(client, documents)
        rss_growth = sampler.highest - before

        tracemalloc.start()
        traced_elapsed = await upload_all(client, documents)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    print(f"uploaded {len(documents)} files, {total_mib:.0f} MiB in one request")
    print(f"  untraced: {elapsed:.2f} s ({total_mib / elapsed:.0f} MiB/s)")
    print(f"  RSS before: {before:.1f} MiB; most growth during the upload: {rss_growth:.2f} MiB")
    print(f"  traced:   {traced_elapsed:.2f} s")
    print(f"  tracemalloc peak during the upload: {traced_peak / MIB:.2f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--mib", type=int, default=10, help="size of each file in MiB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="batchkit-bench-") as folder:
        base = Path(folder)
        paths = [write_file(base / f"doc-{i:02}.txt", args.mib * MIB) for i in range(args.files)]
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        child = context.Process(target=serve, args=(theirs, str(base / "server")), daemon=True)
        child.start()
        try:
            if not ours.poll(60):
                raise SystemExit("the reference server did not start within 60 s")
            asyncio.run(measure(ours.recv(), paths))
        finally:
            ours.send("stop")
            child.join(30)


if __name__ == "__main__":
    main()
