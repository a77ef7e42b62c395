"""How fast the workbench page appears and becomes ready, in a fresh kernel and in a browser.

    python -m benchmarks.page_open [--quick] [--json]

Two measurements, each against a baseline from the same run:

* in a fresh Python process (with IPython and asyncio loaded, as in a kernel), the first cell
  of ``notebooks/01_batch_workbench.ipynb`` on the embedded server: the seconds from the cell's
  first line to ``Workbench.open()`` returning (the page exists, to be shown), and to
  ``ready()`` (logged in: a batch can start). Baselines: importing ipywidgets and making one
  HTML widget (the least any page costs), and ``open_service()`` alone (starting the embedded
  server and logging in, which the page cannot skip);
* in JupyterLab in headless Chromium (the browser tests' launcher), a notebook of that first
  cell, each sample in a new kernel: from pressing Run to the page painted (``.bk-workbench``
  in the document) and to its status line saying "ready". Baseline: a cell showing one
  ``widgets.HTML``, the same way, in the same Lab.

Goals (issue 11): shown within 1 s of the cell running, ready within 2.5 s. Figures from a
machine other people are using are noisy: the medians are reported, with every sample.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.report import Row, at_most, main

__all__ = ["run"]

ROOT = Path(__file__).resolve().parent.parent
SHOWN_GOAL_S = 1.0
READY_GOAL_S = 2.5
PAGE_CELL = (
    "import os\n"
    "from pathlib import Path\n"
    "from batchkit.workbench import Workbench\n"
    'wb = await Workbench.open(runs_dir=Path(os.environ["BATCHKIT_RUNS_DIR"]) / "workbench")\n'
    "wb"
)
BARE_CELL = "import ipywidgets as widgets\nwidgets.HTML(\"<p class='bk-bare'>ready</p>\")"

# ---------------------------------------------------------------- in a fresh process
_IN_PROCESS = """
import asyncio, json, os, sys, time
import IPython  # a kernel has it loaded before any cell runs
started = time.perf_counter()
async def main():
    mode = sys.argv[1]
    if mode == "page":
        from batchkit.workbench import Workbench
        wb = await Workbench.open()
        shown = time.perf_counter() - started
        await wb.ready()
        ready = time.perf_counter() - started
        await wb.close()
    elif mode == "bare":
        import ipywidgets as widgets
        widgets.HTML("<p>ready</p>")
        shown = ready = time.perf_counter() - started
    else:
        from batchkit.session import open_service
        service = await open_service(pace=0.0)
        shown = ready = time.perf_counter() - started
        await service.aclose()
    print(json.dumps({"shown": shown, "ready": ready}))
asyncio.run(main())
"""


def in_process(mode: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHKIT_")}
    env.update(BATCHKIT_PACE="0", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS, mode],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- in a browser
_WATCH = """() => {
  window.__bk = {};
  const see = () => {
    const now = performance.now();
    if (!__bk.painted && document.querySelector('.bk-workbench, .bk-bare')) __bk.painted = now;
    const status = document.querySelector('.bk-status-line');
    if (!__bk.ready && ((status && /ready/.test(status.textContent)) ||
        document.querySelector('.bk-bare'))) __bk.ready = now;
  };
  new MutationObserver(see).observe(document.body, {subtree: true, childList: true,
                                                    characterData: true});
  return performance.now();
}"""


def _notebook(folder: Path, name: str, cell: str) -> str:
    notebook = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
             "source": cell}
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                    "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    (folder / name).write_text(json.dumps(notebook), encoding="utf-8")
    return name


@contextmanager
def _lab(folder: Path) -> Iterator[Any]:
    sys.path.insert(0, str(ROOT / "tests"))  # the browser tests' Lab launcher and page driver
    from browser.lab_server import start_lab, stop_lab

    root, home = folder / "root", folder / "home"
    root.mkdir()
    home.mkdir()
    _notebook(root, "page.ipynb", PAGE_CELL)
    _notebook(root, "bare.ipynb", BARE_CELL)
    env = {"BATCHKIT_PACE": "0", "BATCHKIT_RUNS_DIR": str(folder / "runs")}
    lab = start_lab(root, home, secrets.token_hex(16), env)
    try:
        yield lab
    finally:
        stop_lab(lab)


def _sample(browser: Any, lab: Any, notebook: str) -> dict[str, float]:
    """One run of ``notebook`` in a new page (so a new kernel): seconds to paint and ready."""
    from browser.lab_page import LabPage
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        lab_page = LabPage(page, lab, notebook)
        lab_page.open()
        lab_page.panel.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        item = page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first
        item.wait_for()
        pressed = page.evaluate(_WATCH)
        item.click()
        page.wait_for_function("window.__bk.ready !== undefined", timeout=120_000, polling=50)
        times: dict[str, float] = page.evaluate("window.__bk")
        expect(page.locator(".bk-workbench, .bk-bare")).to_be_visible()
        return {key: (value - pressed) / 1000 for key, value in times.items()}
    finally:
        page.close()


def in_browser(samples: int) -> dict[str, list[dict[str, float]]]:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("BATCHKIT_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        raise RuntimeError("Chromium not found (apt-get install chromium)")
    found: dict[str, list[dict[str, float]]] = {"page.ipynb": [], "bare.ipynb": []}
    with (
        tempfile.TemporaryDirectory(prefix="batchkit-open-") as folder,
        _lab(Path(folder)) as lab,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )  # fmt: skip
        try:
            for _ in range(samples):  # alternating: the same load on both sides
                for notebook in found:
                    found[notebook].append(_sample(browser, lab, notebook))
        finally:
            browser.close()
    return found


# ---------------------------------------------------------------- the rows
def _median(samples: list[dict[str, float]], key: str) -> float:
    return statistics.median(sample[key] for sample in samples)


def _listed(samples: list[dict[str, float]], key: str) -> str:
    return ", ".join(f"{sample[key]:.2f}" for sample in samples)


def _rows(label: str, measure: Callable[[str], list[dict[str, float]]]) -> list[Row]:
    page, bare, service = measure("page"), measure("bare"), measure("service")
    shown, ready = _median(page, "shown"), _median(page, "ready")
    return [
        Row(
            f"7 page, {label}: cell start → page built (Workbench.open returns)",
            shown, "s", baseline=_median(bare, "shown"),
            baseline_label="ipywidgets + one HTML widget", goal=f"≤ {SHOWN_GOAL_S:g} s",
            met=at_most(shown, SHOWN_GOAL_S), note=f"samples {_listed(page, 'shown')} s",
            remedy="most of it is importing batchkit.contract (pydantic models of the whole "
            "contract, ~0.5 s): a lighter import of the page's parts would cut it.",
        ),
        Row(
            f"7 page, {label}: cell start → ready to start a batch (embedded server)",
            ready, "s", baseline=_median(service, "ready"),
            baseline_label="open_service() alone: server start + login",
            goal=f"≤ {READY_GOAL_S:g} s", met=at_most(ready, READY_GOAL_S),
            note=f"samples {_listed(page, 'ready')} s",
            remedy="the embedded server's start (FastAPI, engines) is most of it: see the "
            "baseline, which the page cannot go below.",
        ),
    ]  # fmt: skip


def run(quick: bool) -> list[Row]:
    repeat = 1 if quick else 5
    rows = _rows("fresh process", lambda mode: [in_process(mode) for _ in range(repeat)])
    browser = in_browser(1 if quick else 3)
    page, bare = browser["page.ipynb"], browser["bare.ipynb"]
    painted, ready = _median(page, "painted"), _median(page, "ready")
    rows += [
        Row(
            "7 page, JupyterLab + Chromium: Run pressed → page painted",
            painted, "s", baseline=_median(bare, "painted"),
            baseline_label="a cell showing one widgets.HTML", goal=f"≤ {SHOWN_GOAL_S:g} s",
            met=at_most(painted, SHOWN_GOAL_S),
            note=f"samples {_listed(page, 'painted')} s; baseline {_listed(bare, 'painted')} s",
            remedy="the baseline is Lab's own cost of running a cell and drawing a widget "
            "on this machine; the rest is importing and building the page.",
        ),
        Row(
            "7 page, JupyterLab + Chromium: Run pressed → status says ready",
            ready, "s", goal=f"≤ {READY_GOAL_S:g} s", met=at_most(ready, READY_GOAL_S),
            note=f"samples {_listed(page, 'ready')} s",
            remedy="the embedded server's start in the kernel (see the fresh-process rows).",
        ),
    ]  # fmt: skip
    return rows


if __name__ == "__main__":
    raise SystemExit(main(run, __doc__))
