"""The reference server's text, story and chunk engines, on real files.

Documents are either committed fixtures made by real tools (``tests/fixtures/README.md``, the
shipped samples) or built here with the standard library in ``tmp_path``. Images and audio are
tested in ``test_engines_media.py``.
"""

from __future__ import annotations

import random
import shutil
import struct
import zipfile
from pathlib import Path

import olefile
import pytest
from PIL import Image

from batchkit.errors import DocumentError
from batchkit.samples import sample_paths
from batchkit.server.engines import (
    docx_text,
    extract_text,
    read_doc_text,
    split_into_chunks,
    word_count,
    write_story,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
SAMPLES = {path.name: path for path in sample_paths()}

LEGACY_DOC_LINES = [
    "Legacy fixture for batchkit.",
    "The “quick” brown fox jumps over the lazy dog: café, naïve, Müller, Straße.",
    "A line with a tab\tbetween two words and the euro sign €.",
    "Ελληνικά and 日本語 stay intact.",
    "Read the manual online before you start.",
    "The last paragraph ends here.",
]

WORD_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="{target}" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument"/></Relationships>'
)
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/></Types>'
)


def make_docx(path: Path, body: str, *, part: str = "word/document.xml", prolog: str = "") -> Path:
    """A minimal valid .docx: content types, package relationships, one document part."""
    document = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{prolog}'
        f'<w:document xmlns:w="{WORD_NS}" xmlns:mc="{MC_NS}"><w:body>{body}</w:body></w:document>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS.format(target=part))
        archive.writestr(part, document)
    return path


def paragraph(text: str) -> str:
    return f'<w:p><w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


# ---------------------------------------------------------------- .txt
TEXT = "Café crème for Zoë and Señor Müller – “quoted” words…\nSecond line: naïve façade."
LATIN_1_TEXT = "Élodie ouvrit la fenêtre du café; Brünner lisait à côté, très ému.\nFin."


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8", TEXT),
        ("utf-8-sig", TEXT),
        ("utf-16", TEXT),  # Python writes a byte-order mark for "utf-16"
        ("utf-32", TEXT),
        ("utf-16-le", TEXT),  # no byte-order mark at all
        ("cp1252", TEXT),
        ("latin-1", LATIN_1_TEXT),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-bom", "utf-32-bom", "utf-16-no-bom", "cp1252", "latin-1"],
)
def test_txt_in_each_common_encoding_reads_back_exactly(
    tmp_path: Path, encoding: str, text: str
) -> None:
    path = tmp_path / "story.TXT"
    path.write_bytes(text.encode(encoding))
    assert extract_text(path) == text


def test_txt_line_endings_become_newlines(tmp_path: Path) -> None:
    path = tmp_path / "dos.txt"
    path.write_bytes(b"one\r\ntwo\rthree\n")
    assert extract_text(path) == "one\ntwo\nthree\n"


def test_shipped_cp1252_sample_decodes_accents_and_quotes() -> None:
    text = extract_text(SAMPLES["rain_song.txt"])
    assert "Élodie opened the window of the café" in text
    assert "Monsieur Brünner" in text
    assert "Señora Ibáñez" in text
    assert "“Listen,” said Élodie." in text


def test_binary_txt_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "noise.txt"
    path.write_bytes(random.Random(7).randbytes(4096))
    with pytest.raises(DocumentError, match="binary data, not text"):
        extract_text(path)


def test_image_renamed_to_txt_is_named_as_disguised(tmp_path: Path) -> None:
    path = tmp_path / "photo.txt"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(path, format="PNG")
    with pytest.raises(DocumentError, match=r"it is a PNG image \(disguised\)"):
        extract_text(path)


def test_rtf_renamed_to_txt_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "letter.txt"
    path.write_text(r"{\rtf1\ansi Hello \b world\b0.}", encoding="ascii")
    with pytest.raises(DocumentError, match="RTF document"):
        extract_text(path)


@pytest.mark.parametrize("name", ["empty.txt", "empty.docx", "empty.doc"])
def test_empty_file_is_rejected(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(DocumentError, match="empty"):
        extract_text(path)


def test_blank_txt_has_no_readable_text(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text(" \n\t\n  ", encoding="utf-8")
    with pytest.raises(DocumentError, match="no readable text"):
        extract_text(path)


def test_unsupported_extension_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "story.pdf"
    path.write_bytes(b"%PDF-1.7 whatever")
    with pytest.raises(DocumentError, match=r"unsupported file type '\.pdf'"):
        extract_text(path)


# ---------------------------------------------------------------- .docx
def test_docx_paragraphs_tabs_breaks_fields_and_fallbacks(tmp_path: Path) -> None:
    body = (
        '<w:p><w:r><w:t>Café at “dawn”:</w:t></w:r><w:r><w:tab/><w:t xml:space="preserve"> naïve'
        " </w:t></w:r><w:r><w:br/><w:t>second line</w:t></w:r></w:p>"
        '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>PAGE</w:instrText>'
        '</w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>7</w:t></w:r>'
        "<w:del><w:r><w:delText>removed</w:delText></w:r></w:del><w:r><w:t>kept</w:t></w:r></w:p>"
        "<w:p><w:r><mc:AlternateContent><mc:Choice><w:p><w:r><w:t>box</w:t></w:r></w:p>"
        "</mc:Choice><mc:Fallback><w:p><w:r><w:t>box</w:t></w:r></w:p></mc:Fallback>"
        "</mc:AlternateContent></w:r><w:r><w:t>after</w:t></w:r></w:p>"
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>cell</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
    )
    path = make_docx(tmp_path / "story.DOCX", body)
    assert extract_text(path).split("\n") == [
        "Café at “dawn”:\t naïve ",
        "second line",
        "7kept",
        "box",
        "after",
        "cell",
    ]


def test_docx_main_part_is_found_through_its_relationship(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "odd.docx", paragraph("from elsewhere"), part="word/main.xml")
    assert extract_text(path) == "from elsewhere"


def test_shipped_docx_sample_reads() -> None:
    lines = extract_text(SAMPLES["market_day.docx"]).split("\n")
    assert lines[0] == "Market Day"
    assert lines[-1].startswith("His grandmother laughed and handed him the tin of coins.")
    assert lines[-1].endswith("“Then next week,” she said, “you can count it.”")


def test_docx_of_random_bytes_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "noise.docx"
    path.write_bytes(b"\x00\x01" + random.Random(3).randbytes(2048))
    with pytest.raises(DocumentError, match="not a Word document: it is not a zip archive"):
        extract_text(path)


def test_truncated_docx_is_damaged(tmp_path: Path) -> None:
    whole = make_docx(tmp_path / "whole.docx", paragraph("x" * 5000)).read_bytes()
    path = tmp_path / "cut.docx"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DocumentError, match=r"the \.docx file is damaged"):
        extract_text(path)


def test_text_file_renamed_to_docx_is_disguised(tmp_path: Path) -> None:
    path = tmp_path / "notes.docx"
    path.write_text("Just some notes, saved as text.\n", encoding="utf-8")
    with pytest.raises(DocumentError, match=r"it is plain text \(disguised\)"):
        extract_text(path)


def test_zip_without_word_part_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "book.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DocumentError, match="Excel workbook"):
        extract_text(path)


def test_docx_that_unpacks_past_the_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cap is lowered so the test stays small; the reading loop under test is the real one.
    monkeypatch.setattr(docx_text, "MAX_PART_BYTES", 256 * 1024)
    path = make_docx(tmp_path / "bomb.docx", paragraph(" " * (512 * 1024)))
    assert path.stat().st_size < 10_000
    with pytest.raises(DocumentError, match="possible zip bomb"):
        extract_text(path)


def test_docx_with_entity_expansion_is_refused(tmp_path: Path) -> None:
    prolog = '<!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    path = make_docx(tmp_path / "laughs.docx", paragraph("&b;"), prolog=prolog)
    with pytest.raises(DocumentError, match="DTD"):
        extract_text(path)


# ---------------------------------------------------------------- .doc
def test_legacy_doc_fixture_reads_exactly() -> None:
    assert read_doc_text(FIXTURES / "legacy.doc").split("\n") == LEGACY_DOC_LINES
    assert extract_text(FIXTURES / "legacy.doc") == "\n".join(LEGACY_DOC_LINES)


def test_shipped_doc_sample_reads() -> None:
    text = extract_text(SAMPLES["the_clockmaker.doc"])
    assert text.startswith("The Clockmaker\nEvery clock in the town of Vell ran four minutes")
    assert "“So that nobody in Vell is ever late,” he told his apprentice, Ilse" in text
    assert word_count(text) == 520


def _rewrite_streams(path: Path, edit: dict[str, bytes]) -> None:
    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        for name, data in edit.items():
            ole.write_stream(name, data)


def _piece_table(path: Path) -> tuple[bytes, bytes, int]:
    """WordDocument stream, table stream, and the offset of the first piece descriptor's fc."""
    with olefile.OleFileIO(str(path)) as ole:
        word = ole.openstream("WordDocument").read()
        table = ole.openstream("1Table").read()
    fc_clx = struct.unpack_from("<I", word, 154 + 33 * 8)[0]  # Word 97 FIB: fixed position
    assert table[fc_clx] == 0x02  # this fixture's Clx has no Prc: the PlcPcd starts at once
    return word, table, fc_clx + 5 + 8 + 2  # clxt, lcb, two CPs, then the Pcd's 2-byte flags


def test_doc_with_8_bit_compressed_piece_reads(tmp_path: Path) -> None:
    # LibreOffice only writes UTF-16 pieces; Word stores Windows-1252 text as 8-bit
    # "compressed" pieces. Rewrite the real file's one piece that way, in place (same sizes).
    path = tmp_path / "compressed.doc"
    shutil.copyfile(SAMPLES["the_clockmaker.doc"], path)
    expected = read_doc_text(path)
    word, table, fc_at = _piece_table(path)
    fc = struct.unpack_from("<I", table, fc_at)[0]
    text_length = struct.unpack_from("<I", table, fc_at - 2 - 4)[0]
    ansi = word[fc : fc + 2 * text_length].decode("utf-16-le").encode("cp1252")
    word = word[:fc] + ansi + word[fc + len(ansi) :]
    table = table[:fc_at] + struct.pack("<I", (fc * 2) | 0x4000_0000) + table[fc_at + 4 :]
    _rewrite_streams(path, {"WordDocument": word, "1Table": table})
    assert struct.unpack_from("<I", _piece_table(path)[1], fc_at)[0] & 0x4000_0000
    assert read_doc_text(path) == expected


def test_encrypted_doc_is_refused(tmp_path: Path) -> None:
    # This LibreOffice cannot write password-protected .doc files; set the FIB's fEncrypted bit.
    path = tmp_path / "locked.doc"
    shutil.copyfile(FIXTURES / "legacy.doc", path)
    word, _, _ = _piece_table(path)
    flags = struct.unpack_from("<H", word, 0x0A)[0] | 0x0100
    _rewrite_streams(path, {"WordDocument": word[:0x0A] + struct.pack("<H", flags) + word[0x0C:]})
    with pytest.raises(DocumentError, match="password-protected"):
        extract_text(path)


def test_ole_file_without_word_stream_is_not_a_word_document(tmp_path: Path) -> None:
    # Like an Excel file renamed .doc: rename the WordDocument directory entry (same length).
    data = (FIXTURES / "legacy.doc").read_bytes()
    old, new = "WordDocument".encode("utf-16-le"), "WorkbookData".encode("utf-16-le")
    assert data.count(old) == 1
    path = tmp_path / "sheet.doc"
    path.write_bytes(data.replace(old, new))
    with pytest.raises(DocumentError, match="an Office file but not a Word document"):
        extract_text(path)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"Plain words typed into a file called .doc\n", "plain text"),
        (b"{\\rtf1\\ansi Hello}", "an RTF document"),
        (b"PK\x03\x04" + bytes(64), "a zip archive"),
    ],
)
def test_doc_without_ole2_signature_is_refused(tmp_path: Path, content: bytes, named: str) -> None:
    path = tmp_path / "fake.doc"
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=f"not a Word 97–2003 document: it is {named}"):
        extract_text(path)


def test_truncated_doc_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "cut.doc"
    path.write_bytes((FIXTURES / "legacy.doc").read_bytes()[:2048])
    with pytest.raises(DocumentError, match="damaged"):
        extract_text(path)


# ---------------------------------------------------------------- chunks
def test_word_count() -> None:
    assert word_count("") == 0
    assert word_count("  one\ttwo\n\nthree  ") == 3


@pytest.mark.parametrize(
    ("words", "per_chunk", "sizes"),
    [(10, 3, [3, 3, 3, 1]), (9, 3, [3, 3, 3]), (4, 50, [4]), (1, 1, [1]), (0, 5, [])],
)
def test_split_into_chunks(words: int, per_chunk: int, sizes: list[int]) -> None:
    text = "\n".join(f"w{index}" for index in range(words))
    chunks = split_into_chunks(text, per_chunk)
    assert [word_count(chunk) for chunk in chunks] == sizes
    assert " ".join(chunks).split() == text.split()


def test_split_into_chunks_refuses_a_zero_chunk_size() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        split_into_chunks("a b c", 0)


# ---------------------------------------------------------------- story
def test_write_story_cleans_and_keeps_every_word() -> None:
    text = (
        "  The cafe\u0301\u00a0opened\u200b at\tdawn.\r\nIt was\x07 cold.\r\n\r\n\r\n"
        "\ufeffSecond\u2003paragraph\u00ad here.  \n"
    )
    assert write_story(text) == "The café opened at dawn. It was cold.\n\nSecond paragraph here."


def test_write_story_keeps_one_paragraph_per_line_without_blank_lines() -> None:
    assert write_story("First.\nSecond.\n\nThird?") == "First. Second.\n\nThird?"
    assert write_story("First.\nSecond.\nThird.") == "First.\n\nSecond.\n\nThird."


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_write_story_on_samples_is_deterministic_and_loses_no_words(name: str) -> None:
    text = extract_text(SAMPLES[name])
    story = write_story(text, "make it longer")
    assert story == write_story(text, None)
    assert story.split() == text.split()
    assert story.count("\n\n") >= 10
    assert not story.startswith(("\n", " "))


def test_write_story_of_nothing_is_an_error() -> None:
    with pytest.raises(DocumentError, match="no words"):
        write_story(" \u200b\n\x07\n")
