"""How long the reference server takes on a realistic batch, and how much memory it needs.

    python -m benchmarks.server_batch [--quick] [--json]

Runs ``batchkit serve`` as a child process (so its memory is its own), uploads 10 documents of
about 2,000 words, runs every step (story, images, audio, merge; pace 0, default chunk sizes)
with 1 and then 2 workers (the baseline), and reads the server's peak resident memory
(``VmHWM``) from /proc. A last run uploads 10 files of 10 MiB in one request, to show that
uploads are streamed. Time per engine: ``benchmarks/engines_bench.py``.
"""

from __future__ import annotations

import asyncio
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import httpx

from benchmarks.report import Row, main, rss_peak_mib

__all__ = ["run"]

LISTENING = re.compile(rb"listening on (http://\S+)")
USER, PASSWORD = "bench", "bench-password"
TIMEOUT = 1800.0


@dataclass(frozen=True, slots=True)
class Measurement:
    label: str
    seconds: float
    peak_rss_mib: float
    detail: str
    rss_before_mib: float = 0.0


_SUBJECTS = ("The keeper", "A fisherman", "The old clockmaker", "Her brother", "The village")
_VERBS = ("watched", "carried", "remembered", "followed", "painted", "mended")
_OBJECTS = ("the lamp", "a silver net", "the harbour wall", "the morning tide", "the quiet road")
_ENDINGS = ("before the storm.", "in the rain.", "at first light.", "for a long time.", "again.")


def documents(count: int, words: int) -> list[tuple[str, bytes]]:
    """``count`` different plain-text documents of about ``words`` words each."""
    docs = []
    for index in range(count):
        rng = random.Random(index)
        sentences: list[str] = []
        while sum(len(s.split()) for s in sentences) < words:
            parts = (_SUBJECTS, _VERBS, _OBJECTS, _ENDINGS)
            sentences.append(" ".join(rng.choice(part) for part in parts))
        docs.append((f"document_{index + 1:02d}.txt", " ".join(sentences).encode()))
    return docs


class ServerProcess:
    """``batchkit serve`` on a free port, in a temporary data directory."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.url = ""
        self._tmp = tempfile.TemporaryDirectory(prefix="batchkit-bench-")
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def __aenter__(self) -> ServerProcess:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "batchkit.cli", "serve", "--port", "0",
            "--workers", str(self.workers), "--data-dir", self._tmp.name,
            "--user", f"{USER}:{PASSWORD}",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self._process.stdout is not None
        async with asyncio.timeout(60):
            while line := await self._process.stdout.readline():
                if match := LISTENING.search(line):
                    self.url = match.group(1).decode()
                    return self
        raise RuntimeError("the server did not start")

    async def __aexit__(self, *exc: object) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()
        self._tmp.cleanup()


async def login(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.post("/api/auth/login", json={"username": USER, "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['accessToken']}"}


async def run_batch(workers: int, files: int, words: int) -> Measurement:
    async with (
        ServerProcess(workers) as server,
        httpx.AsyncClient(base_url=server.url, timeout=120) as http,
    ):
        auth = await login(http)
        upload = await http.post(
            "/api/stories/batch-upload",
            headers=auth,
            files=[("files", doc) for doc in documents(files, words)],
        )
        upload.raise_for_status()
        body = {
            "stories": [{"fileUrl": f["fileUrl"]} for f in upload.json()["files"]],
            "autoMode": {
                "enabled": True,
                "generateImages": True,
                "generateAudio": True,
                "mergeAudio": True,
            },
        }
        started = time.perf_counter()
        created = await http.post("/api/stories/batch-create", headers=auth, json=body)
        created.raise_for_status()
        status = await wait_until_done(http, auth, created.json()["data"]["batchId"])
        seconds = time.perf_counter() - started
        detail = f"{status['completedStories']} completed, {status['failedStories']} failed"
        return Measurement(f"batch, {workers} worker(s)", seconds, rss_peak_mib(server.pid), detail)


async def wait_until_done(
    http: httpx.AsyncClient, auth: dict[str, str], batch_id: str
) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        while True:
            response = await http.get(f"/api/stories/batch/{batch_id}/status", headers=auth)
            status: dict[str, Any] = response.json()
            if status["status"] in {"completed", "failed"}:
                return status
            await asyncio.sleep(0.1)


async def run_large_upload(files: int, mib: int) -> Measurement:
    """``files`` files of ``mib`` MiB in one request: the peak memory should not grow by that."""
    async with (
        ServerProcess(1) as server,
        httpx.AsyncClient(base_url=server.url, timeout=120) as http,
    ):
        auth = await login(http)
        before = rss_peak_mib(server.pid)
        blob = b"word " * (mib * 1024 * 1024 // 5)
        started = time.perf_counter()
        response = await http.post(
            "/api/stories/batch-upload",
            headers=auth,
            files=[("files", (f"big_{i}.txt", blob)) for i in range(files)],
        )
        response.raise_for_status()
        seconds = time.perf_counter() - started
        after = rss_peak_mib(server.pid)
        detail = f"peak {before:.0f} MiB before; {files * mib} MiB received in {seconds:.2f} s"
        return Measurement(f"upload {files} × {mib} MiB", seconds, after, detail, before)


async def measure(files: int, words: int, upload_mib: int) -> list[Measurement]:
    """One batch with 1 worker, one with 2, then the large upload."""
    rows = [await run_batch(workers, files, words) for workers in (1, 2)]
    rows.append(await run_large_upload(10, upload_mib))
    return rows


def run(quick: bool) -> list[Row]:
    files, words, upload_mib = (2, 300, 2) if quick else (10, 2000, 10)
    one, two, upload = asyncio.run(measure(files, words, upload_mib))
    label = f"6 server: {files} files × {words:,} words, every step, pace 0"
    return [
        Row(
            f"{label}: wall time, 2 workers",
            two.seconds,
            "s",
            baseline=one.seconds,
            baseline_label="1 worker",
            note=f"2 workers: {two.detail}; 1 worker: {one.detail}",
        ),
        Row(
            f"{label}: server peak RSS, 2 workers",
            two.peak_rss_mib,
            "MiB",
            baseline=one.peak_rss_mib,
            baseline_label="1 worker",
        ),
        Row(
            f"6 server: {upload.label} in one request, server peak RSS growth",
            upload.peak_rss_mib - upload.rss_before_mib,
            "MiB",
            note=upload.detail,
        ),
    ]


if __name__ == "__main__":
    raise SystemExit(main(run, __doc__))
