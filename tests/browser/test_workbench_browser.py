"""The workbench as a user meets it: JupyterLab in headless Chromium, notebook 01, real files.

The test opens ``notebooks/01_batch_workbench.ipynb`` in a JupyterLab it started, runs every cell
from the Run menu, then works the page like a person: chooses files in the upload widget's file
dialog (one of them exactly 10 MiB, the contract's maximum), drops another on the drop zone, sees
the bad one turned down inline, starts the batch and waits for the table to show every good file
completed. The Story API is the real reference server; afterwards the stored upload of the 10 MiB
file is compared byte for byte, and the saved notebook is read from disk to prove that no file
bytes, no Jupyter token and no Story API password went into it.

Screenshots of every stage go to ``test-artifacts/browser/<test name>/``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest
from playwright.sync_api import JSHandle, Page, expect

from batchkit.contract.limits import MAX_FILE_BYTES
from batchkit.server.launcher import EmbeddedServer
from browser.lab_page import LabPage, Screenshots
from browser.lab_server import LabServer

# Above the suite's 120 s, so the explicit waits below fail first, each with its own message.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

NOTEBOOK = "01_batch_workbench.ipynb"
RUN_NOTEBOOK_MS = 90_000
UPLOAD_MS = 60_000
BATCH_MS = 90_000
SAVED_NOTEBOOK_MAX_BYTES = 1024 * 1024
# What the inline error of each bad file says (notes.pdf, empty.txt): the reason, in words.
BAD_REASONS = (re.compile(r"\.pdf"), re.compile(r"empty", re.IGNORECASE))
SENTENCE = (
    "The lighthouse keeper counted the ships coming home across the grey water, "
    "and every evening she wrote their names into the harbour book. "
)


@dataclass(frozen=True, slots=True)
class Documents:
    """The files a user picks: good ones, bad ones, and one to drop; each good one has a secret
    word only its bytes contain, to look for in the saved notebook."""

    big: Path
    word_file: Path
    bad: tuple[Path, ...]
    dropped_name: str
    dropped_text: str
    marker_words: tuple[str, ...]

    @property
    def good_names(self) -> set[str]:
        return {self.big.name, self.word_file.name, self.dropped_name}


@pytest.fixture
def documents(tmp_path: Path) -> Documents:
    words = [f"secret{secrets.token_hex(6)}" for _ in range(3)]
    big = tmp_path / "harbour_log.txt"
    body = f"The keeper wrote {words[0]} on the first page. ".encode() + SENTENCE.encode() * (
        MAX_FILE_BYTES // len(SENTENCE) + 1
    )
    big.write_bytes(body[:MAX_FILE_BYTES])
    assert big.stat().st_size == MAX_FILE_BYTES
    word_file = tmp_path / "ship_names.docx"
    document = docx.Document()
    document.add_heading("Ships of the harbour", level=1)
    for number in range(12):
        document.add_paragraph(f"Ship {number} sailed home. {SENTENCE}")
    document.add_paragraph(f"The last ship was called {words[1]}.")
    document.save(str(word_file))
    pdf = tmp_path / "notes.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% not a story\n")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    dropped = f"A small boat drifted in at dawn, named {words[2]}. " + SENTENCE * 20
    return Documents(big, word_file, (pdf, empty), "dropped_story.txt", dropped, tuple(words))


def drop_file(page: Page, name: str, text: str) -> None:
    """Drop a file on the drop zone: a real DataTransfer, built in the page, as a drag carries."""
    transfer: JSHandle = page.evaluate_handle(
        """([name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, {type: 'text/plain'}));
            return transfer;
        }""",
        [name, text],
    )
    zone = page.locator(".bk-drop-zone")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    zone.dispatch_event("dragover", {"dataTransfer": transfer})
    zone.dispatch_event("drop", {"dataTransfer": transfer})


def assert_saved_notebook_is_clean(
    lab: LabServer, server: EmbeddedServer, documents: Documents
) -> None:
    """The .ipynb on disk: small, valid JSON, and none of the file bytes, token or password."""
    path = lab.root / NOTEBOOK
    size = path.stat().st_size
    assert size < SAVED_NOTEBOOK_MAX_BYTES, f"saved notebook is {size} bytes"
    text = path.read_text(encoding="utf-8")
    saved = json.loads(text)
    # Widget state is saved (the Lab setting the fixture turns on): the page's file names are in
    # it, so the absence of their bytes below is a finding, not an empty notebook.
    assert "application/vnd.jupyter.widget-state+json" in saved["metadata"].get("widgets", {})
    assert documents.big.name in text
    assert "Done: all 3 files completed" in text, "the notebook was saved before the run ended"
    assert lab.token not in text, "the Jupyter token is in the saved notebook"
    assert server.credentials.password not in text, "the Story API password is in the notebook"
    for word in documents.marker_words:
        raw = word.encode()
        # As text, or base64 (binary widget buffers) at any of the three byte alignments.
        encoded = [base64.b64encode(raw[shift : shift + 12]).decode() for shift in range(3)]
        assert word not in text, f"bytes of an uploaded file ({word}) are in the notebook"
        assert not any(chunk in text for chunk in encoded), f"{word} is in it as base64"


def assert_stored_intact(server: EmbeddedServer, original: Path) -> None:
    """The reference server stored a byte-identical copy of ``original`` (it arrived intact)."""
    digest = hashlib.sha256(original.read_bytes()).hexdigest()
    stored = [
        path
        for path in (server.settings.data_dir / "uploads").rglob("*.txt")
        if path.stat().st_size == original.stat().st_size
    ]
    digests = {hashlib.sha256(path.read_bytes()).hexdigest() for path in stored}
    assert digest in digests, f"no stored upload equals {original.name} ({len(stored)} of its size)"


def choose_and_drop_files(page: Page, documents: Documents, screenshots: Screenshots) -> None:
    """Pick files in the file dialog, see the bad ones refused inline, drop one more; return once
    the kernel holds every good file."""
    zone = page.locator(".bk-documents")
    chosen = [documents.big, documents.word_file, *documents.bad]
    page.locator(".bk-file-input").set_input_files(chosen)
    for bad, reason in zip(documents.bad, BAD_REASONS, strict=True):
        row = page.locator("tr.bk-row-check-rejected", has_text=bad.name)
        expect(row.locator(".bk-check-rejected")).to_contain_text(reason, timeout=10_000)
    screenshots.take("bad-files-rejected", focus=zone)

    drop_file(page, documents.dropped_name, documents.dropped_text)
    for name in documents.good_names:
        row = page.locator("tr.bk-row", has_text=name)
        expect(row).to_have_class(re.compile(r"\bbk-row-check-accepted\b"), timeout=UPLOAD_MS)
    expect(page.locator("tr.bk-row-check-accepted")).to_have_count(3)
    screenshots.take("files-in-the-kernel", focus=zone)


def start_story_only_batch(page: Page, screenshots: Screenshots) -> None:
    """Unfold the settings, turn images and audio off, press Start."""
    # A 10 MiB text's images and audio would take minutes: the story step alone for this run.
    page.locator(".bk-settings-toggle button").click()
    for control in ("generate-images", "generate-audio"):
        page.locator(f".bk-control-{control} input[type=checkbox]").uncheck()
    screenshots.take("settings", focus=page.locator(".bk-config-form"))
    page.locator("button.bk-start").click()


def follow_batch_to_the_end(page: Page, documents: Documents, screenshots: Screenshots) -> None:
    """The progress table shows each good file completed, then the page its green final state."""
    table = page.locator(".bk-file-table")
    overview = page.locator(".bk-overview")
    expect(overview.locator("[role=progressbar]")).to_be_visible(timeout=30_000)
    screenshots.take("batch-running", focus=overview)
    for name in documents.good_names:
        row = table.locator("tr", has_text=name)
        expect(row.locator(".bk-status")).to_have_text(re.compile("completed"), timeout=BATCH_MS)
    # The same five rows as before the run: the rejected files stay, never sent.
    expect(table.locator("tbody tr")).to_have_count(5)
    expect(overview.locator(".bk-overall.bk-final-ok")).to_be_visible(timeout=10_000)
    expect(overview).to_contain_text("Done: all 3 files completed")
    header = page.locator(".bk-header")
    expect(header).to_contain_text("Status: done: all 3 files completed", timeout=10_000)
    screenshots.take("batch-done", focus=overview)
    for name in documents.good_names:  # both legs of each upload, as one progress
        upload = table.locator("tr", has_text=name).locator(".bk-meter-words")
        expect(upload).to_have_text("on the server", timeout=10_000)
    screenshots.take("uploads-after-the-run", focus=table)


def test_a_user_runs_a_batch_from_the_workbench(
    page: Page,
    lab: LabServer,
    story_server: EmbeddedServer,
    screenshots: Screenshots,
    documents: Documents,
    page_errors: list[str],
) -> None:
    notebook = LabPage(page, lab, NOTEBOOK)
    notebook.open()
    screenshots.take("notebook-opened")
    notebook.run_all_cells(timeout_ms=RUN_NOTEBOOK_MS)
    zone = page.locator(".bk-upload-zone")
    expect(zone).to_be_visible(timeout=30_000)
    screenshots.take("workbench-ready", focus=zone)

    choose_and_drop_files(page, documents, screenshots)
    start_story_only_batch(page, screenshots)
    follow_batch_to_the_end(page, documents, screenshots)

    assert_stored_intact(story_server, documents.big)
    notebook.save()
    assert_saved_notebook_is_clean(lab, story_server, documents)
    assert page_errors == [], "the page's JavaScript raised"
