"""The benchmarks import and follow their convention, so they do not rot between runs.

They are run on demand (``python -m benchmarks``), never here: this only imports them.
"""

from __future__ import annotations

import importlib
import inspect
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = sorted(
    path.stem for path in (ROOT / "benchmarks").glob("*.py") if not path.stem.startswith("_")
)
SHARED = {"report", "reference", "run_all", "side_by_side", "socket_clients", "started_run"}
"""Modules the benchmarks share; the others are benchmarks."""


@pytest.fixture(autouse=True)
def importable_from_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_module_imports_and_benchmarks_expose_run_quick(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    if name in SHARED:
        return
    assert list(inspect.signature(module.run).parameters) == ["quick"]
    assert module.__doc__, "the docstring says what is measured against what"


def test_the_runner_runs_every_benchmark_and_pytest_runs_none() -> None:
    run_all = importlib.import_module("benchmarks.run_all")
    assert set(BENCHMARKS) - SHARED <= set(run_all.MODULES)
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    collected = settings["tool"]["pytest"]["ini_options"]["testpaths"]
    assert "tests" in collected
    assert not any(path.startswith("benchmarks") for path in collected)
