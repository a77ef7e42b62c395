"""The ``batchkit`` command: one sub-command per job, each owned by the module that does it.

The dispatcher imports a sub-command's module only when it is asked for, so ``batchkit run``
never imports the server's dependencies unless it has to start the embedded server.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

# name -> (module, one-line help). Each module has ``main(argv: list[str]) -> int``.
_COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("batchkit.server.command", "run the reference Story API server"),
    "run": ("batchkit.headless", "run a batch of documents from the terminal"),
    "lab": ("batchkit.lab", "start the embedded server and JupyterLab on the workbench"),
    "app": ("batchkit.lab", "the workbench as a standalone page under Voilà"),
    "report": ("batchkit.report_command", "write one HTML report of saved runs, for anywhere"),
}


_ENVIRONMENT: tuple[tuple[str, str], ...] = (
    ("BATCHKIT_URL", "the Story API (default: none, so batchkit starts an embedded reference "
     "server)"),
    ("BATCHKIT_USERNAME, BATCHKIT_PASSWORD", "its login (default: none)"),
    ("BATCHKIT_TOKEN", "an access token instead of a login (default: none)"),
    ("BATCHKIT_PROFILE", "reference or production (default: reference)"),
    ("BATCHKIT_PACE", "the embedded server's seconds per chunk in lab and app (default: 0.05)"),
)  # fmt: skip


def _usage() -> str:
    lines = ["usage: batchkit COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<8}{help_}" for name, (_, help_) in _COMMANDS.items()]
    lines += ["", "options:", f"  {'-h, --help':<16}show this help and exit"]
    lines += [f"  {'-V, --version':<16}print batchkit's version and exit", "", "environment:"]
    lines += [f"  {name}\n      {meaning}" for name, meaning in _ENVIRONMENT]
    lines += ["", "Run `batchkit COMMAND --help` for a command's options and their defaults."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a sub-command; exit 2 on a usage error, like argparse."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(_usage(), file=sys.stderr)
        return 2
    if args[0] in {"-h", "--help"}:
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name in {"-V", "--version"}:
        from batchkit import __version__

        print(f"batchkit {__version__}")
        return 0
    if name not in _COMMANDS:
        print(f"batchkit: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, _ = _COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        print(
            f"batchkit {name}: a dependency is missing ({exc.name}); "
            'install it with: pip install "batchkit[all]"',
            file=sys.stderr,
        )
        return 2
    code: int = module.main([*([name] if name == "app" else []), *rest])
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
