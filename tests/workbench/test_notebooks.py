"""The notebooks as files: valid, stripped, and run by ``python -m pytest`` through nbval.

nbval itself executes them (``--nbval-lax`` in pyproject.toml, ``batchkit/notebooks`` in
testpaths, their kernels' environment set by the root conftest.py); these tests keep the files
honest. They are the package's own notebooks, the only copies.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "batchkit" / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_batch_workbench.ipynb", "02_batch_tuning.ipynb", "03_run_analysis.ipynb",
    ]  # fmt: skip


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_valid_and_stripped(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: outputs must be stripped"
            assert cell.execution_count is None, f"{path.name}: no execution counts"
    assert "widgets" not in notebook.metadata  # no saved widget state (it could hold bytes)


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda p: p.name)
def test_the_analysis_notebooks_stop_their_server_at_the_end(path: Path) -> None:
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert code[-1].startswith("await service.aclose()")


def test_the_workbench_notebook_stays_open_for_the_user() -> None:
    # Run All must leave a working page (the browser tests then use it): no close at the end;
    # the embedded server stops with the kernel.
    source = "\n".join(c.source for c in nbformat.read(NOTEBOOKS[0], as_version=4).cells)
    assert "await Workbench.open(" in source
    assert "wb.add_files(sample_paths())" in source
    assert "await wb.close()" not in [c.strip() for c in source.splitlines()]


def test_pytest_runs_the_notebooks_through_nbval() -> None:
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]
    ini = options["ini_options"]
    assert "batchkit/notebooks" in ini["testpaths"]
    assert "--nbval-lax" in ini["addopts"].split()
    assert "--nbval-current-env" in ini["addopts"].split()
    assert (REPO / "conftest.py").exists()
