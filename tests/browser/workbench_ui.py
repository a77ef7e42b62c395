"""The workbench page as a person meets it in JupyterLab: what they do, and what they see.

:class:`WorkbenchUI` wraps a Playwright page showing the workbench: it chooses files through
the file dialog or drops them, works the settings, presses buttons (by mouse or keyboard), and
reads what is shown: the overall bar's values and counts, the table's rows, the reasons beside
the buttons, what has the keyboard focus, and whether anything sticks out sideways. Every wait
is a Playwright condition on the page, never a sleep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import JSHandle, Locator, Page, expect

from browser.lab_page import LabPage, Screenshots
from browser.lab_server import LabServer

READY_MS = 60_000
RUN_MS = 120_000
MINIMAL_NOTEBOOK = "workbench_only.ipynb"

# Every element inside the page whose right edge passes the page's own (a sideways scroll), and
# every control whose content is taller than its box (it spills over the next one). Visually
# hidden text (clipped to nothing) does not count: nothing of it is seen.
OVERFLOW = """() => {
  const page = document.querySelector('.bk-workbench');
  if (!page) return ['no workbench on the page'];
  const edge = page.getBoundingClientRect().right + 1;
  const hidden = (el) => {
    for (let node = el; node && node !== page; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.display === 'none' || style.visibility === 'hidden') return true;
      if (style.position === 'absolute' && style.clip && style.clip !== 'auto') return true;
    }
    return false;
  };
  const found = [];
  for (const el of page.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || hidden(el)) continue;
    const past = Math.round(box.right - edge);
    if (past > 0) found.push(`${el.tagName}.${el.className} sticks out ${past} px`);
  }
  // A control whose label and input wrapped onto two lines in a box one line high spills
  // over what is below it.
  // ...and one stretched far taller than what it holds leaves a gap in the page.
  for (const box of page.querySelectorAll('.widget-inline-hbox')) {
    if (hidden(box)) continue;
    if (box.scrollHeight > box.clientHeight + 2) {
      found.push(`${box.className} spills ${box.scrollHeight - box.clientHeight} px below`);
    }
    const tallest = Math.max(0, ...[...box.children].map((c) => c.getBoundingClientRect().height));
    const height = box.getBoundingClientRect().height;
    if (tallest > 0 && height > 2 * tallest + 16) {
      found.push(`${box.className} is ${Math.round(height)} px tall for ${Math.round(tallest)} px`);
    }
  }
  const scroller = page.closest('.jp-WindowedPanel-outer') || page.closest('.jp-Notebook');
  if (scroller && scroller.scrollWidth > scroller.clientWidth + 1) {
    found.push('the notebook scrolls sideways');
  }
  return found.slice(0, 20);
}"""

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {tag: 'BODY', classes: '', text: '', outline: 0};
  // The classes of the element, and of the form control it belongs to (bk-control-...).
  const style = getComputedStyle(el);
  const control = el.closest('[class*="bk-control-"], .bk-media-choice');
  const within = control
    ? [...control.classList].find((c) => c.startsWith('bk-control-') || c === 'bk-media-choice')
    : '';
  return {tag: el.tagName, classes: `${el.className} ${within}`.trim(),
          text: (el.textContent || '').trim(),
          outline: style.outlineStyle === 'none' ? 0 : parseFloat(style.outlineWidth)};
}"""


def minimal_notebook(root: Path) -> str:
    """A notebook of only the workbench notebook's first code cell (the page), in ``root``."""
    source = json.loads((root / "01_batch_workbench.ipynb").read_text(encoding="utf-8"))
    first = next(cell for cell in source["cells"] if cell["cell_type"] == "code")
    notebook = {**source, "cells": [first]}
    (root / MINIMAL_NOTEBOOK).write_text(json.dumps(notebook), encoding="utf-8")
    return MINIMAL_NOTEBOOK


@dataclass
class WorkbenchUI:
    """The workbench in a JupyterLab page."""

    page: Page
    lab: LabServer
    shots: Screenshots

    # ------------------------------------------------------------ opening
    def open(self, notebook: str) -> None:
        """Open ``notebook``, run it, and wait until the page says it is ready."""
        lab_page = LabPage(self.page, self.lab, notebook)
        lab_page.open()
        lab_page.run_all_cells(timeout_ms=READY_MS)
        expect(self.status_line).to_contain_text("ready", timeout=READY_MS)

    # ------------------------------------------------------------ what is on the page
    @property
    def workbench(self) -> Locator:
        return self.page.locator(".bk-workbench")

    @property
    def status_line(self) -> Locator:
        return self.page.locator(".bk-status-line")

    @property
    def table(self) -> Locator:
        return self.page.locator(".bk-file-table")

    @property
    def overview(self) -> Locator:
        return self.page.locator(".bk-overview")

    def row(self, name: str) -> Locator:
        return self.table.locator("tbody tr", has_text=name)

    def button(self, css: str) -> Locator:
        return self.page.locator(f"button.{css}")

    def reason(self, css: str) -> Locator:
        return self.page.locator(f".{css}-reason")

    def notices(self, place: str) -> Locator:
        return self.page.locator(f".bk-notices-{place}")

    def bar(self) -> dict[str, str]:
        """The overall bar's ARIA values, as a screen reader gets them."""
        bar = self.overview.locator("[role=progressbar]")
        names = ("aria-valuenow", "aria-valuemax", "aria-valuetext")
        return {name: str(bar.get_attribute(name)) for name in names}

    def counts(self) -> dict[str, int]:
        """The counts under the bar, in words: completed, failed, running, waiting."""
        text = self.overview.locator(".bk-overall-counts").inner_text()
        return {word: int(number) for number, word in re.findall(r"(\d+) (\w+)", text)}

    def segments(self) -> dict[str, float]:
        """The bar's coloured segments and their widths (percent of the bar)."""
        widths: dict[str, float] = self.overview.evaluate(
            """(el) => { const bar = el.querySelector('.bk-overall-bar');
              const whole = bar.getBoundingClientRect().width; const out = {};
              for (const s of bar.querySelectorAll('.bk-seg')) {
                out[s.className.replace('bk-seg bk-seg-', '')] =
                  Math.round(100 * s.getBoundingClientRect().width / whole); }
              return out; }"""
        )
        return widths

    def statuses(self) -> list[str]:
        cells = self.table.locator("tbody tr td[data-label=Status] .bk-status")
        return [text.split(" ", 1)[-1] for text in cells.all_inner_texts()]

    def overflow(self) -> list[str]:
        found: list[str] = self.page.evaluate(OVERFLOW)
        return found

    def focused(self) -> dict[str, Any]:
        found: dict[str, Any] = self.page.evaluate(FOCUSED)
        return found

    # ------------------------------------------------------------ doing
    def choose_by_dialog(self, files: Sequence[Path], *, keyboard: bool = False) -> None:
        """Open the file dialog with "Choose files…" (clicked, or Enter on it) and pick."""
        choose = self.button("bk-choose-files")
        with self.page.expect_file_chooser() as chooser:
            if keyboard:
                choose.focus()
                self.page.keyboard.press("Enter")
            else:
                choose.click()
        chooser.value.set_files([str(path) for path in files])

    def drop(self, name: str, text: str) -> None:
        """Drop a file on the drop zone: a real DataTransfer, built in the page."""
        transfer: JSHandle = self.page.evaluate_handle(
            """([name, text]) => {
                const transfer = new DataTransfer();
                transfer.items.add(new File([text], name, {type: 'text/plain'}));
                return transfer;
            }""",
            [name, text],
        )
        zone = self.page.locator(".bk-drop-zone")
        for event in ("dragenter", "dragover", "drop"):
            zone.dispatch_event(event, {"dataTransfer": transfer})

    def wait_accepted(self, names: Sequence[str]) -> None:
        for name in names:
            expect(self.row(name)).to_have_class(re.compile(r"\bbk-row-check-accepted\b"))

    def open_settings(self) -> None:
        toggle = self.page.locator(".bk-settings-toggle button")
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(self.page.locator(".bk-config-form")).to_be_visible()

    def wait_done(self) -> None:
        expect(self.overview.locator(".bk-final-line")).to_be_visible(timeout=RUN_MS)
        expect(self.status_line).to_contain_text("done", timeout=RUN_MS)

    def dark_theme(self) -> None:
        """Settings > Theme > JupyterLab Dark, from the menu bar."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
        self.page.locator(".lm-Menu-item:visible", has_text="Theme").first.hover()
        self.page.locator(".lm-Menu-item:visible", has_text="JupyterLab Dark").first.click()
        expect(self.page.locator("body")).to_have_attribute("data-jp-theme-light", "false")

    def widths(self, width: int, *, file_browser: bool) -> None:
        """Resize the window to ``width``, with Lab's file browser open beside the notebook or
        closed (Ctrl+B toggles the left sidebar)."""
        if self.page.locator(".jp-FileBrowser").is_visible() != file_browser:
            self.page.keyboard.press("Control+b")  # Lab's "show left sidebar", from anywhere
        expect(self.page.locator(".jp-FileBrowser")).to_be_visible(visible=file_browser)
        self.page.set_viewport_size({"width": width, "height": 1000})
        expect(self.workbench).to_be_visible()
