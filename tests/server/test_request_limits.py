"""Bounded requests: body size on every route (declared, chunked, lying), slow senders, head size,
and the size of a story's text in ``GET /api/stories/{id}``.

Raw sockets speak HTTP/1.1 to the real server where a well-behaved client (httpx) cannot send
what is tested: a declared body that never comes, headers that trickle, a connection that says
nothing. Memory is Python's as tracemalloc counts it, server thread included (the server runs in
this process); SQLite's own buffers are not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from batchkit.client import StoryClient
from batchkit.contract import ErrorBody
from batchkit.files import Document
from batchkit.server import EmbeddedServer, start_embedded_server

from .conftest import TIMEOUT, USERS, login, story_text

MiB = 1024 * 1024
LOGIN = "/api/auth/login"
STORY_ONLY = {"enabled": True, "generateImages": False, "generateAudio": False}


@pytest.fixture(scope="module")
def guarded() -> Iterator[EmbeddedServer]:
    """A server with short head and body deadlines, so slow senders are cut off quickly."""
    with start_embedded_server(
        users=USERS,
        header_timeout_seconds=0.5,
        body_idle_timeout_seconds=0.5,
        body_deadline_seconds=2.0,
        refused_body_drain_seconds=10.0,
    ) as running:
        yield running


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def message(self) -> str:
        return ErrorBody.model_validate_json(self.body).text()


class RawConnection:
    """One TCP connection to the server, written and read byte for byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, server: EmbeddedServer) -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> RawResponse:
        """The next response, read by its Content-Length, within the deadline."""
        async with asyncio.timeout(TIMEOUT):
            head = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in filter(None, lines):
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await self.reader.readexactly(int(headers["content-length"]))
        return RawResponse(int(status_line.split()[1]), headers, body)

    async def closed_by_server(self) -> bool:
        """Whether the server ends the connection (EOF) within the deadline."""
        async with asyncio.timeout(TIMEOUT):
            while await self.reader.read(64 * 1024):
                pass
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@pytest.fixture
async def connect(guarded: EmbeddedServer) -> AsyncIterator[Any]:
    opened: list[RawConnection] = []

    async def make(server: EmbeddedServer = guarded) -> RawConnection:
        connection = await RawConnection.open(server)
        opened.append(connection)
        return connection

    yield make
    for connection in opened:
        await connection.close()


def _post_head(path: str, *, length: int | None = None, extra: str = "") -> bytes:
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n{extra}\r\n"
    ).encode()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


# ---------------------------------------------------------------- body size
async def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(connect: Any) -> None:
    """300 MiB declared to the login route (no token needed), 1 KiB sent: the 413 comes at once,
    without the server waiting for (or the client sending) the rest."""
    connection = await connect()
    await connection.send(_post_head(LOGIN, length=300 * MiB) + b"{" * 1024)
    response = await connection.response()
    assert response.status == 413
    assert "larger than the limit of 1 MiB" in response.message()
    assert "max_json_body_bytes" in response.message()


async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(connect: Any) -> None:
    """No Content-Length: 2 MiB sent and the body left open; the 413 comes without its end."""
    connection = await connect()
    await connection.send(
        _post_head(LOGIN) + b"".join(_chunk(b"[" * (256 * 1024)) for _ in range(8))
    )
    response = await connection.response()
    assert response.status == 413
    assert "max_json_body_bytes" in response.message()


async def test_a_chunked_body_over_the_limit_costs_the_server_no_more_than_the_limit(
    guarded: EmbeddedServer,
) -> None:
    """24 MiB streamed to the login route: the server buffers at most the 1 MiB limit."""
    block = b" " * MiB

    async def body() -> AsyncIterator[bytes]:
        for _ in range(24):
            yield block  # the same object each time: the client allocates nothing per chunk

    async with httpx.AsyncClient(base_url=guarded.url, timeout=TIMEOUT) as http:
        tracemalloc.start()
        try:
            response = await http.post(
                LOGIN, content=body(), headers={"Content-Type": "application/json"}
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 413, response.text
    assert peak < 6 * MiB, f"the server held {peak / MiB:.1f} MiB for a 1 MiB limit"


async def test_socket_io_polling_bodies_are_bounded_too(connect: Any) -> None:
    connection = await connect()
    await connection.send(_post_head("/socket.io/?EIO=4&transport=polling", length=5 * MiB))
    response = await connection.response()
    assert response.status == 413


async def test_a_chunked_upload_is_bounded_by_the_files_it_may_carry(
    server_factory: Any,
) -> None:
    """The upload route's limit is its files' (here 1 file of 64 KiB, plus framing): a chunked
    body that carries one small file and then goes on and on is refused, and nothing kept."""
    server = server_factory(max_files=1, max_file_bytes=64 * 1024)
    api = await login(server.url, "alice", USERS["alice"])
    boundary = "bnd"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\n'
        f"a few words\r\n--{boundary}--\r\n"
    ).encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(16):
            yield b"epilogue " * 8192  # after the last boundary: nothing parses it

    response = await api.http.post(
        "/api/stories/batch-upload",
        headers={**api.auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=body(),
    )
    await api.http.aclose()
    assert response.status_code == 413, response.text
    assert "the upload request is larger than the limit" in response.json()["message"]
    assert not [p for p in (server.data_dir / "uploads").rglob("*") if p.is_file()]


# ---------------------------------------------------------------- slow senders
async def test_a_body_that_stalls_is_answered_408_and_the_connection_closed(
    connect: Any,
) -> None:
    """1 KiB of a declared 100 KiB, then silence: answered once the idle deadline passes."""
    connection = await connect()
    await connection.send(_post_head(LOGIN, length=100 * 1024) + b" " * 1024)
    response = await connection.response()
    assert response.status == 408
    assert "body_idle_timeout_seconds" in response.message()
    assert await connection.closed_by_server()


async def test_a_body_that_trickles_is_cut_off_at_its_deadline(connect: Any) -> None:
    """A byte every 0.1 s never stalls, but the whole body has 2 s."""
    connection = await connect()
    await connection.send(_post_head(LOGIN, length=100 * 1024))

    async def trickle() -> None:
        for _ in range(200):
            await connection.send(b" ")
            await asyncio.sleep(0.1)  # the sender's pace: what is tested, not a synchronisation

    sender = asyncio.create_task(trickle())
    try:
        response = await connection.response()
    finally:
        sender.cancel()
    assert response.status == 408
    assert "body_deadline_seconds" in response.message()


async def test_a_connection_that_sends_nothing_is_closed(connect: Any) -> None:
    connection = await connect()
    response = await connection.response()
    assert response.status == 408
    assert "header_timeout_seconds" in response.message()
    assert await connection.closed_by_server()


async def test_headers_that_never_end_are_cut_off(connect: Any) -> None:
    connection = await connect()
    await connection.send(b"GET /api/stories/options HTTP/1.1\r\nHost: test\r\nX-Slow: a")
    response = await connection.response()
    assert response.status == 408
    assert await connection.closed_by_server()


async def test_huge_headers_are_refused_without_being_buffered(connect: Any) -> None:
    """8 MiB of one header: 431 once the 32 KiB limit is passed; the server keeps none of it."""
    connection = await connect()
    block = b"a" * (64 * 1024)

    async def flood() -> None:
        for _ in range(128):  # the same block each time: the client allocates nothing per send
            await connection.send(block)

    tracemalloc.start()
    try:
        await connection.send(b"GET /api/stories/options HTTP/1.1\r\nHost: test\r\nX-Big: ")
        sender = asyncio.create_task(flood())
        response = await connection.response()
        await sender
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status == 431
    assert "max_header_bytes" in response.message()
    assert peak < 2 * MiB, f"8 MiB of headers cost {peak / MiB:.1f} MiB"
    assert await connection.closed_by_server()


async def test_a_request_refused_early_still_reads_its_answer_on_a_kept_alive_client(
    alice: Any,
) -> None:
    """A small body answered before it was read (a bad extension) reaches the client whole:
    what the client still sends is drained, not reset."""
    for _ in range(3):
        response = await alice.http.post(
            "/api/stories/batch-upload",
            headers=alice.auth,
            files=[("files", ("slides.pdf", b"%PDF" * 4096)), ("files", ("b.txt", b"words"))],
        )
        assert response.status_code == 415, response.text


# ---------------------------------------------------------------- a story's text
async def _story_of(server: EmbeddedServer, text: bytes) -> tuple[str, StoryClient]:
    client = StoryClient(server.url, username="alice", password=USERS["alice"], env={})
    await client.login()
    [uploaded] = (await client.upload([Document.from_bytes("long.txt", text)])).files
    api = await login(server.url, "alice", USERS["alice"])
    created = await api.create_batch([uploaded.file_url], STORY_ONLY)
    status = await api.wait_for_status(created["data"]["batchId"])
    await api.http.aclose()
    assert status["status"] == "completed", status
    return status["storyIds"][0], client


async def test_a_story_too_long_to_return_is_left_out_and_costs_nothing(
    server_factory: Any,
) -> None:
    """A story of ~10 MB (a 10 MiB text, the largest upload): ten parallel reads of it allocate
    almost nothing, the text is left out and said so, and the text file has all of it."""
    server = server_factory()
    text = (story_text(2000) + "\n").encode() * 900
    assert len(text) > 10**7 - 10**6
    story_id, client = await _story_of(server, text[: 10 * MiB])
    api = await login(server.url, "alice", USERS["alice"])
    tracemalloc.start()
    try:
        answers = await asyncio.gather(*(api.story(story_id) for _ in range(10)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, f"ten reads of the story allocated {peak / MiB:.1f} MiB"
    first = answers[0]
    assert first.get("generatedContent") is None
    assert first["generatedContentOmitted"] is True
    assert first["generatedContentLength"] > 1024 * 1024
    assert first["status"]["storyGenerated"] is True
    whole = await api.http.get(first["files"]["generatedFile"], headers=api.auth)
    assert len(whole.content.decode()) == first["generatedContentLength"]
    # The client reads it as it is: an EXT field it does not need, no text, no error.
    story = await client.story(story_id)
    assert story.generated_content is None
    assert story.generated_content_omitted
    await api.http.aclose()
    await client.aclose()


async def test_a_normal_story_still_has_its_text(server: EmbeddedServer) -> None:
    text = story_text(300)
    story_id, client = await _story_of(server, text.encode())
    story = await client.story(story_id)
    await client.aclose()
    assert story.generated_content is not None
    assert story.generated_content_length == len(story.generated_content)
    assert not story.generated_content_omitted
