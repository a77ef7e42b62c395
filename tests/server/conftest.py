"""Fixtures of the reference server's contract tests: real servers on loopback, real clients.

Every server here is a real uvicorn on 127.0.0.1 (port 0) started by the launcher; clients are
httpx and python-socketio's AsyncClient. Nothing is faked. Waiting is always on a condition
(an event arriving, a status reaching a state) with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import httpx
import pytest
import socketio
from pydantic import ValidationError

from batchkit.contract import (
    BatchStoriesComplete,
    JoinedBatchRoom,
    JoinedStoryRoom,
    ServerEvent,
    parse_event,
)
from batchkit.server import EmbeddedServer, start_embedded_server

USERS = {"alice": "alice-secret-1", "bob": "bob-secret-2"}
TIMEOUT = 20.0
"""Deadline of any single wait: generous for a loaded 2-core machine, never reached when green."""

E = TypeVar("E")

_SENTENCES = (
    "The lighthouse keeper climbed the stairs at dusk.",
    "Waves broke on the rocks below the tower.",
    "A small boat drifted toward the harbour lights.",
    "Gulls circled the mast and called into the wind.",
    "By morning the storm had passed over the hills.",
)


def story_text(words: int = 120) -> str:
    """Plain English text of about ``words`` words (whole sentences)."""
    out: list[str] = []
    count = 0
    for sentence in itertools.cycle(_SENTENCES):
        out.append(sentence)
        count += len(sentence.split())
        if count >= words:
            return " ".join(out)
    raise AssertionError("unreachable")


FULL_AUTO_MODE: dict[str, Any] = {
    "enabled": True,
    "generateImages": True,
    "generateAudio": True,
    "mergeAudio": True,
    "wordPerChunkImage": 50,
    "wordPerChunkAudio": 50,
}


# ---------------------------------------------------------------- HTTP
@dataclass
class Api:
    """One logged-in user's HTTP client."""

    http: httpx.AsyncClient
    token: str = field(repr=False)
    username: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def upload(self, *files: tuple[str, bytes]) -> list[dict[str, Any]]:
        response = await self.http.post(
            "/api/stories/batch-upload",
            headers=self.auth,
            files=[("files", (name, content)) for name, content in files],
        )
        assert response.status_code == 201, response.text
        uploaded: list[dict[str, Any]] = response.json()["files"]
        return uploaded

    async def upload_texts(self, count: int, words: int = 120) -> list[str]:
        files = [(f"doc{i}.txt", story_text(words).encode()) for i in range(count)]
        return [f["fileUrl"] for f in await self.upload(*files)]

    async def create_batch(
        self,
        file_urls: list[str],
        auto_mode: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        body = {
            "stories": [{"fileUrl": url} for url in file_urls],
            "autoMode": dict(auto_mode or FULL_AUTO_MODE),
        }
        response = await self.http.post(
            "/api/stories/batch-create", headers={**self.auth, **(headers or {})}, json=body
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def status(self, batch_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/stories/batch/{batch_id}/status", headers=self.auth)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def story(self, story_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/stories/{story_id}", headers=self.auth)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def wait_for_status(
        self, batch_id: str, states: frozenset[str] = frozenset({"completed", "failed"})
    ) -> dict[str, Any]:
        """Poll the status until it reaches one of ``states`` (a condition with a deadline)."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                status = await self.status(batch_id)
                if status["status"] in states:
                    return status
                await asyncio.sleep(0.05)  # polling interval of a condition, not a sync point


async def login(base_url: str, username: str, password: str) -> Api:
    http = httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT)
    response = await http.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    return Api(http, response.json()["accessToken"], username)


# ---------------------------------------------------------------- socket.io
@dataclass
class EventStream:
    """A socket.io client that validates and records every message it receives."""

    url: str
    token: str = field(repr=False)
    client: socketio.AsyncClient = field(init=False)
    events: list[ServerEvent] = field(default_factory=list)
    invalid: list[tuple[str, Any, ValidationError]] = field(default_factory=list)
    disconnects: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def __post_init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.client.on("*", self._record)
        self.client.on("disconnect", self._disconnected)

    async def _record(self, name: str, data: Any = None) -> None:
        try:
            event = parse_event(name, data)
        except ValidationError as exc:
            self.invalid.append((name, data, exc))
            return
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    async def _disconnected(self, *reason: Any) -> None:
        async with self._changed:
            self.disconnects += 1
            self._changed.notify_all()

    async def connect(self, *, via: str = "both") -> None:
        url = self.url if via == "auth" else f"{self.url}?token={self.token}"
        auth = None if via == "query" else {"token": self.token}
        await self.client.connect(url, auth=auth, transports=["websocket"], wait_timeout=10)

    async def close(self) -> None:
        if self.client.connected:
            await self.client.disconnect()

    async def send(self, message: str, payload: object) -> None:
        await self.client.emit(message, payload)

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT), self._changed:
            await self._changed.wait_for(condition)

    async def wait_for(self, kind: type[E], where: Callable[[E], bool] = lambda e: True) -> E:
        """The first event of type ``kind`` (received so far or to come) that matches ``where``."""

        def found() -> E | None:
            return next((e for e in self.events if isinstance(e, kind) and where(e)), None)

        await self.wait_until(lambda: found() is not None)
        event = found()
        assert event is not None
        return event

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def join_batch(self, batch_id: str) -> JoinedBatchRoom:
        await self.send("join-batch-room", {"batchId": batch_id})
        return await self.wait_for(JoinedBatchRoom, lambda e: e.batch_id == batch_id)

    async def join_story(self, story_id: str) -> JoinedStoryRoom:
        await self.send("join-story-room", {"storyId": story_id})
        return await self.wait_for(JoinedStoryRoom, lambda e: e.story_id == story_id)


async def run_watched_batch(
    server: EmbeddedServer,
    api: Api,
    stream: EventStream,
    file_urls: list[str],
    auto_mode: Mapping[str, Any] | None = None,
) -> tuple[str, BatchStoriesComplete]:
    """Create a batch whose room ``stream`` joins before anything happens in it; wait for its end.

    The server holds new batches until the room is joined, so no batch event can be missed.
    """
    server.hold_batches()
    try:
        batch_id = (await api.create_batch(file_urls, auto_mode))["data"]["batchId"]
        await stream.join_batch(batch_id)
    finally:
        server.release_batches()
    done = await stream.wait_for(BatchStoriesComplete, lambda e: e.batch_id == batch_id)
    return batch_id, done


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def server() -> Iterator[EmbeddedServer]:
    """The shared reference server (pace 0, two users); tests that disturb it make their own."""
    with start_embedded_server(users=USERS, workers=2) as embedded:
        yield embedded


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., EmbeddedServer]]:
    """Start private servers (stopped at teardown) for tests that restart or break them."""
    started: list[EmbeddedServer] = []

    def start(**options: Any) -> EmbeddedServer:
        options.setdefault("users", USERS)
        embedded = start_embedded_server(**options)
        started.append(embedded)
        return embedded

    yield start
    for embedded in started:
        embedded.stop()


@pytest.fixture
async def alice(server: EmbeddedServer) -> AsyncIterator[Api]:
    api = await login(server.url, "alice", USERS["alice"])
    yield api
    await api.http.aclose()


@pytest.fixture
async def bob(server: EmbeddedServer) -> AsyncIterator[Api]:
    api = await login(server.url, "bob", USERS["bob"])
    yield api
    await api.http.aclose()


@pytest.fixture
async def stream_factory() -> AsyncIterator[Callable[[str, str], EventStream]]:
    """Make event streams; at teardown each is closed and must have had only valid payloads."""
    streams: list[EventStream] = []

    def make(url: str, token: str) -> EventStream:
        stream = EventStream(url, token)
        streams.append(stream)
        return stream

    yield make
    for stream in streams:
        await stream.close()
    for stream in streams:
        assert stream.invalid == [], f"payloads that break the contract: {stream.invalid}"


@pytest.fixture
async def alice_events(
    server: EmbeddedServer, alice: Api, stream_factory: Callable[[str, str], EventStream]
) -> EventStream:
    stream = stream_factory(server.url, alice.token)
    await stream.connect()
    return stream


# ---------------------------------------------------------------- a real full disk
# ``batchkit serve`` on a small tmpfs of its own: it runs in a mount namespace of its own
# (``unshare --mount``; with a user namespace too when the tests do not run as root) where its
# data directory is a small tmpfs, so every write of the server, its SQLite database and its
# engine workers can really fail with ENOSPC; nothing outside the test sees the mount, and it
# vanishes with the process. A test reaches that filesystem through ``/proc/<pid>/root``.
_LISTENING = re.compile(rb"listening on (http://127\.0\.0\.1:\d+)")


@dataclass
class SmallDiskServer:
    url: str
    process: asyncio.subprocess.Process
    data_dir: Path
    """The data directory as this process sees it: the server's tmpfs, through /proc."""

    def fill(self, *, leave: int) -> Path:
        """Write zeros until the disk is full, then give back ``leave`` bytes."""
        filler = self.data_dir / "filler"
        chunk = b"\0" * (1024 * 1024)
        with filler.open("wb", buffering=0) as out:
            assert _write_until_refused(out, chunk) == errno.ENOSPC
        written = filler.stat().st_size
        os.truncate(filler, max(0, written - leave))
        return filler

    def uploads(self) -> list[str]:
        """The stored names of the uploaded originals."""
        return sorted(p.name for p in (self.data_dir / "uploads" / "original").iterdir())

    async def log_after_stop(self) -> str:
        """Stop the server and return what it wrote on stderr."""
        self.process.terminate()
        async with asyncio.timeout(TIMEOUT):
            await self.process.wait()
        assert self.process.stderr is not None
        return (await self.process.stderr.read()).decode()


def _write_until_refused(out: BinaryIO, chunk: bytes) -> int | None:
    """Write ``chunk`` again and again; the errno of the write that was refused."""
    while True:
        try:
            out.write(chunk)
        except OSError as exc:
            return exc.errno


def _unshare_command(data_dir: Path, size_mib: int, *options: str) -> list[str]:
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    mount = f'mount -t tmpfs -o size={size_mib}m tmpfs "$0" && exec "$@"'
    serve = [
        sys.executable, "-m", "batchkit.cli", "serve", "--port", "0", "--workers", "1",
        "--data-dir", str(data_dir), "--user", f"alice:{USERS['alice']}", *options,
    ]  # fmt: skip
    return ["unshare", "--mount", *user, "sh", "-c", mount, str(data_dir), *serve]


StartServer = Callable[..., Awaitable[SmallDiskServer]]


@pytest.fixture
async def small_disk(tmp_path: Path) -> AsyncIterator[StartServer]:
    """Start ``batchkit serve OPTIONS...`` on a disk of ``size_mib`` (stopped at teardown)."""
    processes: list[asyncio.subprocess.Process] = []

    async def start(*options: str, size_mib: int = 24) -> SmallDiskServer:
        mount_point = tmp_path / f"disk{len(processes)}"
        mount_point.mkdir()
        process = await asyncio.create_subprocess_exec(
            *_unshare_command(mount_point, size_mib, *options),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        processes.append(process)
        assert process.stdout is not None
        async with asyncio.timeout(TIMEOUT):
            while not (match := _LISTENING.search(await process.stdout.readline())):
                assert process.returncode is None, "the server in its namespace did not start"
        inside = Path(f"/proc/{process.pid}/root") / str(mount_point).lstrip("/")
        return SmallDiskServer(match.group(1).decode(), process, inside)

    yield start
    for process in processes:
        if process.returncode is None:
            process.terminate()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TIMEOUT):
                await process.wait()
