"""Hostile ``.docx`` XML: DTDs and entities in any encoding, element floods, deep nesting.

The documents are built here with the standard library, small on disk and large unpacked; memory
is Python's as tracemalloc counts it while the real engine reads them.
"""

from __future__ import annotations

import tracemalloc
import zipfile
from pathlib import Path

import pytest

from batchkit.errors import DocumentError
from batchkit.server import EmbeddedServer
from batchkit.server.engines import docx_text, extract_text

from .conftest import Api
from .test_engines import CONTENT_TYPES, RELS, WORD_NS, make_docx, paragraph

MiB = 1024 * 1024


def _docx_with_part(path: Path, document: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS.format(target="word/document.xml"))
        archive.writestr("word/document.xml", document)
    return path


def _peak_reading(path: Path) -> tuple[int, DocumentError | None]:
    tracemalloc.start()
    try:
        extract_text(path)
    except DocumentError as error:
        return tracemalloc.get_traced_memory()[1], error
    else:
        return tracemalloc.get_traced_memory()[1], None
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8"])
def test_an_internal_entity_is_refused_whatever_the_encoding(tmp_path: Path, encoding: str) -> None:
    """The byte search for ``<!ENTITY`` the old guard did finds nothing in UTF-16."""
    declaration = encoding.upper().replace("-LE", "")
    document = (
        f'<?xml version="1.0" encoding="{declaration}"?>'
        '<!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        f'<w:document xmlns:w="{WORD_NS}"><w:body>{paragraph("&b;&b;")}</w:body></w:document>'
    )
    raw = document.encode(encoding)
    if encoding == "utf-16-le":
        raw = b"\xff\xfe" + raw  # the byte-order mark that lets expat read it
    path = _docx_with_part(tmp_path / "laughs.docx", raw)
    with pytest.raises(DocumentError, match="DTD"):
        extract_text(path)


def test_an_external_entity_is_refused(tmp_path: Path) -> None:
    prolog = '<!DOCTYPE w:document [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    path = make_docx(tmp_path / "xxe.docx", paragraph("&x;"), prolog=prolog)
    with pytest.raises(DocumentError, match="DTD"):
        extract_text(path)


def test_a_flood_of_empty_elements_is_refused_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """8 MB of ``<a/>`` packed into a few kilobytes: refused at the element limit, without a
    tree (the old reader built one: 1.45 GB for 60 MB of them). The limit is lowered so the test
    stays quick; the reading loop under test is the real one."""
    monkeypatch.setattr(docx_text, "MAX_ELEMENTS", 50_000, raising=False)
    flood = b"<a/>" * 2_000_000
    document = b'<?xml version="1.0"?><w:document xmlns:w="' + WORD_NS.encode() + b'"><w:body>'
    path = _docx_with_part(tmp_path / "flood.docx", document + flood + b"</w:body></w:document>")
    del flood
    assert path.stat().st_size < 64 * 1024
    peak, error = _peak_reading(path)
    assert peak < 4 * MiB, f"reading the flood allocated {peak / MiB:.0f} MiB"
    assert error is not None
    assert "more than 50,000 XML elements" in str(error), error


def test_deep_nesting_is_refused_at_once(tmp_path: Path) -> None:
    depth = 200_000
    document = (
        f'<?xml version="1.0"?><w:document xmlns:w="{WORD_NS}"><w:body>'.encode()
        + b"<a>" * depth
        + b"</a>" * depth
        + b"</w:body></w:document>"
    )
    path = _docx_with_part(tmp_path / "deep.docx", document)
    peak, error = _peak_reading(path)
    assert peak < 4 * MiB, f"reading the nesting allocated {peak / MiB:.0f} MiB"
    assert error is not None
    assert "deep" in str(error), error


def test_a_long_real_document_reads_in_memory_that_follows_its_text(tmp_path: Path) -> None:
    """30,000 paragraphs (~8 MB of XML): read whole, with memory near the size of its text."""
    words = "The lighthouse keeper climbed the stairs at dusk and watched the sea."
    body = "".join(paragraph(f"{i} {words}") for i in range(30_000))
    path = make_docx(tmp_path / "long.docx", body)
    tracemalloc.start()
    try:
        text = extract_text(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    lines = text.split("\n")
    assert len(lines) == 30_000
    assert lines[-1] == f"29999 {words}"
    assert peak < 6 * len(text) + 4 * MiB, f"{peak / MiB:.1f} MiB for {len(text) / MiB:.1f} MiB"


async def test_a_hostile_docx_fails_its_story_alone_on_the_server(
    server: EmbeddedServer, alice: Api, tmp_path: Path
) -> None:
    """Through the real pipeline: the story fails with the reason, the next one is made."""
    document = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY a "boom">]>'
        f'<w:document xmlns:w="{WORD_NS}"><w:body>{paragraph("&a;")}</w:body></w:document>'
    ).encode("utf-16")
    hostile = _docx_with_part(tmp_path / "hostile.docx", document).read_bytes()
    good = make_docx(tmp_path / "good.docx", paragraph("A calm and ordinary story.")).read_bytes()
    uploaded = await alice.upload(("hostile.docx", hostile), ("good.docx", good))
    story_only = {"enabled": True, "generateImages": False, "generateAudio": False}
    created = await alice.create_batch([u["fileUrl"] for u in uploaded], story_only)
    status = await alice.wait_for_status(created["data"]["batchId"])
    first, second = status["results"]
    assert first["status"] == "failed"
    assert "DTD" in first["error"]
    assert second["status"] == "completed"
