"""Writing a run's table (or any analysis table) to a file for other tools."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Final

import pandas as pd

from batchkit.analysis.sources import RunLike, as_run
from batchkit.errors import ConfigError

__all__ = ["EXPORT_FORMATS", "export"]

EXPORT_FORMATS: Final = ("csv", "parquet", "xlsx")


def export(
    data: RunLike | pd.DataFrame, path: str | os.PathLike[str], format: str | None = None
) -> Path:
    """Write ``data`` (a run's per-file table, or any DataFrame) to ``path``; returns the path.

    ``format`` is ``csv``, ``parquet`` or ``xlsx`` (that one needs ``openpyxl``); by default it is
    the file's suffix. The file is written whole or not at all (a partial file is renamed into
    place). Time zones are dropped for Excel, which has none (times stay UTC).
    """
    target = Path(path).expanduser()
    chosen = (format or target.suffix.lstrip(".")).lower()
    if chosen not in EXPORT_FORMATS:
        raise ConfigError(
            f"cannot export to {chosen or 'a file without a suffix'!r}; "
            f"choose one of {', '.join(EXPORT_FORMATS)}",
            field="format",
        )
    if chosen == "xlsx" and importlib.util.find_spec("openpyxl") is None:
        raise ConfigError("exporting to .xlsx needs openpyxl: pip install openpyxl", field="format")
    frame = data if isinstance(data, pd.DataFrame) else as_run(data).files
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        _write(frame, partial, chosen)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _write(frame: pd.DataFrame, path: Path, chosen: str) -> None:
    if chosen == "csv":
        frame.to_csv(path, index=False)
    elif chosen == "parquet":
        frame.to_parquet(path, index=False)
    else:
        _without_time_zones(frame).to_excel(path, index=False, engine="openpyxl")


def _without_time_zones(frame: pd.DataFrame) -> pd.DataFrame:
    naive = frame.copy()
    for column in naive.columns:
        if isinstance(naive[column].dtype, pd.DatetimeTZDtype):
            naive[column] = naive[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return naive
