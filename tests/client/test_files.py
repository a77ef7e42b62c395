"""Documents are screened before anything is sent, with reasons a user understands.

Every file here is real and on disk (python-docx for Word documents, zipfile for archives);
nothing is mocked.
"""

from __future__ import annotations

import codecs
import io
import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from batchkit.config import PRODUCTION, REFERENCE
from batchkit.contract import MAX_FILE_BYTES
from batchkit.errors import FileRejected
from batchkit.files import (
    Document,
    DocumentKind,
    Screening,
    check_documents,
    check_paths,
    describe_size,
)

from .conftest import MIB, Samples


def reasons(screening: Screening) -> dict[str, str]:
    return {rejection.name: rejection.reason for rejection in screening.rejected}


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# ---------------------------------------------------------------- Document
def test_a_path_document_knows_its_name_size_and_kind_without_holding_the_bytes(
    samples: Samples,
) -> None:
    path = samples.text("Lighthouse.TXT", 1234)
    document = Document.from_path(path)
    assert (document.name, document.size, document.path) == ("Lighthouse.TXT", 1234, path)
    assert document.data is None
    assert document.kind is DocumentKind.TXT
    assert document.media_type == "text/plain"
    with document.open() as stream:
        assert stream.read() == path.read_bytes()


def test_a_browser_upload_keeps_only_the_file_name_and_its_bytes_stay_out_of_the_repr() -> None:
    content = b"Once upon a time, a secret recipe."
    document = Document.from_bytes("C:\\fakepath\\Recipe.docx", memoryview(content))
    assert document.name == "Recipe.docx"
    assert document.size == len(content)
    assert document.kind is DocumentKind.DOCX
    assert "secret recipe" not in repr(document)
    with document.open() as stream:
        assert stream.read() == content


def test_a_document_has_a_path_or_data_never_both() -> None:
    with pytest.raises(ValueError, match="either a path or data"):
        Document(name="a.txt", size=1, path=Path("a.txt"), data=b"x")
    with pytest.raises(ValueError, match="either a path or data"):
        Document(name="a.txt", size=1)


def test_a_missing_path_or_a_folder_is_rejected_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match=r"^gone\.txt: no such file") as missing:
        Document.from_path(tmp_path / "gone.txt")
    assert missing.value.name == "gone.txt"
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(FileRejected, match="is a folder, not a file"):
        Document.from_path(tmp_path / "folder.txt")


# ---------------------------------------------------------------- good documents pass
def test_real_txt_docx_and_doc_files_are_accepted_in_their_order(samples: Samples) -> None:
    paths = [
        samples.docx("Chapter One.docx", "It was a dark night.", "The sea was loud."),
        samples.text("notes.txt"),
        samples.doc("old.DOC"),
    ]
    screening = check_paths(paths)
    assert screening.ok
    assert [d.name for d in screening.accepted] == ["Chapter One.docx", "notes.txt", "old.DOC"]
    screening.raise_for_rejected()  # nothing to raise


@pytest.mark.parametrize(
    "content",
    [
        codecs.BOM_UTF16_LE + "Érase una vez.\n".encode("utf-16-le"),
        "Érase una vez, sin marca de orden.\n".encode("utf-16-le"),
        codecs.BOM_UTF8 + "Il était une fois 🌊\n".encode(),
        "Ærøskøbing, façade, naïve café\n".encode("cp1252"),
        b"MZ is what we called the old ferry.\n",
    ],
    ids=["utf16-bom", "utf16-no-bom", "utf8-bom-emoji", "cp1252", "starts-like-an-exe"],
)
def test_text_in_common_encodings_is_text(content: bytes) -> None:
    assert check_documents([Document.from_bytes("story.txt", content * 20)]).ok


# ---------------------------------------------------------------- every rejection, in words
@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("paper.pdf", b"%PDF-1.7 ...", "is a .pdf file; only .txt, .doc and .docx"),
        ("README", b"hello", "has no extension; only .txt, .doc and .docx"),
        ("empty.txt", b"", "is empty (0 bytes)"),
        ("\x07bell.txt", b"hello", "characters a file name cannot hold"),
        ("x" * 300 + ".txt", b"hello", "longer than 255 characters"),
        ("plain.docx", b"Just some words.\n" * 10, "not a Word .docx document: it is plain text"),
        ("bare.docx", zip_bytes({"notes.txt": b"hi"}), "has no word/document.xml"),
        ("sheet.docx", zip_bytes({"xl/workbook.xml": b"<x/>"}), "Excel workbook"),
        ("broken.docx", b"PK\x03\x04" + bytes(200), "its zip directory cannot be read"),
        ("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "without a password"),
        ("modern.doc", Samples.docx_bytes(), "a .docx document with a .doc name; rename it"),
        ("memo.doc", b"Dear team,\n" * 20, "not a Word 97\u20132003 .doc document: it is plain"),
        ("scan.doc", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "it is a PDF document"),
        ("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(100), "not plain text: it is a PNG image"),
        ("noise.txt", bytes(range(256)) * 4, "not plain text: it is binary data"),
        ("packed.txt", Samples.docx_bytes(), "not plain text: it is a zip archive"),
        ("paper.txt", b"%PDF-1.7\n1 0 obj\n", "not plain text: it is a PDF document"),
    ],
)
def test_each_bad_file_is_rejected_with_a_reason_a_user_understands(
    name: str, content: bytes, expected: str
) -> None:
    good = Document.from_bytes("good.txt", b"A fine story.\n")
    screening = check_documents([Document.from_bytes(name, content), good])
    assert [d.name for d in screening.accepted] == ["good.txt"], "one bad file sinks nothing"
    (rejection,) = screening.rejected
    assert expected in rejection.reason
    assert str(rejection) == f"{rejection.name}: {rejection.reason}"
    with pytest.raises(FileRejected) as raised:
        screening.raise_for_rejected()
    assert raised.value is rejection


def test_the_second_file_with_a_name_already_listed_is_rejected_the_first_kept() -> None:
    first = Document.from_bytes("story.txt", b"first version\n")
    second = Document.from_bytes("story.txt", b"second version\n")
    screening = check_documents([first, second])
    assert screening.accepted == (first,)
    assert "same name as another file" in screening.rejected[0].reason


def test_size_limit_is_inclusive_for_the_reference_server_and_exclusive_for_production(
    samples: Samples,
) -> None:
    exactly = Document.from_path(samples.text("exactly.txt", MAX_FILE_BYTES))
    over = Document.from_path(samples.text("over.txt", MAX_FILE_BYTES + 1))
    reference = check_documents([exactly, over], max_bytes=REFERENCE.max_file_bytes)
    assert [d.name for d in reference.accepted] == ["exactly.txt"]
    assert "is too large (10.0 MiB, 10,485,761 bytes)" in reasons(reference)["over.txt"]

    production = check_documents([exactly], max_bytes=PRODUCTION.max_file_bytes)
    assert not production.accepted
    assert reasons(production)["exactly.txt"] == (
        "is too large (10.0 MiB, 10,485,760 bytes): files must be smaller than 10 MiB"
    )


def test_files_past_the_count_limit_are_left_out_and_rejections_do_not_count() -> None:
    documents = [Document.from_bytes("bad.pdf", b"%PDF")] + [
        Document.from_bytes(f"story-{i:02}.txt", b"words\n") for i in range(12)
    ]
    limited = check_documents(documents, max_files=10)
    assert [d.name for d in limited.accepted] == [f"story-{i:02}.txt" for i in range(10)]
    assert reasons(limited) == {
        "bad.pdf": "is a .pdf file; only .txt, .doc and .docx files can be used",
        "story-10.txt": "left out: at most 10 files can be uploaded at once",
        "story-11.txt": "left out: at most 10 files can be uploaded at once",
    }
    # A run holds any number of files; the session splits it into requests later.
    assert len(check_documents(documents, max_files=None).accepted) == 12


def test_paths_that_vanished_are_rejections_beside_the_good_files(samples: Samples) -> None:
    folder = samples.folder / "chapters.txt"
    folder.mkdir()
    good = samples.text("kept.txt")
    screening = check_paths([samples.folder / "missing.docx", folder, good])
    assert [d.name for d in screening.accepted] == ["kept.txt"]
    assert set(reasons(screening)) == {"missing.docx", "chapters.txt"}


def test_the_size_checked_is_the_size_on_disk_now(samples: Samples) -> None:
    path = samples.text("growing.txt", 100)
    chosen = Document.from_path(path)
    samples.text("growing.txt", 5000)
    (checked,) = check_documents([chosen]).accepted
    assert checked.size == 5000


def test_a_file_deleted_after_it_was_chosen_is_rejected_not_raised(samples: Samples) -> None:
    path = samples.text("fleeting.txt")
    document = Document.from_path(path)
    path.unlink()
    screening = check_documents([document, Document.from_bytes("other.txt", b"words\n")])
    assert [d.name for d in screening.accepted] == ["other.txt"]
    assert reasons(screening)["fleeting.txt"].startswith("no such file")


def test_screening_reads_only_the_head_of_a_large_file(samples: Samples) -> None:
    big_text = Document.from_path(samples.text("big.txt", 10 * MIB))
    big_docx = samples.folder / "big.docx"
    with zipfile.ZipFile(big_docx, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("word/document.xml", b"<w:document/>")
        with archive.open("word/media/image1.bin", "w") as member:
            for _ in range(9):
                member.write(os.urandom(MIB))
    tracemalloc.start()
    try:
        screening = check_documents([big_text, Document.from_path(big_docx)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert screening.ok, screening.rejected
    assert peak < MIB, f"screening 19 MiB of files allocated {describe_size(peak)}"


def test_sizes_read_like_a_person_would_say_them() -> None:
    assert [describe_size(n) for n in (1, 12, 3_500, 10 * MIB)] == [
        "1 byte",
        "12 bytes",
        "3.4 KiB",
        "10.0 MiB",
    ]
