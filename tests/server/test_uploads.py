"""Section 2.1: uploads on both paths, their limits (enforced while streaming), stored names."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from batchkit.contract import MAX_FILE_BYTES, ErrorBody, UploadResponse
from batchkit.server import EmbeddedServer

from .conftest import Api, story_text

STORED = re.compile(r"^uploads/original/[\w-]{1,60}_\d{13}_[0-9a-f]{8}\.(txt|doc|docx)$")


def _stored_files(server: EmbeddedServer) -> set[str]:
    """Every file under the server's upload directory, partial ones included."""
    root = server.data_dir / "uploads"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = ErrorBody.model_validate(response.json())
    assert body.status_code == status
    assert body.error
    return body.text()


@pytest.mark.parametrize("path", ["/api/stories/batch-upload", "/api/file-upload/batch-upload"])
async def test_upload_answers_201_with_files_in_request_order(
    server: EmbeddedServer, alice: Api, path: str
) -> None:
    files = [
        ("first.txt", story_text(60).encode()),
        ("Second Report.DOCX", b"PK\x03\x04 not really a docx"),
        ("third.doc", b"\xd0\xcf\x11\xe0 legacy"),
    ]
    response = await alice.http.post(path, headers=alice.auth, files=[("files", f) for f in files])
    assert response.status_code == 201, response.text
    body = UploadResponse.model_validate(response.json())
    assert [f.file_name for f in body.files] == [name for name, _ in files]
    assert [f.file_size for f in body.files] == [len(content) for _, content in files]
    assert body.total_files == 3
    assert body.total_size == sum(len(content) for _, content in files)
    for uploaded in body.files:
        assert STORED.match(uploaded.file_path), uploaded.file_path
        assert uploaded.file_url == f"{server.url}/{uploaded.file_path}"
    assert body.files[1].file_path.endswith(".docx")
    assert (server.data_dir / body.files[0].file_path).read_bytes() == files[0][1]


async def test_a_client_file_name_never_chooses_the_stored_path(
    server: EmbeddedServer, alice: Api
) -> None:
    hostile = "../../..\\..\\etc/pass\x07wd\x00 <script>.txt"
    [uploaded] = await alice.upload((hostile, b"some words here"))
    # httpx percent-escapes the control characters; the name comes back as it was sent.
    assert uploaded["fileName"].startswith("../../..\\..\\etc/pass")
    assert uploaded["fileName"].endswith("<script>.txt")
    assert STORED.match(uploaded["filePath"]), uploaded["filePath"]
    assert "/passwd_" not in uploaded["filePath"]
    stored = (server.data_dir / uploaded["filePath"]).resolve()
    assert stored.parent == (server.data_dir / "uploads" / "original").resolve()


async def test_the_original_is_served_to_its_owner_only(
    server: EmbeddedServer, alice: Api, bob: Api
) -> None:
    [uploaded] = await alice.upload(("mine.txt", b"private words"))
    url = uploaded["fileUrl"]
    owner = await alice.http.get(url, headers=alice.auth)
    assert owner.status_code == 200
    assert owner.content == b"private words"
    assert "mine.txt" in owner.headers["content-disposition"]
    _error(await bob.http.get(url, headers=bob.auth), 404)
    _error(await alice.http.get(url), 401)
    _error(await alice.http.get("/uploads/original/../../jwt-secret", headers=alice.auth), 404)


async def test_a_file_over_10_mib_is_refused_with_413_and_nothing_is_kept(
    server: EmbeddedServer, alice: Api
) -> None:
    before = _stored_files(server)
    files = [
        ("small.txt", b"fine words"),
        ("huge.txt", b"a" * (MAX_FILE_BYTES + 1)),
    ]
    response = await alice.http.post(
        "/api/stories/batch-upload", headers=alice.auth, files=[("files", f) for f in files]
    )
    assert "huge.txt is larger than the limit of 10 MiB" in _error(response, 413)
    # Neither the complete first file nor the partial second one stays on disk.
    assert _stored_files(server) == before


async def test_a_file_of_exactly_10_mib_is_accepted(alice: Api) -> None:
    [uploaded] = await alice.upload(("exact.txt", b"b" * MAX_FILE_BYTES))
    assert uploaded["fileSize"] == MAX_FILE_BYTES


async def test_a_streamed_body_is_judged_while_it_arrives(
    server: EmbeddedServer, alice: Api
) -> None:
    """A chunked body with no Content-Length: the limit can only be enforced while streaming."""
    boundary = "streamboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="endless.txt"\r\nContent-Type: text/plain\r\n\r\n'
    ).encode()
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield head
        block = b"x" * (1024 * 1024)
        for _ in range(12):
            sent += len(block)
            yield block
        yield f"\r\n--{boundary}--\r\n".encode()

    before = _stored_files(server)
    response = await alice.http.post(
        "/api/stories/batch-upload",
        headers={**alice.auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=body(),
    )
    assert "endless.txt is larger than" in _error(response, 413)
    assert _stored_files(server) == before


async def test_a_bad_extension_is_refused_with_415_and_earlier_files_are_removed(
    server: EmbeddedServer, alice: Api
) -> None:
    before = _stored_files(server)
    response = await alice.http.post(
        "/api/stories/batch-upload",
        headers=alice.auth,
        files=[("files", ("ok.txt", b"words")), ("files", ("slides.pdf", b"%PDF-1.7"))],
    )
    message = _error(response, 415)
    assert "slides.pdf" in message
    assert ".txt, .doc, .docx" in message
    assert _stored_files(server) == before


async def test_eleven_files_are_refused_with_400(server: EmbeddedServer, alice: Api) -> None:
    before = _stored_files(server)
    files = [("files", (f"f{i}.txt", b"words")) for i in range(11)]
    response = await alice.http.post("/api/stories/batch-upload", headers=alice.auth, files=files)
    assert "at most 10" in _error(response, 400)
    assert _stored_files(server) == before


async def test_another_field_name_is_refused_with_400(alice: Api) -> None:
    response = await alice.http.post(
        "/api/stories/batch-upload",
        headers=alice.auth,
        files=[("file", ("a.txt", b"words"))],
    )
    assert "unexpected field 'file'" in _error(response, 400)
    plain_value = await alice.http.post(
        "/api/stories/batch-upload",
        headers=alice.auth,
        files=[("files", ("a.txt", b"words"))],
        data={"note": "hello"},
    )
    assert "unexpected field 'note'" in _error(plain_value, 400)


async def test_no_file_is_refused_with_400(alice: Api) -> None:
    empty_form = await alice.http.post(
        "/api/stories/batch-upload",
        headers={**alice.auth, "Content-Type": "multipart/form-data; boundary=xyz"},
        content=b"--xyz--\r\n",
    )
    assert "no file was uploaded" in _error(empty_form, 400)
    not_multipart = await alice.http.post(
        "/api/stories/batch-upload", headers=alice.auth, json={"files": []}
    )
    assert "multipart/form-data" in _error(not_multipart, 400)


def test_stored_names_are_unique_per_upload(tmp_path: Path) -> None:
    from batchkit.server.storage import safe_stem, stored_upload_path

    assert safe_stem("../../a b/c:d\x1b.txt") == "c_d"
    assert safe_stem("....") == "file"
    assert len(safe_stem("x" * 500 + ".txt")) == 60
    assert stored_upload_path("a.txt", ".txt") != stored_upload_path("a.txt", ".txt")
