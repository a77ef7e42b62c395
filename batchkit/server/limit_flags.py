"""The ``batchkit serve`` flags of the limits (one per entry of :data:`LIMITS`) and of removals.

Each flag is the setting's name with dashes (``--max-json-body-bytes``), typed and defaulted
from :class:`ServerSettings`, so the settings stay the one place a limit is declared.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from batchkit.server.settings import LIMITS, ServerSettings

__all__ = ["add_limit_flags", "limit_settings"]

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ServerSettings)}


def add_limit_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--remove-user`` and one flag per limit, in their own help section."""
    parser.add_argument(
        "--remove-user",
        action="append",
        default=[],
        metavar="NAME",
        help="refuse this user from now on: its logins and every token it holds; repeatable "
        "(default: none)",
    )
    group = parser.add_argument_group(
        "limits", "what one request, user, login, engine job or story may cost"
    )
    for name, what in LIMITS.items():
        default = _DEFAULTS[name]
        group.add_argument(
            "--" + name.replace("_", "-"),
            type=type(default),
            default=default,
            metavar=_metavar(name),
            help=f"{what} (default: {default})".replace("%", "%%"),
        )


def _metavar(name: str) -> str:
    for unit in ("bytes", "seconds"):
        if unit in name.split("_"):
            return unit.upper()
    return "N"


def limit_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`ServerSettings` keywords these flags were given."""
    settings: dict[str, Any] = {name: getattr(args, name) for name in LIMITS}
    settings["removed_users"] = frozenset(args.remove_user)
    return settings
