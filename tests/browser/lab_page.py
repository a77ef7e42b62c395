"""Driving JupyterLab as a user would: open a notebook, wait for its kernel, run it, save it.

Every wait is a Playwright condition with an explicit timeout, never a fixed sleep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from playwright.sync_api import Locator, Page, expect

from browser.lab_server import KERNEL_DISPLAY_NAME, LabServer

OPEN_TIMEOUT_MS = 60_000
DIRTY = re.compile(r"\bjp-mod-dirty\b")
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception)\b", re.M)
KERNEL_TIMEOUT_MS = 60_000
IDLE_KERNEL = re.compile(rf"^{re.escape(KERNEL_DISPLAY_NAME)} \| Idle$")

# "ran" once every code cell of the current notebook shows an execution count (none waits as
# `[ ]` or runs as `[*]`), "failed" as soon as a cell shows a traceback, else false (keep waiting).
RUN_STATE = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return false;
  const stderr = panel.querySelectorAll('.jp-OutputArea-output[data-mime-type$="stderr"]');
  const traceback = /Traceback \\(most recent call last\\)|^\\w*(Error|Exception)\\b/m;
  if ([...stderr].some(o => traceback.test(o.textContent))) return 'failed';
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
  const ran = prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
  return ran ? 'ran' : false;
}"""


@dataclass(frozen=True, slots=True)
class LabPage:
    """A Playwright page showing one notebook in JupyterLab."""

    page: Page
    lab: LabServer
    notebook: str

    @property
    def panel(self) -> Locator:
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    def open(self) -> None:
        """Open the notebook in a fresh workspace and wait until its kernel is idle."""
        self.page.goto(self.lab.workspace_url(self.notebook), wait_until="domcontentloaded")
        expect(self.panel.locator(".jp-Notebook")).to_be_visible(timeout=OPEN_TIMEOUT_MS)
        self.wait_until_idle()

    def wait_until_idle(self, timeout_ms: float = KERNEL_TIMEOUT_MS) -> None:
        """The status bar reads "Python 3 (ipykernel) | Idle" for this notebook: its kernel has
        started, is connected and is not busy. (The toolbar's indicator alone is no proof: it
        says idle while the status bar still says "No Kernel | Initializing".)"""
        name = PurePosixPath(self.notebook).name
        status = self.page.locator(
            f'#jp-main-statusbar .jp-StatusBar-TextItem[title="Change kernel for {name}"]'
        )
        expect(status).to_have_text(IDLE_KERNEL, timeout=timeout_ms)

    def run_all_cells(self, timeout_ms: float) -> None:
        """Run > Run All Cells from the menu bar, then wait until every code cell has run."""
        self.panel.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        self.page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first.click()
        state = self.page.wait_for_function(RUN_STATE, timeout=timeout_ms, polling=250)
        if state.json_value() == "failed":
            raise AssertionError("a cell failed:\n" + "\n".join(self.tracebacks()))
        self.wait_until_idle(timeout_ms)

    def tracebacks(self) -> list[str]:
        """Texts of the stderr outputs that hold a traceback (an exception in a cell)."""
        stderr = self.panel.locator('.jp-OutputArea-output[data-mime-type$="stderr"]')
        return [text for text in stderr.all_inner_texts() if TRACEBACK.search(text)]

    def save(self, timeout_ms: float = 20_000) -> None:
        """Ctrl+S on the notebook with unsaved changes; return once its tab is marked saved.

        Autosave is off (see ``lab_server``), so the mark going away is this save's doing."""
        tab = self.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current")
        expect(tab).to_have_class(DIRTY)
        self.panel.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
        self.page.keyboard.press("Control+s")
        expect(tab).not_to_have_class(DIRTY, timeout=timeout_ms)


@dataclass
class Screenshots:
    """Numbered screenshots of one test, in its own artifacts folder."""

    folder: Path
    page: Page
    taken: list[Path] = field(default_factory=list)

    def take(self, stage: str, focus: Locator | None = None) -> Path:
        """Screenshot the page, first scrolling ``focus`` (what this stage is about) into view."""
        if focus is not None:
            focus.scroll_into_view_if_needed(timeout=10_000)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stage)
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        self.page.screenshot(path=path, timeout=15_000)
        self.taken.append(path)
        return path
