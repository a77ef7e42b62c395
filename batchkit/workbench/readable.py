"""``wb.files`` shown readably, while it stays the run's raw, live DataFrame.

The run's table is for analysis: full precision, nullable dtypes, UTC timestamps. Shown as it
is, a notebook prints six decimals, ``<NA>`` and errors cut at 50 characters. So the workbench
gives that one DataFrame object its own ``_repr_html_`` (what Jupyter calls to show it): a
copy rounded for the eye (seconds to a tenth, fractions as percents, times of day), blanks for
missing values, every error in full. The frame itself, its dtypes and its values are untouched;
a frame derived from it (``wb.files[...]``, ``.copy()``) is an ordinary DataFrame again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["make_readable", "readable_frame", "readable_html"]

_MAX_ROWS = 200


def _cell(value: Any, column: str) -> str:
    import pandas as pd  # with the first run, not with the page

    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if column.endswith("_progress"):
            return f"{value:.0%}"
        return f"{value:.1f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%H:%M:%S")
    return str(value)


def readable_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` made of words: rounded, blank where a value is missing."""
    import pandas as pd

    shown = {
        column: [_cell(value, str(column)) for value in frame[column].tolist()]
        for column in frame.columns
    }
    return pd.DataFrame(shown, index=frame.index, dtype=object)


def readable_html(frame: pd.DataFrame) -> str:
    """The HTML Jupyter shows for ``frame``: every column, errors in full."""
    import pandas as pd

    with pd.option_context(
        "display.max_colwidth", None, "display.max_columns", None, "display.max_rows", _MAX_ROWS
    ):
        html: str = readable_frame(frame).to_html(
            max_rows=_MAX_ROWS, notebook=True, escape=True, border=0
        )
    return html


def make_readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Give ``frame`` (the same object, for everyone holding it) the readable display."""
    # object.__setattr__: pandas' own __setattr__ would try to make a column of it. An
    # instance attribute comes before the class's method when Jupyter asks for _repr_html_.
    object.__setattr__(frame, "_repr_html_", lambda: readable_html(frame))
    return frame
