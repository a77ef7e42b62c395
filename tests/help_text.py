"""Reading a command's ``--help`` as a user does: which options say what they default to."""

from __future__ import annotations

import re

_OPTION = re.compile(r"^  -")


def options_without_a_default(help_text: str) -> list[str]:
    """The options (but ``--help``) whose help does not say ``default``, as their first line."""
    section = help_text.split("\noptions:\n", 1)[1]
    entries: list[list[str]] = []
    for line in section.splitlines():
        if _OPTION.match(line):
            entries.append([line])
        elif entries and line.startswith("   "):
            entries[-1].append(line)
        elif entries and not line.strip():
            break  # the end of the section: an epilog may follow
    return [
        entry[0].strip()
        for entry in entries
        if not entry[0].strip().startswith("-h") and "default" not in " ".join(entry)
    ]
