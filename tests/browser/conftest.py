"""Fixtures of the browser tests: a Story API, a JupyterLab, headless Chromium and a page.

* ``story_server``: the real reference server on loopback, with a known random password, handed
  to the notebook's kernel through ``BATCHKIT_URL``/``BATCHKIT_USERNAME``/``BATCHKIT_PASSWORD``
  (so the test can look for that password where it must never be: the saved notebook).
* ``lab``: one JupyterLab per test module, serving a temporary copy of batchkit's notebooks.
* ``browser``: Debian's Chromium through Playwright's sync API (the tests are plain functions:
  pytest-asyncio runs no event loop around them).
* ``page``: a fresh browser context per test; a screenshot and the browser console are kept in
  ``test-artifacts/browser/<test>/`` when the test ends, passed or failed.

Without Chromium the tests skip on a developer machine, and fail when ``CI=true``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, expect, sync_playwright

from batchkit.server.launcher import EmbeddedServer, start_embedded_server
from browser.lab_page import Screenshots
from browser.lab_server import LabServer, start_lab, stop_lab

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
# Playwright gives every launch a fresh temporary profile (it refuses --user-data-dir in args).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1100}
STORY_USER = "browser-tester"
FAULT_SEED = 1
"""With this seed the first three draws are 0.13, 0.85 and 0.76: at a fail rate of 0.5, exactly
one of three files fails the step, whichever file it is."""

REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
# What the page shows may wait on the kernel, on two cores shared with other work: the
# expectations wait up to 20 s (each still returns the moment its condition holds).
expect.set_options(timeout=20_000)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, so fixtures know at teardown whether it failed."""
    report: pytest.TestReport = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's Chromium (or ``$BATCHKIT_CHROMIUM``). Missing: skip locally, fail in CI."""
    found = os.environ.get("BATCHKIT_CHROMIUM") or shutil.which("chromium")
    if found and Path(found).exists():
        return found
    message = (
        "Chromium not found (looked for $BATCHKIT_CHROMIUM, then `chromium` on PATH); "
        "install it with `apt-get install chromium fonts-dejavu-core`"
    )
    if in_ci():
        pytest.fail(f"CI=true and the browser tests cannot run: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def story_server(
    tmp_path_factory: pytest.TempPathFactory, chromium_executable: str
) -> Iterator[EmbeddedServer]:
    """The real reference Story API the notebook's kernel talks to."""
    users = {STORY_USER: secrets.token_urlsafe(18)}
    folder = tmp_path_factory.mktemp("story-server")
    # A fixed seed: a test that injects failures knows how many files fail (its draws are the
    # only ones: the server draws only while a fail rate is set).
    with start_embedded_server(data_dir=folder, users=users, workers=2, seed=FAULT_SEED) as server:
        yield server


@pytest.fixture(scope="module")
def lab(
    tmp_path_factory: pytest.TempPathFactory, story_server: EmbeddedServer
) -> Iterator[LabServer]:
    """JupyterLab on a free port, serving a temporary copy of batchkit's notebooks."""
    root = tmp_path_factory.mktemp("lab-root")
    for notebook in (REPO / "batchkit" / "notebooks").glob("*.ipynb"):
        shutil.copy2(notebook, root / notebook.name)
    credentials = story_server.credentials
    kernel_env = {
        "BATCHKIT_URL": story_server.url,
        "BATCHKIT_USERNAME": credentials.username,
        "BATCHKIT_PASSWORD": credentials.password,
    }
    token = secrets.token_hex(24)
    home = tmp_path_factory.mktemp("jupyter-home")
    running = start_lab(root, home, token, kernel_env)
    try:
        yield running
    finally:
        stop_lab(running)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        log = running.log.read_text(errors="replace").replace(token, "<token>")
        (ARTIFACTS / "jupyterlab.log").write_text(log)


@pytest.fixture(scope="module")
def browser(chromium_executable: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, lab: LabServer, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh context and page; at its end a screenshot (``end``/``failure``) and the console."""
    folder = _artifacts_folder(request.node.name, fresh=True)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    opened = context.new_page()
    console: list[str] = []
    opened.on("console", lambda message: console.append(_console_line(message)))
    opened.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    try:
        yield opened
    finally:
        reports = request.node.stash.get(REPORTS, {})
        failed = any(report.failed for report in reports.values())
        try:
            opened.screenshot(
                path=folder / ("failure.png" if failed else "end.png"), timeout=15_000
            )
        except Error as error:  # a hung page must not hide the test's own failure
            console.append(f"final screenshot failed: {error}")
        text = "\n".join(console).replace(lab.token, "<token>")
        (folder / "console.log").write_text(text + "\n")
        context.close()


@pytest.fixture
def page_errors(page: Page) -> list[str]:
    """Uncaught exceptions in the page's JavaScript (a widget's front end failing), as text."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.fixture
def screenshots(page: Page, request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(_artifacts_folder(request.node.name), page)


def _artifacts_folder(test_name: str, *, fresh: bool = False) -> Path:
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name)
    if fresh:  # no screenshot of an earlier run may pass for this one's
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _console_line(message: ConsoleMessage) -> str:
    return f"{message.type}: {message.text}"
