"""The upload zone receives browser files in chunks, checks them, and lists them safely.

The browser half (``upload.js``) is driven the way a kernel hears it: each message goes into
the widget's comm as a ``comm_msg`` with its binary buffers (``comm.handle_msg``), and the
kernel's answers are read from the recording comm (see ``conftest``). The zone's files are read
from the page's one file table (a :class:`BatchView` of the zone). The real upload.js is tested
in a browser (``tests/browser/test_upload_js.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchkit.errors import InputError
from batchkit.samples import sample_paths
from batchkit.widgets import CHUNK_BYTES, BatchView, EntryState, TableRow, UploadZone, upload_zone
from widgets.conftest import Recorder

MIB = 1024 * 1024
FIXTURES = Path(__file__).parents[1] / "fixtures"
XSS = "<img src=x onerror=alert(1)>.txt"
TEXT = b"The lighthouse keeper counted the ships coming home, one by one.\n"


class Browser:
    """Sends what ``upload.js`` sends, through the widget's comm; reads the kernel's answers."""

    def __init__(self, zone: UploadZone, comms: Recorder) -> None:
        self.zone = zone
        self.comms = comms
        self._ids = iter(range(1, 10_000))

    def send(
        self, content: dict[str, Any], buffers: list[bytes] | None = None
    ) -> list[dict[str, Any]]:
        since = len(self.comms.sent)
        model = self.zone.upload
        model.comm.handle_msg(
            {
                "content": {
                    "comm_id": model.comm.comm_id,
                    "data": {"method": "custom", "content": content},
                },
                "buffers": [memoryview(b) for b in buffers or []],
            }
        )
        return [
            s.data["content"]
            for s in self.comms.sent[since:]
            if s.comm_id == model.comm.comm_id and s.data.get("method") == "custom"
        ]

    def upload(
        self, name: str, data: bytes, *, chunk: int = CHUNK_BYTES
    ) -> tuple[list[dict[str, Any]], str]:
        """Send one file as the browser does; returns every answer and the upload id."""
        upload_id = f"u{next(self._ids)}"
        answers = self.send({"type": "start", "id": upload_id, "name": name, "size": len(data)})
        if answers[-1]["type"] != "ready":
            return answers, upload_id
        index = 0
        for offset in range(0, len(data), chunk):
            message = {"type": "chunk", "id": upload_id, "index": index, "offset": offset}
            answers += self.send(message, [data[offset : offset + chunk]])
            index += 1
        answers += self.send({"type": "end", "id": upload_id, "chunks": index})
        return answers, upload_id


@pytest.fixture
def zone(tmp_path: Path) -> Iterator[UploadZone]:
    made = upload_zone(start_dir=str(tmp_path))
    yield made
    made.close()


@pytest.fixture
def browser(zone: UploadZone, comms: Recorder) -> Browser:
    return Browser(zone, comms)


@pytest.fixture
def view(zone: UploadZone) -> Iterator[BatchView]:
    made = BatchView(zone)
    yield made
    made.close()


def row(view: BatchView, name: str) -> TableRow:
    view.flush()
    return view.row(name)


def all_widgets(root: Any) -> Iterator[Any]:
    yield root
    for child in getattr(root, "children", ()):
        yield from all_widgets(child)


def shown_html(view: BatchView) -> str:
    """The markup the file table shows."""
    view.flush()
    return view.html["table"]


def text_document(size: int) -> bytes:
    return (TEXT * (size // len(TEXT) + 1))[:size]


# ---------------------------------------------------------------- the chunked path
def test_a_10_mib_file_arrives_intact_in_40_chunks(
    zone: UploadZone, browser: Browser, view: BatchView
) -> None:
    data = text_document(10 * MIB)  # the contract's maximum, accepted (the limit is inclusive)
    answers, upload_id = browser.upload("big story.txt", data)

    assert answers[0] == {"type": "ready", "id": upload_id}
    acks = [a for a in answers if a["type"] == "ack"]
    assert len(acks) == 40
    assert [a["received"] for a in acks] == [CHUNK_BYTES * (i + 1) for i in range(40)]
    assert answers[-1] == {"type": "done", "id": upload_id, "ok": True, "reason": ""}

    [document] = zone.documents
    assert (document.name, document.size) == ("big story.txt", 10 * MIB)
    assert document.path is not None
    assert document.path.name != "big story.txt"
    assert hashlib.sha256(document.path.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert zone.rejections == []
    shown = row(view, "big story.txt")
    assert (shown.check, shown.check_reason, shown.error) == ("accepted", None, None)
    assert (shown.upload.fraction, shown.upload.words) == (0.5, "in the kernel")  # half-way
    assert "✓</span> accepted" in view.html["table"]


def test_no_file_bytes_reach_any_synced_trait(
    zone: UploadZone, browser: Browser, view: BatchView
) -> None:
    browser.upload("story.txt", text_document(3 * CHUNK_BYTES + 5))
    assert len(zone.documents) == 1
    view.flush()
    for widget in [*all_widgets(zone.widget), *all_widgets(view.widget), zone.upload]:
        state = widget.get_state()
        for key, value in state.items():
            if key in ("_esm", "_css"):  # the widget's own code, the same for every upload
                continue
            assert not isinstance(value, bytes | bytearray | memoryview), key
            assert len(json.dumps(value, default=str)) < 20_000, (type(widget).__name__, key)
    assert zone.upload.get_state()["taken"] == ["story.txt"]


def test_a_received_copy_is_deleted_on_remove_clear_and_close(
    tmp_path: Path, zone: UploadZone, browser: Browser, comms: Recorder, view: BatchView
) -> None:
    browser.upload("a.txt", TEXT)
    browser.upload("b.txt", TEXT)
    first, second = (d.path for d in zone.documents)
    assert first is not None
    assert second is not None
    assert first.exists()
    view.table.press("remove", row(view, "a.txt").key)  # the × of its row, as the page sends it
    assert not first.exists()
    assert [d.name for d in zone.documents] == ["b.txt"]
    assert [r.name for r in (view.flush(), view.rows)[1]] == ["b.txt"]
    since = len(comms.sent)
    zone.clear_button.click()  # asks first: removing everything loses work
    assert second.exists()
    [dialog] = zone.confirm_slot.children
    yes = next(w for w in dialog.children if "bk-confirm-yes" in w._dom_classes)
    yes.click()
    assert not second.exists()
    assert zone.documents == []
    view.flush()
    assert view.rows == []
    assert "No documents chosen yet" in view.html["table"]  # words, not "0 accepted · 0 bytes"
    assert {"type": "reset"} in comms.custom(since)
    browser.upload("c.txt", TEXT)
    folder = zone.documents[0].path.parent  # type: ignore[union-attr]
    zone.close()
    assert not folder.exists()


# ---------------------------------------------------------------- what is refused
@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("renamed.docx", (FIXTURES / "legacy.doc").read_bytes(), "is not a .docx"),
        ("plain.doc", TEXT * 10, "is not a Word 97–2003 .doc document"),
        ("image.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "is not plain text"),
    ],
)
def test_disguised_files_are_rejected_after_the_last_chunk(
    zone: UploadZone, browser: Browser, view: BatchView, name: str, data: bytes, reason: str
) -> None:
    answers, _ = browser.upload(name, data, chunk=512)
    done = answers[-1]
    assert done["type"] == "done"
    assert done["ok"] is False
    assert reason in done["reason"]
    assert zone.documents == []
    [rejection] = zone.rejections
    assert rejection.name == name
    assert reason in rejection.reason
    assert list(zone._receiver.directory.iterdir()) == []  # the rejected copy is gone
    shown = row(view, name)
    assert shown.check == "rejected"
    assert shown.check_reason is not None
    assert reason in shown.check_reason
    assert shown.error is None  # the reason is said once, in the check
    assert view.html["table"].count(reason) == 1
    assert "bk-row-check-rejected" in view.html["table"]


def test_the_eleventh_file_and_a_duplicate_are_rejected(zone: UploadZone, browser: Browser) -> None:
    for i in range(10):
        browser.upload(f"doc{i}.txt", TEXT)
    answers, _ = browser.upload("doc10.txt", TEXT)
    assert answers[-1]["type"] == "failed"
    assert answers[-1]["reason"] == "too many: at most 10 files"
    assert len(zone.documents) == 10
    zone.remove("doc0.txt")
    answers, _ = browser.upload("doc1.txt", TEXT)
    assert answers[-1]["reason"] == "has the same name as another file in this list"
    answers, _ = browser.upload("doc0.txt", TEXT)  # room again after a removal
    assert answers[-1]["ok"] is True
    reasons = {r.name: r.reason for r in zone.rejections}
    assert reasons == {
        "doc10.txt": "too many: at most 10 files",
        "doc1.txt": "has the same name as another file in this list",
    }


@pytest.mark.parametrize(
    ("name", "size", "reason"),
    [
        ("notes.pdf", 10, "is a .pdf file; only .txt, .doc and .docx files can be used"),
        ("empty.txt", 0, "is empty (0 bytes)"),
        ("huge.txt", 10 * MIB + 1, "is too large (10.0 MiB, 10,485,761 bytes)"),
    ],
)
def test_the_kernel_checks_again_what_the_browser_announces(
    zone: UploadZone, browser: Browser, name: str, size: int, reason: str
) -> None:
    answers = browser.send({"type": "start", "id": "x", "name": name, "size": size})
    assert answers[-1]["type"] == "failed"
    assert answers[-1]["reason"].startswith(reason)
    assert zone.rejections[0].reason.startswith(reason)
    assert list(zone._receiver.directory.iterdir()) == []


def test_a_chunk_out_of_order_stops_the_upload(zone: UploadZone, browser: Browser) -> None:
    browser.send({"type": "start", "id": "u", "name": "a.txt", "size": 2048})
    browser.send({"type": "chunk", "id": "u", "index": 0, "offset": 0}, [TEXT[:10]])
    answers = browser.send({"type": "chunk", "id": "u", "index": 2, "offset": 10}, [TEXT[:10]])
    assert answers[-1]["type"] == "failed"
    assert "broke off" in answers[-1]["reason"]
    assert "broke off" in zone.rejections[0].reason
    assert list(zone._receiver.directory.iterdir()) == []
    later = browser.send({"type": "chunk", "id": "u", "index": 1, "offset": 10}, [TEXT[:10]])
    assert later[-1]["type"] == "failed"  # the upload is over; nothing more is written


def test_an_upload_that_ends_short_is_rejected(zone: UploadZone, browser: Browser) -> None:
    browser.send({"type": "start", "id": "u", "name": "a.txt", "size": 100})
    browser.send({"type": "chunk", "id": "u", "index": 0, "offset": 0}, [TEXT[:50]])
    answers = browser.send({"type": "end", "id": "u", "chunks": 1})
    assert answers[-1]["ok"] is False
    assert "arrived incomplete: 50 of 100 bytes" in answers[-1]["reason"]


def test_a_malformed_message_is_answered_not_raised(zone: UploadZone, browser: Browser) -> None:
    answers = browser.send({"type": "chunk", "id": "u", "index": -1, "offset": 0}, [b"x"])
    assert answers == [{"type": "failed", "id": "u", "reason": "the browser sent a bad message"}]
    assert zone.entries == ()


def test_files_the_browser_refused_are_listed_with_escaped_names(
    zone: UploadZone, browser: Browser, view: BatchView
) -> None:
    browser.send(
        {"type": "refused", "name": "<script>x.exe", "size": 3, "reason": "is a .exe file"}
    )
    browser.upload(XSS, TEXT)
    html = shown_html(view)
    assert XSS not in html
    assert "<script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in html
    assert "&lt;script&gt;x.exe" in html
    assert [d.name for d in zone.documents] == [XSS]
    assert zone.rejections[0].reason == "is a .exe file"


# ---------------------------------------------------------------- the kernel's disk
def test_files_from_the_kernels_disk_pass_the_same_checks(
    tmp_path: Path, zone: UploadZone, view: BatchView
) -> None:
    disguised = tmp_path / "disguised.docx"
    disguised.write_bytes((FIXTURES / "legacy.doc").read_bytes())
    zone.add_paths([*sample_paths(), disguised, tmp_path / "missing.txt"])
    assert [d.name for d in zone.documents] == [p.name for p in sample_paths()]
    assert all(d.path in sample_paths() for d in zone.documents)  # used in place, not copied
    assert {r.name for r in zone.rejections} == {"disguised.docx", "missing.txt"}
    assert "no such file" in str(row(view, "missing.txt").check_reason)
    assert row(view, sample_paths()[0].name).upload.words == "on the kernel's disk"
    assert all(e.state is not EntryState.RECEIVING for e in zone.entries)


def test_the_file_chooser_adds_the_selected_file(tmp_path: Path, zone: UploadZone) -> None:
    (tmp_path / "chosen.txt").write_bytes(TEXT)
    changes: list[int] = []
    zone.on_change(lambda z: changes.append(len(z.documents)))
    chooser = zone.chooser
    chooser.reset(path=str(tmp_path), filename="chosen.txt")
    chooser._select.click()  # opens the dialog on that folder and file
    chooser._select.click()  # confirms the selection, as a user's second click does
    assert [d.name for d in zone.documents] == ["chosen.txt"]
    assert changes == [1]


# ---------------------------------------------------------------- drawing
async def test_chunk_progress_is_drawn_through_the_throttle(
    zone: UploadZone, browser: Browser, comms: Recorder, view: BatchView
) -> None:
    data = text_document(40 * CHUNK_BYTES)
    started = time.perf_counter()
    answers = browser.send({"type": "start", "id": "u", "name": "a.txt", "size": len(data)})
    assert answers[-1]["type"] == "ready"
    await view.settled()  # a new row is urgent: drawn on the loop's next turn
    table = view.table
    before = len(comms.sent)
    for index in range(40):
        offset = index * CHUNK_BYTES
        chunk = {"type": "chunk", "id": "u", "index": index, "offset": offset}
        browser.send(chunk, [data[offset : offset + CHUNK_BYTES]])
        await asyncio.sleep(0)  # yield the loop, as the kernel does between comm messages
    await view.settled()
    elapsed = time.perf_counter() - started
    table_updates = [s for s in comms.updates(before) if s.comm_id == table.comm.comm_id]
    assert 1 <= len(table_updates) <= 10 * elapsed + 1
    assert row(view, "a.txt").upload.words == "to the kernel 100%"


def test_a_locked_zone_refuses_changes_and_says_why(
    zone: UploadZone, browser: Browser, view: BatchView
) -> None:
    browser.upload("a.txt", TEXT)
    zone.lock("the files are being sent to the server")
    assert zone.upload.disabled
    assert zone.upload.disabled_reason == "the files are being sent to the server"
    assert not row(view, "a.txt").removable
    assert 'aria-disabled="true"' in view.html["table"]  # still focusable, and says why:
    assert "the files are being sent to the server" in view.html["table"]
    assert zone.clear_button.disabled
    with pytest.raises(InputError, match="being sent"):
        zone.remove("a.txt")
    answers = browser.send({"type": "start", "id": "late", "name": "b.txt", "size": 10})
    assert answers[-1]["type"] == "failed"  # the kernel refuses too, not only the browser
    zone.unlock()
    assert row(view, "a.txt").removable


def test_a_cancelled_or_bufferless_upload_is_dropped(zone: UploadZone, browser: Browser) -> None:
    browser.send({"type": "start", "id": "u", "name": "a.txt", "size": 100})
    browser.send({"type": "cancel", "id": "u", "reason": "NotReadableError"})
    browser.send({"type": "start", "id": "v", "name": "b.txt", "size": 100})
    answers = browser.send({"type": "chunk", "id": "v", "index": 0, "offset": 0}, [])
    assert answers[-1]["type"] == "failed"
    assert "0 buffers" in answers[-1]["reason"]
    assert [r.reason for r in zone.rejections] == [
        "the browser could not send it: NotReadableError",
        "the browser could not send it: a chunk came with 0 buffers instead of one",
    ]
    assert not zone.receiving
    assert list(zone._receiver.directory.iterdir()) == []


def test_a_file_the_browser_gave_up_on_is_dropped_even_once_accepted(
    zone: UploadZone, browser: Browser
) -> None:
    # A busy kernel answers late: the browser, having waited too long, tells the user the file
    # was not sent and says "cancel"; the kernel, which had accepted it meanwhile, drops it too.
    _, upload_id = browser.upload("late.txt", TEXT)
    assert [d.name for d in zone.documents] == ["late.txt"]
    browser.send({"type": "cancel", "id": upload_id, "reason": "the kernel did not answer"})
    assert zone.documents == []
    assert [r.name for r in zone.rejections] == ["late.txt"]
    assert "the kernel did not answer" in zone.rejections[0].reason
    assert list(zone._receiver.directory.iterdir()) == []
