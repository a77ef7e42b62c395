"""Fixtures of the workbench and analysis tests: the real reference server, real runs, real files.

The runs the analysis tests study are made once per test session by ``BatchSession`` against the
embedded reference server (pace 0, the four sample documents plus deliberately bad files) and
saved to disk, so each test reads a real run, live or saved, in milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import matplotlib
import pytest

from batchkit.config import BatchConfig
from batchkit.samples import sample_paths
from batchkit.server.launcher import EmbeddedServer, start_embedded_server
from batchkit.workbench import Workbench
from workbench.made_runs import USERS, MadeRun, bad_files, make_run
from workbench.page_reading import open_workbench

matplotlib.use("Agg")  # no display here; the plots must work without one


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    data = tmp_path_factory.mktemp("server")
    with start_embedded_server(data_dir=data, users=USERS, workers=2, seed=11) as running:
        yield running


@pytest.fixture(scope="session")
def failing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """Every audio step fails: a deterministic way to get failed files from the real server."""
    data = tmp_path_factory.mktemp("failing-server")
    with start_embedded_server(
        data_dir=data, users=USERS, workers=2, fail_rates={"audio": 1.0}, seed=3
    ) as running:
        yield running


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def completed_run(server: EmbeddedServer, runs_root: Path) -> MadeRun:
    """The four sample documents, every step, all completed."""
    return asyncio.run(make_run(server, runs_root / "ok", sample_paths(), BatchConfig()))


@pytest.fixture(scope="session")
def failed_run(
    failing_server: EmbeddedServer, runs_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> MadeRun:
    """Two samples that fail at audio, and two bad files rejected before upload."""
    documents = [*sample_paths()[:2], *bad_files(tmp_path_factory.mktemp("bad"))]
    return asyncio.run(make_run(failing_server, runs_root / "failed", documents, BatchConfig()))


@pytest.fixture
async def wb(server: EmbeddedServer, tmp_path: Path) -> AsyncIterator[Workbench]:
    workbench = await open_workbench(server, tmp_path)
    yield workbench
    await workbench.close()


@pytest.fixture
def paced_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """Slow enough that a batch is still running when the test presses a button."""
    with start_embedded_server(data_dir=tmp_path / "paced", users=USERS, pace=0.3) as running:
        yield running
