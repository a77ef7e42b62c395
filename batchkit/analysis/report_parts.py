"""The pieces of a run report: tables as escaped HTML, plots as embedded SVG, the versions.

Each function returns a string of HTML that needs nothing outside itself: a plot is an ``<img>``
whose ``src`` is the SVG itself (a ``data:`` URI, so whatever text it holds cannot act on the
page), a table is plain markup with every cell escaped.
"""

from __future__ import annotations

import base64
import importlib.metadata
import io
import platform
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from batchkit.analysis.matrix_html import escape

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["figure", "table", "versions", "versions_table"]

_SKIPPED_EXTRAS: Final = frozenset({"test", "all"})
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
_EXTRA: Final = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def figure(draw: Callable[[Axes], object], size: tuple[float, float], alt: str) -> str:
    """An ``<img>`` of what ``draw`` puts on a new matplotlib axes, as SVG inside the page."""
    import matplotlib
    from matplotlib.figure import Figure

    # No pyplot: nothing global is touched, and no display is needed.
    with matplotlib.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": "batchkit", "font.size": 9}
    ):
        drawing = Figure(figsize=size, layout="constrained")
        draw(drawing.add_subplot())
        out = io.BytesIO()
        drawing.savefig(out, format="svg", metadata={"Date": None})
    encoded = base64.b64encode(out.getvalue()).decode("ascii")
    return f'<img class="bk-plot" alt="{escape(alt)}" src="data:image/svg+xml;base64,{encoded}">'


def table(
    frame: pd.DataFrame,
    caption: str,
    *,
    index: bool = False,
    formats: Mapping[str, Callable[[Any], str]] | None = None,
    raw: Sequence[str] = (),
) -> str:
    """``frame`` as a captioned table in a scrollable region. Every cell is escaped, but for
    the columns named in ``raw`` (HTML made here, from escaped parts)."""
    shown = frame.reset_index() if index else frame
    chosen = dict(formats or {})
    head = "".join(f'<th scope="col">{escape(column)}</th>' for column in shown.columns)
    rows = []
    for record in shown.itertuples(index=False):
        cells = []
        for column, value in zip(shown.columns, record, strict=True):
            text = _cell(value, chosen.get(str(column)))
            cells.append(f"<td>{text if column in raw else escape(text)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="bk-scroll" role="region" aria-label="{escape(caption)}" tabindex="0">'
        f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _cell(value: Any, format_: Callable[[Any], str] | None) -> str:
    if value is None or (not isinstance(value, list | tuple | dict) and pd.isna(value)):
        return "—"
    if format_ is not None:
        return format_(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z")
    return str(value)


def versions() -> dict[str, str]:
    """batchkit's version, its dependencies' (those of the core, server and notebook extras),
    Python's and the platform's."""
    found = {"batchkit": _version("batchkit")}
    try:
        requirements = importlib.metadata.requires("batchkit") or []
    except importlib.metadata.PackageNotFoundError:
        requirements = []
    for requirement in requirements:
        extra = _EXTRA.search(requirement)
        name = _NAME.match(requirement)
        if name is None or (extra is not None and extra.group(1) in _SKIPPED_EXTRAS):
            continue
        found.setdefault(name.group(0).lower(), _version(name.group(0)))
    found["python"] = sys.version.split()[0]
    found["platform"] = platform.platform()
    return found


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions_table() -> str:
    frame = pd.DataFrame(list(versions().items()), columns=["package", "version"])
    return table(frame, "batchkit and what it runs on")
