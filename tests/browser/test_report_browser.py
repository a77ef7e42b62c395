"""The run report opened as its reader would: a file in headless Chromium, with no network.

The runs are a two-point tuning grid on the real reference server (one file failing its audio
step on purpose, see ``analysis.tuned_runs``), their media fetched over HTTP and kept next to the
runs, one cell marked; and a run of a document whose name is an HTML attack. Each report is
opened from disk in a browser context that is offline and whose every request is recorded and
refused: every picture and clip must load from the file itself, and nothing may leave the page.
Screenshots go to ``test-artifacts/browser/<test name>/``.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from analysis.tuned_runs import USERS, TunedRuns, make_tuned_runs, seed_failing_once
from playwright.sync_api import Browser, Page, Route

from batchkit.analysis import open_matrix, report
from batchkit.client import StoryClient
from batchkit.config import BatchConfig
from batchkit.samples import sample_paths
from batchkit.server.launcher import EmbeddedServer, start_embedded_server
from batchkit.session import BatchSession

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
HOSTILE = "\"><img src=x onerror=alert(1)><b>bold & 'quoted'.txt"  # a file name: no "/"
NOTE = "<script>alert('note')</script> crisp pictures"
LOAD_MS = 30_000


@dataclass(frozen=True, slots=True)
class ReportRuns:
    tuned: TunedRuns
    hostile: Path
    """The folder of a run whose one document is named :data:`HOSTILE`."""


@pytest.fixture(scope="module")
def report_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    data = tmp_path_factory.mktemp("report-server")
    seed = seed_failing_once()
    with start_embedded_server(data_dir=data, users=USERS, workers=2, seed=seed) as running:
        yield running


async def _make(server: EmbeddedServer, root: Path) -> ReportRuns:
    tuned = await make_tuned_runs(server, root / "tuning", sample_paths())
    named = root / "documents" / HOSTILE
    named.parent.mkdir(parents=True)
    shutil.copy(sample_paths()[0], named)
    username, password = next(iter(USERS.items()))
    async with StoryClient(server.url, username=username, password=password, env={}) as client:
        session = BatchSession(client, runs_dir=root / "hostile")
        await session.run_batch([named], BatchConfig())
        assert session.run_dir is not None
        matrix = await open_matrix(tuned.folders, client, tuned.grid)
        await open_matrix([session.run_dir], client)
    failing = matrix.filtered(only_failures=True).documents[0]
    matrix.mark(failing, matrix.columns[1].key, "worse", NOTE)
    return ReportRuns(tuned, session.run_dir)


@pytest.fixture(scope="module")
def runs(report_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory) -> ReportRuns:
    # Playwright's sync API keeps an event loop running in this thread: make them in another.
    folder = tmp_path_factory.mktemp("report-runs")
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, _make(report_server, folder)).result()


@dataclass
class Opened:
    page: Page
    refused: list[str]
    """Requests for anything but a local file: refused."""
    local: list[str]
    """Local files read besides the report itself (linked media)."""
    dialogs: list[str]
    errors: list[str]


def _open(browser: Browser, path: Path) -> Opened:
    """``path`` in a fresh offline context; every request is recorded, and all but those for
    local files refused (``data:`` URIs are the page itself and never make a request)."""
    ctx = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
    opened = Opened(ctx.new_page(), [], [], [], [])
    itself = path.resolve().as_uri()

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith("file:"):
            if url != itself:
                opened.local.append(url)
            route.continue_()
        else:
            opened.refused.append(url)
            route.abort()

    ctx.route("**/*", guard)
    page = opened.page
    page.on("dialog", lambda dialog: (opened.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    page.goto(itself, wait_until="load")
    return opened


EVERYTHING_LOADED = """() => {
  const images = [...document.images];
  const players = [...document.querySelectorAll('audio')];
  const broken = players.find(a => a.error);
  if (broken) return 'an audio element failed: ' + broken.error.message;
  const done = images.every(i => i.complete) && players.every(a => a.readyState >= 1);
  return done ? 'loaded' : false;
}"""


def _loaded(opened: Opened) -> dict[str, int]:
    page = opened.page
    state = page.wait_for_function(EVERYTHING_LOADED, timeout=LOAD_MS).json_value()
    assert state == "loaded", state
    counts: dict[str, int] = page.evaluate(
        """() => ({
          images: document.images.length,
          broken: [...document.images].filter(i => i.naturalWidth === 0).length,
          players: document.querySelectorAll('audio').length,
          silent: [...document.querySelectorAll('audio')].filter(a => !(a.duration > 0)).length,
        })"""
    )
    return counts


def _artifacts(name: str) -> Path:
    folder = ARTIFACTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def test_the_report_opens_offline_with_every_picture_and_clip(
    browser: Browser, runs: ReportRuns, tmp_path: Path
) -> None:
    path = report(runs.tuned.folders, tmp_path / "report.html", grid=runs.tuned.grid)
    size = path.stat().st_size
    opened = _open(browser, path)
    counts = _loaded(opened)
    folder = _artifacts("test_the_report_opens_offline_with_every_picture_and_clip")
    opened.page.screenshot(path=folder / "report.png", full_page=True)
    opened.page.locator("#matrix").screenshot(path=folder / "matrix-section.png")
    assert opened.refused == []
    assert opened.local == []
    assert opened.errors == []
    assert opened.dialogs == []
    assert counts["broken"] == 0
    assert counts["silent"] == 0
    pictures = sum(len(c.media.images) for c in _cells(runs.tuned) if c.media)
    plots = 2 + 2 * 2  # two comparison plots, and a timeline and durations per run
    assert counts["images"] == pictures + plots
    assert counts["players"] == 7  # every file's merged audio, but the one that failed
    text = opened.page.inner_text("body")
    expected = ("Versions", "batchkit", runs.tuned.url, "Run realistic", "Run comic",
                "injected fault", "crisp pictures", "Each file and each of its steps")  # fmt: skip
    for words in expected:
        assert words in text, words
    assert NOTE in text  # the note is shown as the text it is, and ran nothing
    # Filters work without a script (the report has none): only the failing document stays.
    assert opened.page.locator("script").count() == 0
    opened.page.get_by_label("only documents that failed somewhere").check()
    assert opened.page.locator(".bk-mx-row:visible").count() == 1
    opened.page.screenshot(path=folder / "only-failures.png")
    # From 320 px the page never scrolls sideways (wide tables scroll in their own regions), and
    # a reader whose system is dark gets it dark.
    opened.page.set_viewport_size({"width": 320, "height": 900})
    opened.page.emulate_media(color_scheme="dark")
    assert opened.page.evaluate("document.documentElement.scrollWidth") <= 320
    background = opened.page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(22, 24, 28)", background
    opened.page.screenshot(path=folder / "report-320px-dark.png")
    # Two runs of the four samples, media embedded and made small: about a megabyte a run.
    assert 200_000 < size < 4_000_000, size


def _cells(tuned: TunedRuns) -> list:  # type: ignore[type-arg]
    from batchkit.analysis import comparison_matrix

    return list(comparison_matrix(tuned.folders).cells.values())


def test_a_hostile_file_name_is_only_text(
    browser: Browser, runs: ReportRuns, tmp_path: Path
) -> None:
    path = report([runs.hostile], tmp_path / "hostile.html")
    page_text = path.read_text(encoding="utf-8")
    assert "<img src=x" not in page_text
    assert "<b>bold" not in page_text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page_text
    opened = _open(browser, path)
    _loaded(opened)
    assert opened.dialogs == []
    assert opened.refused == []
    assert opened.page.locator("img[src='x'], b").count() == 0
    assert HOSTILE in opened.page.inner_text("body")


def test_the_media_cap_and_the_other_media_modes(
    browser: Browser, runs: ReportRuns, tmp_path: Path
) -> None:
    one_run = [runs.tuned.folders["realistic"]]  # the four sample documents
    whole = report(one_run, tmp_path / "embed.html").stat().st_size
    capped = report(one_run, tmp_path / "capped.html", max_media_mb=0.3)
    none = report(one_run, tmp_path / "none.html", media="none")
    linked = report(one_run, tmp_path / "linked.html", media="link")
    capped_text = capped.read_text(encoding="utf-8")
    assert "the report&#x27;s media cap (0.3 MB) was reached" in capped_text
    assert capped.stat().st_size < whole
    assert none.stat().st_size < 400_000 < whole < 2_500_000
    assert "data:audio" not in none.read_text(encoding="utf-8")
    linked_text = linked.read_text(encoding="utf-8")
    assert "data:audio" not in linked_text
    assert re.search(r'src="[^"]*media/[^"]+\.wav"', linked_text)
    opened = _open(browser, linked)  # the links reach the files kept next to the run
    counts = _loaded(opened)
    assert counts["broken"] == 0
    assert counts["silent"] == 0
    assert counts["players"] == 4
    assert opened.refused == []
    assert len(opened.local) == counts["players"] + counts["images"] - 2  # but for the plots
