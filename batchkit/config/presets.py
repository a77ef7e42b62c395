"""Named presets: saved :class:`~batchkit.config.BatchConfig` files in one folder."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from batchkit.config.batch import BatchConfig
from batchkit.errors import ConfigError

__all__ = ["list_presets", "load_preset", "presets_dir", "save_preset"]

_PRESET_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}")


def presets_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where named presets live: ``$BATCHKIT_PRESETS_DIR``, else the user's config folder."""
    env = os.environ if env is None else env
    if chosen := env.get("BATCHKIT_PRESETS_DIR"):
        return Path(chosen).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "batchkit" / "presets"


def list_presets(directory: str | os.PathLike[str] | None = None) -> list[str]:
    """The names of the saved presets, sorted."""
    folder = Path(directory) if directory is not None else presets_dir()
    return sorted(path.stem for path in folder.glob("*.json") if path.is_file())


def save_preset(
    config: BatchConfig, name: str, directory: str | os.PathLike[str] | None = None
) -> Path:
    """Save ``config`` under ``name``; the name is checked so it can never escape the folder."""
    return config.save(_preset_path(name, directory))


def load_preset(name: str, directory: str | os.PathLike[str] | None = None) -> BatchConfig:
    """The preset saved under ``name``."""
    path = _preset_path(name, directory)
    if not path.exists():
        known = ", ".join(list_presets(path.parent)) or "none yet"
        raise ConfigError(f"no preset named {name!r} (saved presets: {known})", field="preset")
    return BatchConfig.load(path)


def _preset_path(name: str, directory: str | os.PathLike[str] | None) -> Path:
    if not _PRESET_NAME.fullmatch(name) or name.endswith("."):
        raise ConfigError(
            "a preset name has 1–64 letters, digits, spaces, '_', '-' or '.', "
            "and starts with a letter or digit",
            field="preset",
        )
    folder = Path(directory) if directory is not None else presets_dir()
    return folder / f"{name}.json"
