"""Running batchkit's notebooks (``batchkit/notebooks/``: the one copy of each, which the package
ships and ``batchkit lab`` hands out) under nbval (``--nbval-lax``, set in pyproject.toml) as a
user would, but leaving nothing behind in the repository. This conftest sits at the root so that
it covers them without being shipped inside the package.

Before the first notebook's kernel starts, its environment is set: the runs the notebooks save
(and the embedded server's data) go to a temporary folder removed at the end of the session,
the embedded server does not pace itself, and no ``BATCHKIT_URL`` or login from the developer's
shell can point the notebooks at another server. The kernels inherit this environment.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_FROM_THE_SHELL = (
    "BATCHKIT_URL", "BATCHKIT_USERNAME", "BATCHKIT_PASSWORD", "BATCHKIT_TOKEN",
    "BATCHKIT_PROFILE", "BATCHKIT_UPLOAD_PATH",
)  # fmt: skip


def _prepare(config: pytest.Config) -> None:
    folder = Path(tempfile.mkdtemp(prefix="batchkit-notebooks-"))
    wanted = {
        "BATCHKIT_RUNS_DIR": str(folder / "runs"),
        "BATCHKIT_PRESETS_DIR": str(folder / "presets"),
        "BATCHKIT_PACE": "0",
        "MPLCONFIGDIR": str(folder / "matplotlib"),
        # nbval kills each kernel at the end, so an embedded server's temporary data folder
        # outlives it: have the kernels make their temporary folders in here.
        "TMPDIR": str(folder / "tmp"),
    }
    saved = {name: os.environ.get(name) for name in (*wanted, *_FROM_THE_SHELL)}
    for name in _FROM_THE_SHELL:
        os.environ.pop(name, None)
    os.environ.update(wanted)
    (folder / "tmp").mkdir()

    def restore() -> None:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(folder, ignore_errors=True)

    config.add_cleanup(restore)
    config.stash[_PREPARED] = True


_PREPARED = pytest.StashKey[bool]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # The first notebook cell's setup starts its kernel: the environment must be ready by then.
    if item.path.suffix == ".ipynb" and not item.config.stash.get(_PREPARED, False):
        _prepare(item.config)
