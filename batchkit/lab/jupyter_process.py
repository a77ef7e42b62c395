"""The Jupyter process of ``batchkit lab`` and ``batchkit app``: ``python -m jupyterlab`` or
``python -m voila``, exactly, with Python's default warnings for traitlets.

Python shows a DeprecationWarning only to developers (in ``__main__``, or when asked with
``-W``). Voilà's package, when imported, turns them on for everything traitlets warns about, in
the whole process; JupyterLab imports it for Voilà's server extension, and notebook_shim, which
JupyterLab loads too, then reads every trait of the ServerApp, the deprecated ``ServerApp.token``
among them: "ServerApp.token config is deprecated" would speak of a setting nobody made
(batchkit hands the token over through ``IdentityProvider``, as Jupyter Server 2 wants). So
Voilà is imported first and traitlets' DeprecationWarnings are hidden again, by a filter in
front of Voilà's; every other warning is shown as before.

Usage: ``python -m batchkit.lab.jupyter_process MODULE [ARGS...]``.
"""

from __future__ import annotations

import importlib
import importlib.util
import runpy
import sys
import warnings

__all__ = ["main"]


def main(argv: list[str]) -> None:
    """Run ``python -m MODULE ARGS...`` in this process; it exits with MODULE's status."""
    module, *args = argv
    if importlib.util.find_spec("voila") is not None:
        importlib.import_module("voila")  # its import-time filter first, so ours comes before
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="traitlets")
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
