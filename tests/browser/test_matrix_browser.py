"""The comparison matrix as a user meets it: notebook 02 in JupyterLab, headless Chromium.

The test runs every cell of ``02_batch_tuning.ipynb`` from the Run menu against the real
reference server (eight settings points over the four sample documents), then looks at the
matrix it ends in: one row per document, pictures that load as they scroll in, a clip that plays
when its button is pressed, a mark given by keyboard only and saved in the run's folder, the
filters, the focus ring, Lab's dark theme, and the page at 320 px. Screenshots go to
``test-artifacts/browser/<test name>/``.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from browser.lab_page import LabPage, Screenshots
from browser.lab_server import LabServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(480)]

NOTEBOOK = "02_batch_tuning.ipynb"
RUN_NOTEBOOK_MS = 300_000
MEDIA_MS = 60_000
DOCUMENTS = 4
RUNS = 8

LIGHT_TEXT = """(node) => {
  const [r, g, b] = getComputedStyle(node).color.match(/[\\d.]+/g).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255 > 0.6;
}"""
PICTURES_LOADED = """(widget) => {
  const images = [...widget.querySelectorAll('img[data-media]')];
  return images.length > 0 && images.every(i => i.complete && i.naturalWidth > 0);
}"""


def test_the_matrix_shows_plays_and_keeps_marks(
    page: Page, lab: LabServer, screenshots: Screenshots, page_errors: list[str]
) -> None:
    notebook = LabPage(page, lab, NOTEBOOK)
    notebook.open()
    notebook.run_all_cells(RUN_NOTEBOOK_MS)
    widget = notebook.panel.locator(".bk-mx-widget")
    expect(widget).to_be_visible()
    expect(widget.locator(".bk-mx-row")).to_have_count(DOCUMENTS)
    expect(widget.locator(".bk-mx-summary")).to_have_text(
        f"Showing {DOCUMENTS} of {DOCUMENTS} documents under {RUNS} runs"
    )
    expect(widget.locator("thead th.bk-mx-column")).to_have_count(RUNS)
    widget.scroll_into_view_if_needed()
    first_row = widget.locator(".bk-mx-row").first
    first_cell = first_row.locator(".bk-mx-cell").first
    page.wait_for_function(PICTURES_LOADED, arg=first_cell.element_handle(), timeout=MEDIA_MS)
    alts = first_row.locator("img[data-media]").evaluate_all("(imgs) => imgs.map(i => i.alt)")
    assert all(re.fullmatch(r"picture \d+ of \d+ of \S+ under .+", alt) for alt in alts), alts
    screenshots.take("matrix", focus=widget)

    # Scroll to the end of the matrix: the last cell's pictures load as they come into view.
    scroll = widget.locator(".bk-mx-scroll")
    scroll.evaluate("(box) => box.scrollTo(box.scrollWidth, box.scrollHeight)")
    last_cell = widget.locator(".bk-mx-cell").last
    page.wait_for_function(PICTURES_LOADED, arg=last_cell.element_handle(), timeout=MEDIA_MS)
    screenshots.take("matrix-scrolled", focus=widget)

    # A clip loads when its button is pressed, and plays in place.
    scroll.evaluate("(box) => box.scrollTo(0, 0)")
    play = first_row.locator(".bk-mx-play").first
    play.click()
    player = first_row.locator("audio[data-media]").first
    expect(player).to_be_visible(timeout=MEDIA_MS)
    page.wait_for_function("(a) => a.readyState >= 1 && a.duration > 0",
                           arg=player.element_handle(), timeout=MEDIA_MS)  # fmt: skip

    # Marked by keyboard only: the Better button, then a note; each saved in the run's folder.
    better = first_row.locator(".bk-mx-rate-better").first
    better.focus()
    ring = better.evaluate("(b) => parseFloat(getComputedStyle(b).outlineWidth)")
    assert ring >= 2, f"the focus ring is {ring} px"
    page.keyboard.press("Space")
    expect(better).to_have_attribute("aria-pressed", "true")
    saved = first_row.locator(".bk-mx-saved").first
    expect(saved).to_have_text("Saved")
    note = first_row.locator(".bk-mx-note-input").first
    note.focus()
    page.keyboard.type("clear voice, calm pictures")
    page.keyboard.press("Enter")
    expect(saved).to_have_text("Saved")
    expect(note).to_be_focused()  # the redraw kept the user where they were
    expect(player).to_be_attached()  # and the open player
    # The kernel's $BATCHKIT_RUNS_DIR is <jupyter home>/runs (lab_server), where the log is too.
    marks = list((lab.log.parent / "runs" / "tuning").glob("*/marks.json"))
    assert len(marks) == 1
    (mark,) = json.loads(marks[0].read_text())["marks"].values()
    assert (mark["rating"], mark["note"]) == ("better", "clear voice, calm pictures")
    screenshots.take("marked", focus=first_row)

    # The filters: nothing failed in this grid, so "only failures" shows no document.
    widget.get_by_label("only documents that failed somewhere").check()
    expect(widget.locator(".bk-mx-row")).to_have_count(0)
    expect(widget.locator(".bk-mx-summary")).to_contain_text("no document matches the filters")
    widget.get_by_label("only documents that failed somewhere").uncheck()
    expect(widget.locator(".bk-mx-row")).to_have_count(DOCUMENTS)
    expect(first_row.locator("audio[data-media]")).to_have_count(1)  # the player came back

    # Lab's dark theme: the matrix takes its colours from Lab's own variables.
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-item:visible", has_text="Theme").first.hover()
    page.locator(".lm-Menu-item:visible", has_text="JupyterLab Dark").first.click()
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
    text = widget.locator(".bk-mx-label").first
    page.wait_for_function(LIGHT_TEXT, arg=text.element_handle(), timeout=MEDIA_MS)
    screenshots.take("matrix-dark", focus=first_row)

    # 320 px wide, Lab's side panel closed: the matrix scrolls inside its own region, the page
    # does not.
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    page.set_viewport_size({"width": 320, "height": 900})
    widget.scroll_into_view_if_needed()
    expect(widget.locator(".bk-mx-row").first).to_be_visible()
    box = widget.evaluate(
        "(w) => { const r = w.getBoundingClientRect(); return [r.left, r.right]; }"
    )
    assert 0 <= box[0] < box[1] <= 320 + 1, f"the matrix spans {box} px at 320 px"
    screenshots.take("matrix-320px", focus=widget)
    assert page_errors == []
