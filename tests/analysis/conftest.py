"""Fixtures of the matrix and report tests: a real reference server and a tuning grid run on it.

The grid's runs are made once per test session (see ``tuned_runs``) and saved under a session
folder; tests that write into the runs' folders (media, marks) work on their own copies.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import pytest

from analysis.tuned_runs import USERS, TunedRuns, make_tuned_runs, seed_failing_once
from batchkit.samples import sample_paths
from batchkit.server.launcher import EmbeddedServer, start_embedded_server

matplotlib.use("Agg")  # no display here; the plots must work without one


@pytest.fixture(scope="session")
def tuning_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    data = tmp_path_factory.mktemp("tuning-server")
    seed = seed_failing_once()
    with start_embedded_server(data_dir=data, users=USERS, workers=2, seed=seed) as running:
        yield running


@pytest.fixture(scope="session")
def tuned_once(
    tuning_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory
) -> TunedRuns:
    """The grid's runs as made, never written to by a test."""
    folder = tmp_path_factory.mktemp("tuned-runs")
    return asyncio.run(make_tuned_runs(tuning_server, folder, sample_paths()))


@pytest.fixture
def tuned(tuned_once: TunedRuns, tmp_path: Path) -> TunedRuns:
    """A copy of the grid's run folders for one test (media and marks go into it)."""
    folders = {}
    for label, folder in tuned_once.folders.items():
        copy = tmp_path / "runs" / folder.name
        shutil.copytree(folder, copy)
        folders[label] = copy
    return TunedRuns(tuned_once.grid, dict(tuned_once.runs), folders, tuned_once.url)
