"""Fixtures of the client tests: a real reference server, real documents, and time under control.

The ``server`` fixture is the real reference server (uvicorn on 127.0.0.1, port 0, SQLite in
``tmp_path``) started by the launcher the notebooks use. The fake clock exists only for the retry
tests, whose waits would otherwise be real seconds.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docx
import httpx
import pytest

from batchkit.client import RetryPolicy, StoryClient
from batchkit.server.launcher import EmbeddedServer, start_embedded_server

USERS = {"alice": "alice-pw", "bob": "bob-pw"}
OLE2_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MIB = 1024 * 1024
STATIC_TOKEN = "static-token-4f1c9a"


# ---------------------------------------------------------------- real server
@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    with start_embedded_server(
        data_dir=tmp_path / "srv", users=USERS, pace=0.0, workers=2
    ) as running:
        yield running


@pytest.fixture
async def client(server: EmbeddedServer) -> AsyncIterator[StoryClient]:
    async with StoryClient(server.url, username="alice", password=USERS["alice"], env={}) as c:
        yield c


@pytest.fixture
async def bob(server: EmbeddedServer) -> AsyncIterator[StoryClient]:
    async with StoryClient(server.url, username="bob", password=USERS["bob"], env={}) as c:
        yield c


# ---------------------------------------------------------------- real documents
class Samples:
    """Writes real documents into the test's own folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def docx(self, name: str, *paragraphs: str) -> Path:
        """A genuine Word document, written by python-docx."""
        path = self.folder / name
        path.write_bytes(self.docx_bytes(*paragraphs))
        return path

    @staticmethod
    def docx_bytes(*paragraphs: str) -> bytes:
        buffer = io.BytesIO()
        document = docx.Document()
        for paragraph in paragraphs or ("A short story about a lighthouse.",):
            document.add_paragraph(paragraph)
        document.save(buffer)
        return buffer.getvalue()

    def doc(self, name: str) -> Path:
        """A file that starts like a Word 97–2003 .doc (the OLE2 signature).

        The client only checks the signature, so this is all of a .doc its checks see; reading a
        complete .doc is the server engines' business and is tested there.
        """
        return self.raw(name, OLE2_HEADER + bytes(504) + b"WordDocument" + bytes(1024))

    def text(self, name: str, size: int = 2000) -> Path:
        """A plain-text file of exactly ``size`` bytes, written in 1 MiB slices."""
        line = "The lighthouse keeper counted the ships coming home.\n"
        block = (line * (MIB // len(line) + 1)).encode()[:MIB]
        path = self.folder / name
        with path.open("wb") as out:
            remaining = size
            while remaining:
                piece = block[: min(remaining, len(block))]
                out.write(piece)
                remaining -= len(piece)
        return path

    def raw(self, name: str, content: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(content)
        return path


@pytest.fixture
def samples(tmp_path: Path) -> Samples:
    folder = tmp_path / "documents"
    folder.mkdir()
    return Samples(folder)


# ---------------------------------------------------------------- time under control
@dataclass
class FakeTime:
    """A clock that only moves when the code under test sleeps; the sleeps are recorded."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def policy(self, **overrides: float) -> RetryPolicy:
        """A policy on this clock whose jitter is the cap itself, so waits are predictable."""
        return RetryPolicy(sleep=self.sleep, clock=self.clock, jitter=lambda cap: cap, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


Handler = Callable[[httpx.Request], httpx.Response]
MockClientFactory = Callable[..., StoryClient]


@pytest.fixture
def mock_client(fake_time: FakeTime) -> MockClientFactory:
    """Makes clients whose server is a handler (``httpx.MockTransport``) and whose waits are fake.

    Only for cases the real server cannot produce on demand (a 503 storm, a lost answer); each
    test that uses it says why.
    """

    def make(
        handler: Handler, *, token: str | None = STATIC_TOKEN, **options: object
    ) -> StoryClient:
        settings: dict[str, object] = {"token": token} if token else {}
        settings["retry"] = fake_time.policy()
        settings.update(options)
        return StoryClient(
            "http://story.test",
            transport=httpx.MockTransport(handler),
            env={},
            **settings,  # type: ignore[arg-type]
        )

    return make
