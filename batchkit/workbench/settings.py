"""The workbench's settings from the environment (``BATCHKIT_URL`` and the login are the client's).

``BATCHKIT_PACE``: seconds the embedded reference server waits per chunk of work, so progress is
visible in a browser (default 0.05; tests set 0).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Final

from batchkit.errors import ConfigError

__all__ = ["DEFAULT_PACE", "embedded_pace"]

DEFAULT_PACE: Final = 0.05


def embedded_pace(env: Mapping[str, str] | None = None) -> float:
    """The embedded server's pace: ``$BATCHKIT_PACE`` seconds per chunk, else the default."""
    raw = (os.environ if env is None else env).get("BATCHKIT_PACE", "").strip()
    if not raw:
        return DEFAULT_PACE
    try:
        pace = float(raw)
    except ValueError:
        pace = math.nan
    if not (math.isfinite(pace) and pace >= 0):
        raise ConfigError(f"{raw!r} is not a number of seconds >= 0", field="BATCHKIT_PACE")
    return pace
