"""The workbench as a user meets it: JupyterLab in headless Chromium, notebook 01, real files.

The test opens ``01_batch_workbench.ipynb`` in a JupyterLab it started, runs every cell from
the Run menu, then works the page like a person: chooses files in the upload widget's file
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
from typing import Any

import docx
import pytest
from playwright.sync_api import JSHandle, Page, expect

from batchkit.contract.limits import MAX_FILE_BYTES
from batchkit.server.launcher import EmbeddedServer
from browser.lab_page import LabPage, Screenshots
from browser.lab_server import LabServer
from browser.workbench_ui import RUN_MS, WorkbenchUI, minimal_notebook

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


# ---------------------------------------------------------------- a person's whole session
CONTRAST = """(el) => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).slice(0, 4).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = [r, g, b].map((c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  };
  let back = null;
  for (let node = el; node; node = node.parentElement) {
    const color = rgb(getComputedStyle(node).backgroundColor);
    if (color.length === 3 || (color.length === 4 && color[3] > 0)) { back = color; break; }
  }
  const front = luminance(rgb(getComputedStyle(el).color));
  const behind = luminance(back || [255, 255, 255]);
  return (Math.max(front, behind) + 0.05) / (Math.min(front, behind) + 0.05);
}"""


def story_documents(folder: Path) -> list[Path]:
    """Three small stories of different lengths, and a PDF the page must turn down."""
    texts = {
        "lighthouse.txt": SENTENCE * 8,
        "market day.txt": "The market opened at dawn and the baker sang. " * 30,
        "ferry.txt": "The ferry crossed the bay twice a day, whatever the weather. " * 20,
    }
    paths = []
    for name, text in texts.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    pdf = folder / "notes.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% not a story\n")
    return [*paths, pdf]


def console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_a_person_fixes_a_setting_runs_with_failures_retries_regenerates_and_looks(
    page: Page,
    lab: LabServer,
    story_server: EmbeddedServer,
    screenshots: Screenshots,
    page_errors: list[str],
    tmp_path: Path,
) -> None:
    errors = console_errors(page)
    ui = WorkbenchUI(page, lab, screenshots)
    ui.open(minimal_notebook(lab.root))
    expect(ui.table).to_contain_text("No documents chosen yet")  # words, not "0 bytes"
    expect(ui.reason("bk-start")).to_have_text("add documents first")
    screenshots.take("empty-page", focus=ui.workbench)

    # Files: two by the dialog (and a PDF, turned down where it is), one dropped.
    *stories, pdf = story_documents(tmp_path)
    ui.choose_by_dialog([*stories[:2], pdf])
    ui.drop(stories[2].name, stories[2].read_text())
    ui.wait_accepted([p.name for p in stories])
    expect(ui.row(pdf.name)).to_contain_text("rejected: is a .pdf file")
    screenshots.take("files-chosen", focus=ui.table)

    # A setting typed wrong: said where it is, as it is typed, and Start says why it is off.
    ui.open_settings()
    page.locator(".bk-control-generate-audio input[type=checkbox]").uncheck()
    words = page.locator(".bk-control-words-per-chunk-image input")
    words.fill("10")
    expect(words).to_have_attribute("aria-invalid", "true")
    described = words.get_attribute("aria-describedby")
    assert described
    expect(page.locator(f"#{described}")).to_have_text(
        "✗ must be between 50 and 2000 words, not 10"
    )
    expect(ui.button("bk-start")).to_be_disabled()
    expect(ui.reason("bk-start")).to_have_text(
        "fix the settings first: Words per image: must be between 50 and 2000 words, not 10"
    )
    screenshots.take("invalid-setting", focus=words)
    words.fill("120")
    expect(words).to_have_attribute("aria-invalid", "false")
    expect(ui.button("bk-start")).to_be_enabled()

    # A run with injected failures: one file of three fails its images (see FAULT_SEED).
    story_server.set_fail_rates({"images": 0.5})
    ui.button("bk-start").click()
    ui.wait_done()
    assert "bk-start" in ui.focused()["classes"].split()
    assert ui.counts() == {"completed": 2, "failed": 1, "running": 0, "waiting": 0}
    assert ui.bar()["aria-valuetext"] == "3 of 3 files done: 2 completed, 1 failed"
    segments = ui.segments()  # never one red bar for all: a segment per outcome, by count
    assert set(segments) == {"completed", "failed"}
    assert abs(segments["completed"] - 200 / 3) <= 2
    assert abs(segments["failed"] - 100 / 3) <= 2
    failure = "injected fault: the images step failed on purpose (fail rate 0.5)"
    assert ui.workbench.inner_text().count(failure) == 1  # said once, in its row
    expect(ui.reason("bk-retry")).to_have_text("")
    screenshots.take("run-with-a-failure", focus=ui.overview)

    # Media: two stories picked in a row (the second pick came on a subshell thread and failed).
    choice = page.locator(".bk-media-choice select")
    offered = [text for text in choice.locator("option").all_inner_texts() if "pick" not in text]
    assert len(offered) == 2  # the two files that completed
    for story in offered:
        choice.select_option(label=story)
        thumbs = page.locator(".bk-thumb img")
        expect(thumbs.first).to_have_attribute("alt", re.compile(r"^Image 1 of \d+ for “"))
        expect(page.locator(".bk-media-state", has_text="loading")).to_have_count(0)
        expect(ui.notices("media")).not_to_contain_text("could not")
    first_thumb = page.locator(".bk-thumb").first
    first_thumb.click()
    dialog = page.locator("dialog.bk-media-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("img")).to_have_attribute("alt", re.compile("^Image 1 of"))
    screenshots.take("image-enlarged", focus=dialog)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert "bk-thumb" in ui.focused()["classes"]
    screenshots.take("media", focus=page.locator(".bk-media"))

    # Retry: the failed file goes again in the same run, keeps its row, shows its attempt.
    story_server.set_fail_rates({})
    failed = ui.table.locator("tbody tr.bk-row-failed")
    name = failed.locator(".bk-file-name").inner_text()
    ui.button("bk-retry").click()
    # The last run's end is on the page until the retry's own: wait for what the retry makes.
    expect(ui.overview.locator(".bk-count-failed")).to_have_text("✗ 0 failed", timeout=RUN_MS)
    ui.wait_done()
    assert ui.counts() == {"completed": 3, "failed": 0, "running": 0, "waiting": 0}
    assert sorted(ui.statuses()) == ["completed"] * 3 + ["—"]  # and the PDF, never sent
    expect(ui.row(name).locator(".bk-attempt")).to_have_text("attempt 2")
    expect(ui.button("bk-retry")).to_be_disabled()
    expect(page.locator(".bk-media-choice select option")).to_have_count(4)  # 3 and "pick"
    screenshots.take("after-retry", focus=ui.overview)

    # Regenerate one story, asked first; its row keeps its place and shows the attempt.
    name = stories[0].name if stories[0].name != name else stories[1].name
    page.locator(".bk-regenerate-file select").select_option(label=name)
    page.locator(".bk-regenerate-prompt textarea").fill("Tell it as a sea shanty.")
    ui.button("bk-regenerate").click()
    page.locator(".bk-confirm-yes").click()
    expect(ui.row(name).locator(".bk-attempt")).to_have_text("attempt 2", timeout=RUN_MS)
    ui.wait_done()
    expect(ui.notices("stories")).to_contain_text(f"generated again: {name}")
    screenshots.take("regenerated", focus=ui.row(name))

    assert page_errors == [], "the page's JavaScript raised"
    assert [e for e in errors if "batchkit" in e or "bk-" in e] == []


def tab_to(ui: WorkbenchUI, wanted: str, *, limit: int = 60) -> dict[str, Any]:
    """Press Tab until the focus is on an element whose classes or text hold ``wanted``."""
    for _ in range(limit):
        ui.page.keyboard.press("Tab")
        focused = ui.focused()
        if wanted in focused["classes"] or wanted == focused["text"]:
            assert focused["outline"] >= 2, f"{wanted}: the focus ring is {focused['outline']} px"
            return focused
    raise AssertionError(f"Tab never reached {wanted!r}")


def test_one_whole_run_by_keyboard_then_every_width_and_the_dark_theme(
    page: Page,
    lab: LabServer,
    screenshots: Screenshots,
    page_errors: list[str],
    tmp_path: Path,
) -> None:
    errors = console_errors(page)
    ui = WorkbenchUI(page, lab, screenshots)
    ui.open(minimal_notebook(lab.root))
    *stories, _ = story_documents(tmp_path)

    # Choose files from the keyboard (Enter on "Choose files…" opens the dialog).
    ui.choose_by_dialog(stories, keyboard=True)
    ui.wait_accepted([p.name for p in stories])
    # Remove one with its ×: the focus goes to the next row's ×, not to the page's body.
    tab_to(ui, "bk-remove")
    page.keyboard.press("Enter")
    expect(ui.table.locator("tbody tr")).to_have_count(2)
    assert ui.focused()["classes"] == "bk-remove"  # the next row's ×
    screenshots.take("keyboard-removed-a-file", focus=ui.table)

    # Unfold the settings and fix a value from the keyboard.
    settings = tab_to(ui, "bk-disclosure-button")
    assert settings["text"].endswith("Settings")
    page.keyboard.press("Enter")
    expect(page.locator(".bk-settings-toggle button")).to_have_attribute("aria-expanded", "true")
    audio = page.locator(".bk-control-generate-audio input[type=checkbox]")
    expect(audio).to_be_visible()  # unfolded by the kernel, a moment after the press
    audio.focus()
    page.keyboard.press("Space")  # audio off: a shorter run
    # The audio settings go off with it: Tab on once they have (a control switched off under
    # the focus would drop it).
    expect(page.locator(".bk-control-merge-audio input")).to_be_disabled()
    tab_to(ui, "bk-control-words-per-chunk-image")
    words = page.locator(".bk-control-words-per-chunk-image input")
    page.keyboard.press("Control+a")
    page.keyboard.type("10")
    expect(words).to_have_attribute("aria-invalid", "true")
    page.keyboard.press("Control+a")
    page.keyboard.type("150")
    expect(words).to_have_attribute("aria-invalid", "false")

    # Start from the keyboard: the focus stays on Start through the run.
    tab_to(ui, "bk-start")
    page.keyboard.press("Enter")
    ui.wait_done()
    assert "bk-start" in ui.focused()["classes"]
    assert ui.counts() == {"completed": 2, "failed": 0, "running": 0, "waiting": 0}
    screenshots.take("keyboard-run-done", focus=ui.overview)

    # The media of a story, from the keyboard: pick (typing its first letter), open a
    # thumbnail, close it.
    tab_to(ui, "bk-media-choice")
    page.keyboard.type(stories[1].name[0])  # "m": in command mode, Lab's "to Markdown" key
    expect(page.locator(".bk-thumb:not([disabled])").first).to_be_visible(timeout=30_000)
    tab_to(ui, "bk-thumb")
    page.keyboard.press("Enter")
    expect(page.locator("dialog.bk-media-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    assert "bk-thumb" in ui.focused()["classes"]
    expect(page.locator(".jp-CodeCell")).to_have_count(1)  # the cell is still the page's cell

    # Every width people work at, nothing sticking out sideways; then the dark theme.
    for width, file_browser in ((1920, True), (1400, True), (600, True), (320, False)):
        ui.widths(width, file_browser=file_browser)
        ui.table.scroll_into_view_if_needed()
        assert ui.overflow() == [], f"at {width} px"
        screenshots.take(f"{width}px", focus=ui.table)
        ui.overview.scroll_into_view_if_needed()
        screenshots.take(f"{width}px-run", focus=ui.overview)
    ui.widths(1400, file_browser=True)
    ui.dark_theme()
    label = page.locator(".bk-disk-chooser .widget-html-content span[style]")
    assert label.evaluate(CONTRAST) >= 4.5, "ipyfilechooser's label is hard to read"
    assert page.locator(".bk-file-name").first.evaluate(CONTRAST) >= 4.5
    ui.workbench.scroll_into_view_if_needed()
    screenshots.take("dark-theme", focus=ui.workbench)
    ui.table.scroll_into_view_if_needed()
    screenshots.take("dark-theme-table", focus=ui.table)
    ui.widths(600, file_browser=True)
    assert ui.overflow() == [], "dark, at 600 px"
    screenshots.take("dark-theme-600px", focus=ui.table)

    assert page_errors == [], "the page's JavaScript raised"
    assert [e for e in errors if "batchkit" in e or "bk-" in e] == []
