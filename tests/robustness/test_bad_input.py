"""A corpus of bad input: hostile names, hostile files, hostile events, hostile answers.

Each piece gets a clear error and harms nothing else: good files beside it complete, stored paths
never leave the server's upload folder, malformed events are counted and never raise, and
malformed answers become typed :mod:`batchkit.errors` with a message a user can act on.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
import socketio
from production.runner import ServerThread

from batchkit.client import RetryPolicy, StoryClient
from batchkit.config import BatchConfig
from batchkit.contract import MAX_FILE_BYTES, StoryInput
from batchkit.contract.events import BatchStoriesStart, ServerEvent
from batchkit.errors import APIError, BatchkitError, RequestRejected, ServerError
from batchkit.events import EventStream, ReceivedEvent
from batchkit.files import Document
from batchkit.samples import sample_paths
from batchkit.server import EmbeddedServer
from batchkit.session import BatchSession, attach

from .conftest import (
    FAST,
    STORED_NAME,
    assert_rows_equal_server_truth,
    assert_uploads_stay_inside,
    stored_upload_paths,
)

STORY_ONLY = BatchConfig(generate_images=False, generate_audio=False)
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
PROSE = b"The ferry left at dawn and the island slowly shrank into a grey line on the sea. " * 8
NAME = "characters a file name cannot hold"
# Python's own words leaking into a user's message: none of these may ever appear in one.
INTERNALS = ("Traceback", "pydantic", "errors.pydantic.dev", "sys.", "Expecting value", "<html")


def docx_bytes() -> bytes:
    return next(p for p in sample_paths() if p.suffix == ".docx").read_bytes()


def huge_file(folder: Path) -> Path:
    """10 MiB + 1 byte on disk (sparse: nothing reads it before the size check refuses it)."""
    path = folder / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    return path


def good_documents() -> list[Document]:
    """Documents that must complete whatever their neighbours are, names included."""
    names = [
        "plain.txt",
        unicodedata.normalize("NFC", "Café au lait.txt"),
        unicodedata.normalize("NFD", "Café au lait.txt"),  # another name, the same to the eye
        "invoice\u202egpj.txt",  # a right-to-left override: shows as "invoicetxt.jpg"
        "📚 bedtime story 🌙.txt",
        "<img src=x onerror=alert(1)>.txt",
    ]
    return [
        *(Document.from_bytes(name, PROSE) for name in names),
        *(Document.from_path(p) for p in sample_paths() if p.suffix in (".doc", ".docx")),
    ]


def bad_documents(folder: Path) -> dict[str, tuple[Document, str]]:
    """Name → (document, words its error must contain)."""
    folder.mkdir(parents=True, exist_ok=True)
    docx = docx_bytes()
    corpus = {
        # Built directly: Document.from_bytes would drop the folder part of the name.
        "../../etc/passwd.txt": (Document("../../etc/passwd.txt", len(PROSE), data=PROSE), NAME),
        "n" * 296 + ".txt": (Document.from_bytes("n" * 296 + ".txt", PROSE), "longer than 255"),
        "bell\x07escape\x1b.txt": (Document.from_bytes("bell\x07escape\x1b.txt", PROSE), NAME),
        "empty.txt": (Document.from_bytes("empty.txt", b""), "empty"),
        "huge.txt": (Document.from_path(huge_file(folder)), "too large"),
        "letter.docx": (Document.from_bytes("letter.docx", PROSE), "not a Word .docx"),
        "memo.doc": (Document.from_bytes("memo.doc", PROSE), "not a Word 97–2003 .doc"),
        "binary.txt": (Document.from_bytes("binary.txt", bytes(range(256)) * 16), "not plain"),
        "truncated.docx": (
            Document.from_bytes("truncated.docx", docx[: len(docx) // 2]),
            "damaged",
        ),
    }
    # Passes the client's look at its first bytes; only the server can find it is garbage.
    garbage = Document.from_bytes("garbage.doc", OLE2 + b"garbage " * 600)
    corpus["garbage.doc"] = (garbage, "damaged")
    return corpus


async def test_hostile_files_fail_alone_in_a_session(
    server: EmbeddedServer, alice: StoryClient, tmp_path: Path
) -> None:
    good = good_documents()
    bad = bad_documents(tmp_path / "bad")
    mixed = [good[0], *(doc for doc, _ in bad.values()), *good[1:]]

    run = await BatchSession(alice, follow=FAST).run_batch(mixed, STORY_ONLY)

    frame = run.files
    assert len(frame) == len(good) + len(bad)
    by_name = {row["name"]: row for _, row in frame.iterrows()}
    for document in good:
        row = by_name[document.name]
        assert row["status"] == "completed", (document.name, row["error"])
        assert row["completed_steps"] == "story"
    for name, (_, expected) in bad.items():
        row = by_name[name]
        assert row["status"] == "failed", name
        assert expected in row["error"], (name, row["error"])
        assert not any(word in row["error"] for word in INTERNALS), row["error"]
    # Only garbage.doc got past the client's screening; the server failed it alone.
    sent = frame[frame["batch_id"].notna()]
    assert set(sent["name"]) == {d.name for d in good} | {"garbage.doc"}
    await assert_rows_equal_server_truth(run, alice)
    assert_uploads_stay_inside(server, tmp_path)


def multipart(files: list[tuple[bytes, bytes]], boundary: str = "hostile") -> bytes:
    """A multipart body written by hand: the file names go out byte for byte, unescaped."""
    body = b""
    for name, content in files:
        body += (
            f"--{boundary}\r\n".encode()
            + b'Content-Disposition: form-data; name="files"; filename="'
            + name
            + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
            + content
            + b"\r\n"
        )
    return body + f"--{boundary}--\r\n".encode()


HOSTILE_NAMES = [
    b"../../etc/passwd.txt",
    b"..\\..\\windows\\win.ini.txt",
    b"/etc/cron.d/evil.txt",
    b"C:\\Users\\Public\\evil.doc",
    b"tab\there\x01\x1b[31mred.txt",
    b"nul\x00byte.txt",
    b"not utf-8 \xff\xfe.txt",
    "\u202eevil\u202c.docx".encode(),
    "Cafe\u0301.txt".encode(),
    "Café.txt".encode(),
]


async def test_the_server_never_trusts_a_client_file_name(
    server: EmbeddedServer, alice: StoryClient, tmp_path: Path
) -> None:
    # Raw bytes, past the client's own checks: a hostile client need not be batchkit.
    contents = [f"file {i}: ".encode() + PROSE for i in range(len(HOSTILE_NAMES))]
    token = await alice.ensure_token()
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/api/stories/batch-upload",
            content=multipart(list(zip(HOSTILE_NAMES, contents, strict=True))),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "multipart/form-data; boundary=hostile",
            },
        )
        assert response.status_code == 201, response.text
        files = response.json()["files"]
        assert len(files) == len(HOSTILE_NAMES)
        for name, content, stored in zip(HOSTILE_NAMES, contents, files, strict=True):
            # The name is shown back as sent (python-multipart keeps only the last part of a
            # Windows path, as browsers do); where it is stored is the server's choice alone.
            shown = stored["fileName"]
            assert shown
            assert name.decode("utf-8", "replace").strip().endswith(shown), shown
            assert stored["filePath"].startswith("uploads/original/")
            assert STORED_NAME.fullmatch(stored["filePath"].removeprefix("uploads/original/"))
            assert (server.data_dir / stored["filePath"]).read_bytes() == content
            served = await http.get(stored["fileUrl"], headers={"Authorization": f"Bearer {token}"})
            assert served.content == content
    # NFC and NFD spellings of one name are two files, neither overwriting the other.
    assert len({f["filePath"] for f in files}) == len(files)
    assert_uploads_stay_inside(server, tmp_path)


async def test_bad_documents_sent_anyway_fail_alone_on_the_server(
    server: EmbeddedServer, alice: StoryClient, tmp_path: Path
) -> None:
    """What the client would have screened out, uploaded without screening: the server's
    readers must fail each one with a clear reason, and the good ones must still complete."""
    docx = docx_bytes()
    expected = {
        "empty.txt": (b"", "empty"),
        "letter.docx": (PROSE, "not a Word document"),
        "memo.doc": (PROSE, "not a Word 97–2003 document"),
        "binary.txt": (bytes(range(256)) * 16, "binary data"),
        "picture.txt": (b"\x89PNG\r\n\x1a\n" + bytes(512), "PNG image"),
        "truncated.docx": (docx[: len(docx) // 2], "damaged"),
        "garbage.doc": (OLE2 + b"garbage " * 600, "damaged"),
    }
    documents = [
        Document.from_bytes("first.txt", PROSE),
        *(Document.from_bytes(name, data) for name, (data, _) in expected.items()),
        Document.from_bytes("last.txt", PROSE),
    ]
    uploaded = await alice.upload(documents, check=False)
    created = await alice.create_batch(
        STORY_ONLY.story_inputs(uploaded.files), STORY_ONLY.to_auto_mode()
    )
    session = await attach(alice, created.batch_id, config=STORY_ONLY, follow=FAST)
    run = await asyncio.wait_for(session.wait(), 60)

    by_name = {row["name"]: row for _, row in run.files.iterrows()}
    assert by_name["first.txt"]["status"] == by_name["last.txt"]["status"] == "completed"
    for name, (_, words) in expected.items():
        row = by_name[name]
        assert row["status"] == "failed", name
        assert words in row["error"], row["error"]
        assert name in row["error"], row["error"]
        assert not any(word in row["error"] for word in INTERNALS), row["error"]
    await assert_rows_equal_server_truth(run, alice)


async def test_an_oversized_file_sent_anyway_is_refused_and_leaves_nothing(
    server: EmbeddedServer, alice: StoryClient, tmp_path: Path
) -> None:
    before = stored_upload_paths(server)
    documents = [Document.from_bytes("fine.txt", PROSE), Document.from_path(huge_file(tmp_path))]
    with pytest.raises(RequestRejected) as refused:
        await alice.upload(documents, check=False)
    assert refused.value.status == 413
    assert "huge.txt is larger than the limit of 10 MiB" in str(refused.value)
    assert stored_upload_paths(server) == before
    assert not [p for p in (server.data_dir / "uploads").rglob("*") if p.is_file()]


# ---------------------------------------------------------------- malformed events
BATCH = "0123456789abcdef01234567"
STAMP = "2026-11-24T10:00:00Z"


def batch_payload(**fields: Any) -> dict[str, Any]:
    """A valid ``batch-stories-*`` payload, but for ``fields``."""
    return {"batchId": BATCH, "currentStory": 1, "totalStories": 2, "progress": 50.0,
            "timestamp": STAMP, **fields}  # fmt: skip


def story_payload(**fields: Any) -> dict[str, Any]:
    """A valid ``auto-mode-progress`` payload, but for ``fields``."""
    return {"storyId": BATCH, "step": "images", "progress": 1, "timestamp": STAMP, **fields}


# (event name, payload): each must be counted as malformed, none may raise.
MALFORMED: list[tuple[str, Any]] = [
    ("batch-stories-progress", None),
    ("batch-stories-progress", "a string"),
    ("batch-stories-progress", [1, 2, 3]),
    ("batch-stories-progress", 42),
    ("batch-stories-progress", {"batchId": BATCH}),
    ("batch-stories-progress", batch_payload(currentStory="one")),
    ("batch-stories-start", batch_payload(timestamp="yesterday")),
    ("batch-stories-start", batch_payload(seq="seven")),
    ("auto-mode-progress", story_payload(storyId={"$ne": None})),
    ("auto-mode-progress", story_payload(progress=[50])),
    ("auto-mode-progress", b"\x00\xffbinary attachment"),
    ("auto-mode-error", {"nested": [[[[[[[[[[{"deep": True}]]]]]]]]]]}),
    ("story:processing:complete", {"storyId": BATCH, "error": "x" * 200_000}),
    ("error", "boom"),
    ("no-such-event", {"batchId": BATCH}),
    ("auto-mode-progress", (story_payload(), "a second argument")),
]
SENTINEL = batch_payload(seq=1)


class Hostile:
    """A real socket.io server that answers ``join-batch-room`` with the :data:`MALFORMED`
    messages and then one valid event. Neither real server sends such messages on demand."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncServer(async_mode="asgi")
        self.sio.on("join-batch-room", self._join)

    async def _join(self, sid: str, data: Any) -> None:
        for name, payload in MALFORMED:
            await self.sio.emit(name, payload, to=sid)
        await self.sio.emit("batch-stories-start", SENTINEL, to=sid)


@pytest.fixture
def hostile_url() -> Iterator[str]:
    thread = ServerThread(socketio.ASGIApp(Hostile().sio))
    thread.start()
    try:
        yield thread.url
    finally:
        thread.stop()


async def test_malformed_events_are_counted_and_never_raise(
    hostile_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[ServerEvent] = []
    sentinel = asyncio.Event()

    def on_events(burst: list[ReceivedEvent]) -> None:
        for event, _arrived in burst:
            received.append(event)
            if isinstance(event, BatchStoriesStart):
                sentinel.set()

    stream = EventStream(hostile_url, lambda: "any-token", on_events=on_events)
    async with stream:
        await stream.join_batch(BATCH)
        await asyncio.wait_for(sentinel.wait(), 10)
        assert stream.connected, "a bad message must not cost the connection"

    assert [type(e) for e in received] == [BatchStoriesStart]
    assert stream.stats.received == len(MALFORMED) + 1
    assert stream.stats.malformed == len(MALFORMED)
    assert stream.failure is None
    assert not [r for r in caplog.records if r.exc_info], "a handler raised"


# ---------------------------------------------------------------- malformed answers
LOGIN = {
    "accessToken": "header.payload.signature",
    "refreshToken": "r",
    "tokenType": "Bearer",
    "expiresIn": 3600,
    "user": {"_id": "u1", "username": "alice"},
}
ENDPOINTS = {
    "status": ("GET", "/status"),
    "story": ("GET", "/api/stories/0123456789abcdef01234567"),
    "upload": ("POST", "/batch-upload"),
    "create": ("POST", "/batch-create"),
    "login": ("POST", "/api/auth/login"),
}
HTML = "text/html; charset=utf-8"
JSON = "application/json"


class Answer(NamedTuple):
    status: int
    body: bytes
    content_type: str
    error: type[BatchkitError]
    words: str
    """Words the error's message must hold."""


ANSWERS = {
    "invalid-json": Answer(200, b'{"batchId": "b1", ', JSON, APIError, "contract"),
    "empty-body": Answer(200, b"", JSON, APIError, "contract"),
    "a-list": Answer(200, b"[1, 2, 3]", JSON, APIError, "contract"),
    "wrong-shape": Answer(200, b'{"unexpected": {"deep": [true]}}', JSON, APIError, "contract"),
    "html-200": Answer(200, b"<html><form>Sign in</form></html>", HTML, APIError, "contract"),
    "html-502": Answer(502, b"<html><h1>502 Bad Gateway</h1></html>", HTML, ServerError, "Gateway"),
    "odd-500": Answer(500, b'{"statusCode": "x", "message": {"a": 1}}', JSON, ServerError, "500"),
}


def causes(error: BaseException) -> list[BaseException]:
    """``error`` and its chain of causes (failing on a cycle instead of looping forever)."""
    chain: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None:
        assert cause not in chain, "an error that is its own cause"
        chain.append(cause)
        cause = cause.__cause__
    return chain


async def call(client: StoryClient, endpoint: str) -> object:
    if endpoint == "status":
        return await client.batch_status("b1")
    if endpoint == "story":
        return await client.story("0123456789abcdef01234567")
    if endpoint == "upload":
        return await client.upload([Document.from_bytes("a.txt", PROSE)])
    if endpoint == "create":
        story = StoryInput(file_url="http://server/uploads/original/a_1700000000000_0a1b2c3d.txt")
        return await client.create_batch([story], STORY_ONLY.to_auto_mode())
    return await client.login()


@pytest.mark.parametrize("answer", list(ANSWERS))
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_malformed_answers_are_typed_errors(endpoint: str, answer: str) -> None:
    # A MockTransport: no real server answers invalid JSON or an HTML page on demand.
    answer_given = ANSWERS[answer]
    method, path_part = ENDPOINTS[endpoint]
    answered = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal answered
        if request.method == method and path_part in request.url.path:
            answered += 1
            headers = {"Content-Type": answer_given.content_type}
            return httpx.Response(answer_given.status, content=answer_given.body, headers=headers)
        if request.url.path == "/api/auth/login":
            return httpx.Response(201, json=LOGIN)
        return httpx.Response(404, json={"statusCode": 404, "message": "no", "error": "x"})

    retry = RetryPolicy(attempts=2, base_delay=0.0)
    transport = httpx.MockTransport(handler)
    async with StoryClient(
        "http://server", username="alice", password="pw", env={}, transport=transport, retry=retry
    ) as client:
        with pytest.raises(BatchkitError) as caught:
            await call(client, endpoint)

    assert answered >= 1
    assert isinstance(caught.value, answer_given.error), repr(caught.value)
    message = str(caught.value)
    assert answer_given.words in message, message
    assert "\n" not in message, message
    assert len(message) < 500, message
    assert not any(word in message for word in INTERNALS), message
    raw = [type(c).__name__ for c in causes(caught.value) if not isinstance(c, BatchkitError)]
    assert not raw, f"a raw {raw} leaked"
