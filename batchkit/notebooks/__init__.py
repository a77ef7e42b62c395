"""The notebooks batchkit ships: the workbench, the tuning grid and the run analysis.

This folder holds the one copy of each. They are package data, so a wheel and an editable
install find them the same way; the test run executes these very files (nbval), and
``batchkit lab`` and ``batchkit app`` copy them into the folder they are started in.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final

__all__ = ["NOTEBOOKS", "WORKBENCH", "bundled", "provide"]

WORKBENCH: Final = "01_batch_workbench.ipynb"
NOTEBOOKS: Final = (WORKBENCH, "02_batch_tuning.ipynb", "03_run_analysis.ipynb")
"""Their file names, in the order a user reads them (the workbench refers to the other two)."""


def bundled(name: str) -> Traversable:
    """The shipped notebook called ``name`` (one of :data:`NOTEBOOKS`)."""
    if name not in NOTEBOOKS:
        raise ValueError(f"batchkit ships no notebook named {name!r}")
    return resources.files(__name__) / name


def provide(folder: Path) -> list[Path]:
    """Copy every shipped notebook that ``folder`` lacks into it; return the ones written.

    A notebook already there is the user's own (maybe edited, maybe with outputs) and is never
    overwritten; the copies are written as shipped, without outputs.
    """
    written: list[Path] = []
    for name in NOTEBOOKS:
        target = folder / name
        try:
            with target.open("xb") as handle:  # "x": an existing file is left alone
                handle.write(bundled(name).read_bytes())
        except FileExistsError:
            continue
        written.append(target)
    return written
