"""How long the reference server takes on a realistic batch, and how much memory it needs.

    python -m benchmarks.server_batch [--quick] [--json]

Runs ``batchkit serve`` as a child process (so its memory is its own), uploads 10 documents of
about 2,000 words, runs every step (story, images, audio, merge; pace 0, default chunk sizes)
with 1 and with 2 engine worker processes, alternately, best of 3 rounds each (the machine is
shared: the best round is the one least disturbed), and reads the server's peak resident memory
(``VmHWM``) from /proc. The clock starts when the batch-create is sent, after a small warm-up
batch (the workers start in the background), and stops at the ``completedAt`` of the batch's
last story (the server's clock is this machine's; the status is polled only every 0.25 s, to
see that the batch ended, so polls neither round the figure nor cost the server much). The CPU
time of the server and its workers (``/proc/<pid>/stat``) is measured over the same span:
divided by the wall time it says how many cores the run really had, which tells a slow machine
from a slow server; so does the time their threads were ready to run but waited for a core
(``/proc/<pid>/task/*/schedstat``).
The goal is a speedup of at least 1.8 with 2 workers on 2 cores.

Two more runs: 10 files of 10 MiB uploaded in one request (uploads are streamed), and the start
of an embedded server in a fresh process (import and listening; its workers start after, in the
background). Time per engine: ``benchmarks/engines_bench.py``.
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from benchmarks.report import (
    Row,
    at_least,
    at_most,
    main,
    rss_peak_mib,
    tree_cpu_seconds,
    tree_wait_seconds,
)

__all__ = ["run"]

LISTENING = re.compile(rb"listening on (http://\S+)")
USER, PASSWORD = "bench", "bench-password"
TIMEOUT = 1800.0
SPEEDUP_GOAL = 1.8
START_GOAL = 2.5
ROUNDS = 3
POLL_EVERY = 0.25
"""Only to see that the batch ended: its time is the server's ``completedAt``."""


@dataclass(frozen=True, slots=True)
class Measurement:
    label: str
    seconds: float
    peak_rss_mib: float
    detail: str
    rss_before_mib: float = 0.0
    cpu_seconds: float = 0.0
    waited_seconds: float = 0.0
    """Time the server's and workers' threads were ready to run but had no core."""

    @property
    def cores_busy(self) -> float:
        return self.cpu_seconds / self.seconds


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

    def __init__(
        self, workers: int, users: tuple[tuple[str, str], ...] = ((USER, PASSWORD),)
    ) -> None:
        self.workers = workers
        self._users = users
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
            *(f"--user={name}:{password}" for name, password in self._users),
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


async def login(
    http: httpx.AsyncClient, user: str = USER, password: str = PASSWORD
) -> dict[str, str]:
    response = await http.post("/api/auth/login", json={"username": user, "password": password})
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
        body = batch_body([f["fileUrl"] for f in upload.json()["files"]])
        await warm_up(http, auth, workers)
        cpu_before, waited_before = tree_cpu_seconds(server.pid), tree_wait_seconds(server.pid)
        sent = datetime.now(UTC)
        created = await http.post("/api/stories/batch-create", headers=auth, json=body)
        created.raise_for_status()
        status = await wait_until_done(http, auth, created.json()["data"]["batchId"])
        seconds = (last_completed(status) - sent).total_seconds()
        cpu = tree_cpu_seconds(server.pid) - cpu_before
        waited = tree_wait_seconds(server.pid) - waited_before
        detail = f"{status['completedStories']} completed, {status['failedStories']} failed"
        peak = rss_peak_mib(server.pid)
        label = f"batch, {workers} worker(s)"
        return Measurement(label, seconds, peak, detail, cpu_seconds=cpu, waited_seconds=waited)


async def warm_up(http: httpx.AsyncClient, auth: dict[str, str], workers: int) -> None:
    """A small batch first, so that every worker has started and loaded its engines (they
    start in the background) before the clock starts."""
    upload = await http.post(
        "/api/stories/batch-upload",
        headers=auth,
        files=[("files", doc) for doc in documents(workers, 60)],
    )
    upload.raise_for_status()
    body = batch_body([f["fileUrl"] for f in upload.json()["files"]])
    created = await http.post("/api/stories/batch-create", headers=auth, json=body)
    created.raise_for_status()
    await wait_until_done(http, auth, created.json()["data"]["batchId"])


def batch_body(file_urls: list[str]) -> dict[str, Any]:
    """A batch-create body: every step, default chunk sizes."""
    return {
        "stories": [{"fileUrl": url} for url in file_urls],
        "autoMode": {
            "enabled": True,
            "generateImages": True,
            "generateAudio": True,
            "mergeAudio": True,
        },
    }


def last_completed(status: dict[str, Any]) -> datetime:
    """When the batch's last story ended, by the server's clock (this machine's)."""
    return max(datetime.fromisoformat(result["completedAt"]) for result in status["results"])


async def wait_until_done(
    http: httpx.AsyncClient, auth: dict[str, str], batch_id: str
) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        while True:
            response = await http.get(f"/api/stories/batch/{batch_id}/status", headers=auth)
            status: dict[str, Any] = response.json()
            if status["status"] in {"completed", "failed"}:
                return status
            await asyncio.sleep(POLL_EVERY)


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


async def measure(
    files: int, words: int, upload_mib: int, rounds: int
) -> tuple[Measurement, Measurement, Measurement]:
    """Batches with 1 and 2 workers, alternately, the best of ``rounds`` each; the upload."""
    best: dict[int, Measurement] = {}
    for _ in range(rounds):
        for workers in (1, 2):
            measured = await run_batch(workers, files, words)
            if workers not in best or measured.seconds < best[workers].seconds:
                best[workers] = measured
    return best[1], best[2], await run_large_upload(10, upload_mib)


def measure_start() -> float:
    """Seconds for a fresh process to import the server and start an embedded one."""
    code = (
        "import time; t = time.perf_counter(); from batchkit.server import start_embedded_server;"
        " s = start_embedded_server(); print(time.perf_counter() - t); s.stop()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return float(done.stdout.split()[-1])


def _speedup_row(label: str, one: Measurement, two: Measurement, rounds: int) -> Row:
    speedup = one.seconds / two.seconds
    cores = (
        f"CPU of server and workers: 1 worker {one.cpu_seconds:.2f} s over {one.seconds:.2f} s "
        f"({one.cores_busy:.2f} cores busy), 2 workers {two.cpu_seconds:.2f} s over "
        f"{two.seconds:.2f} s ({two.cores_busy:.2f} cores busy); their threads waited for a "
        f"core {one.waited_seconds:.2f} s and {two.waited_seconds:.2f} s (each other, the "
        f"kernel, other users); best of {rounds} rounds each"
    )
    remedy = (
        f"with 2 workers the run had only {two.cores_busy:.2f} cores of CPU time and its threads "
        f"waited {two.waited_seconds:.1f} s for a core: the machine was shared; run again when "
        "`uptime` shows a load near 0"
        if two.cores_busy < SPEEDUP_GOAL
        else "the workers had the cores but waited: see the server's share of the CPU time"
    )
    return Row(
        f"{label}: speedup, 2 workers over 1",
        speedup,
        "×",
        goal=f"≥ {SPEEDUP_GOAL}× (2 cores)",
        met=at_least(speedup, SPEEDUP_GOAL),
        note=cores,
        remedy=remedy,
    )


def run(quick: bool) -> list[Row]:
    files, words, upload_mib, rounds = (2, 300, 2, 1) if quick else (10, 2000, 10, ROUNDS)
    one, two, upload = asyncio.run(measure(files, words, upload_mib, rounds))
    start = measure_start()
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
        _speedup_row(label, one, two, rounds),
        Row(
            f"{label}: CPU time of server and workers, 2 workers",
            two.cpu_seconds,
            "s",
            baseline=one.cpu_seconds,
            baseline_label="1 worker",
        ),
        Row(
            f"{label}: server peak RSS (workers aside), 2 workers",
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
        Row(
            "6 server: embedded server started in a fresh process (import + listening)",
            start,
            "s",
            goal=f"≤ {START_GOAL} s (the workbench's whole start)",
            met=at_most(start, START_GOAL),
            note="its engine workers start afterwards, in the background",
        ),
    ]


if __name__ == "__main__":
    raise SystemExit(main(run, __doc__))
