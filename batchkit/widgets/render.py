"""HTML for what the widgets show: escaped text, statuses as icon and word, the overall bar.

Pure functions of plain values or of a :class:`~batchkit.tracker.RunSnapshot`: no widgets here,
so a view's whole content is one string per part and one message per redraw. Every text that
comes from outside (a file name, a server's error) goes through :func:`escape`; a status is
always an icon *and* a word, never a colour alone. The file table is :mod:`.table_html`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

from batchkit.contract.limits import PipelineStep
from batchkit.files import describe_size

if TYPE_CHECKING:
    from batchkit.tracker import RunSnapshot

__all__ = [
    "STATUS_ICONS",
    "STEP_LABELS",
    "Overview",
    "announcement",
    "describe_duration",
    "escape",
    "final_line",
    "mark",
    "overview_html",
    "percent",
    "size_and_type",
    "status_label",
    "stylesheet",
    "words_list",
]

STATUS_ICONS: Final = {
    "pending": "○",
    "uploading": "⇡",
    "uploaded": "◔",
    "queued": "◔",
    "processing": "▶",
    "completed": "✓",
    "failed": "✗",
}
_STATUS_WORDS: Final = {"uploaded": "uploaded, waiting", "queued": "queued"}
STEP_LABELS: Final = {
    PipelineStep.STORY: "story",
    PipelineStep.IMAGES: "images",
    PipelineStep.AUDIO: "audio",
    PipelineStep.MERGE: "merge",
}


def escape(text: object) -> str:
    """``text`` made safe to place in HTML, quotes included."""
    return html.escape(str(text), quote=True)


def percent(fraction: float) -> str:
    """``0.423`` as ``"42%"``; never shows 100% before the end (``0.996`` is ``"99%"``)."""
    value = int(max(0.0, min(fraction, 1.0)) * 100)
    return f"{value}%"


def describe_duration(seconds: float | None) -> str:
    """``75.2`` as ``"1 min 15 s"``; ``None`` as ``"—"``."""
    if seconds is None:
        return "—"
    whole = round(max(seconds, 0.0))
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def words_list(items: Sequence[str]) -> str:
    """``["a", "b", "c"]`` as ``"a, b and c"`` (never a Python list in a message)."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def mark(ok: bool, text: str) -> str:
    """A ✓ or ✗ followed by ``text`` (escaped): the meaning is in the words, not the colour."""
    icon, kind = ("✓", "ok") if ok else ("✗", "bad")
    return (
        f'<span class="bk-mark bk-mark-{kind}"><span aria-hidden="true">{icon}</span> '
        f"{escape(text)}</span>"
    )


def status_label(status: str, *, stalled: bool = False) -> str:
    """A file's status as its icon and its word (``✓ completed``)."""
    word = _STATUS_WORDS.get(status, status)
    word = f"{word} (stalled)" if stalled else word
    return (
        f'<span class="bk-status bk-status-{escape(status)}">'
        f'<span aria-hidden="true">{STATUS_ICONS.get(status, "•")}</span> {escape(word)}</span>'
    )


def size_and_type(size: int | None, extension: str) -> str:
    """``"3.4 KiB · .docx"``."""
    kind = escape(extension or "no extension")
    return kind if size is None else f"{describe_size(size)} · {kind}"


# ---------------------------------------------------------------- the overall bar
@dataclass(frozen=True, slots=True)
class Overview:
    """What the overall bar shows of one run: its snapshot, and every file in progress in
    words ("a.txt (images 40%)")."""

    snapshot: RunSnapshot
    in_progress: tuple[str, ...] = ()


def _segments(snapshot: RunSnapshot) -> list[tuple[str, int, str]]:
    running = snapshot.active
    waiting = max(snapshot.total - snapshot.completed - snapshot.failed - running, 0)
    return [
        ("completed", snapshot.completed, "✓"),
        ("failed", snapshot.failed, "✗"),
        ("running", running, "▶"),
        ("waiting", waiting, "○"),
    ]


def _bar(snapshot: RunSnapshot) -> str:
    segments = _segments(snapshot)
    total = max(snapshot.total, 1)
    spans = "".join(
        f'<span class="bk-seg bk-seg-{kind}" style="width:{100 * count / total:.3f}%"></span>'
        for kind, count, _ in segments
        if count
    )
    counts = ", ".join(f"{count} {kind}" for kind, count, _ in segments if count)
    text = f"{snapshot.done} of {snapshot.total} files done: {counts or 'none yet'}"
    return (
        f'<div class="bk-overall-bar" role="progressbar" aria-label="Files done" '
        f'aria-valuemin="0" aria-valuemax="{snapshot.total}" aria-valuenow="{snapshot.done}" '
        f'aria-valuetext="{escape(text)}">{spans}</div>'
    )


def _counts_line(snapshot: RunSnapshot) -> str:
    # A count of none is said in words but muted: "0 failed" in red would paint a success red.
    parts = [
        f'<span class="bk-count bk-count-{kind}{"" if count else " bk-count-none"}">'
        f'<span aria-hidden="true">{icon}</span> {count} {kind}</span>'
        for kind, count, icon in _segments(snapshot)
    ]
    return f'<p class="bk-overall-counts">{" · ".join(parts)}</p>'


def _steps_line(snapshot: RunSnapshot) -> str:
    parts = []
    for step, count in snapshot.step_counts.items():
        label = STEP_LABELS[step]
        if step in snapshot.unconfirmed_steps:
            parts.append(f'<span class="bk-step-count">{label}: not reported</span>')
            continue
        failed = f" ({count.failed} failed)" if count.failed else ""
        parts.append(
            f'<span class="bk-step-count">{label} {count.completed}/{count.total}{failed}</span>'
        )
    return f'<p class="bk-step-counts">{" · ".join(parts)}</p>' if parts else ""


def _timing_line(snapshot: RunSnapshot) -> str:
    parts = [f"elapsed {describe_duration(snapshot.elapsed_s)}"]
    if not snapshot.all_done and snapshot.eta_s is not None:
        # An estimate, from the steps seen so far: never shown before there is evidence.
        parts.insert(0, f"about {describe_duration(snapshot.eta_s)} left (estimate)")
    return f'<p class="bk-timing">{" · ".join(parts)}</p>'


def final_line(snapshot: RunSnapshot) -> str:
    """The words of a finished run's outcome (empty while it runs)."""
    if not snapshot.all_done:
        return ""
    if snapshot.failed == 0:
        return mark(True, f"Done: all {snapshot.total} files completed")
    return mark(
        False,
        f"Done: {snapshot.completed} of {snapshot.total} completed, {snapshot.failed} failed",
    )


def overview_html(overview: Overview) -> str:
    """The segmented bar (completed / failed / running / waiting), the counts in words, the
    per-step counts, every file in progress, the time, and the outcome once it is done."""
    snapshot = overview.snapshot
    parts = [_bar(snapshot), _counts_line(snapshot), _steps_line(snapshot)]
    if overview.in_progress:
        names = ", ".join(escape(item) for item in overview.in_progress)
        parts.append(f'<p class="bk-in-progress">In progress: {names}</p>')
    parts.append(_timing_line(snapshot))
    parts += [f'<p class="bk-run-note">{escape(note)}</p>' for note in snapshot.notes]
    final = final_line(snapshot)
    ending = ""
    if final:
        parts.append(f'<p class="bk-final-line">{final}</p>')
        ending = " bk-final-ok" if snapshot.failed == 0 else " bk-final-failed"
    return f'<div class="bk-overall{ending}">{"".join(parts)}</div>'


def announcement(snapshot: RunSnapshot) -> str:
    """What the live region says of a run: changes only when a file finishes or the run ends."""
    if snapshot.all_done:
        return re_text(final_line(snapshot))
    return (
        f"{snapshot.done} of {snapshot.total} files done: {snapshot.completed} completed, "
        f"{snapshot.failed} failed"
    )


def re_text(markup: str) -> str:
    """The text of a snippet made here (tags dropped, entities back to characters)."""
    out, inside = [], False
    for char in markup:
        if char == "<":
            inside = True
        elif char == ">":
            inside = False
        elif not inside:
            out.append(char)
    return html.unescape("".join(out)).strip()


def choice_summary(counts: Iterable[tuple[str, int]], size: int) -> str:
    """The files chosen before a run, in words ("3 ready · 1 rejected · 2.1 MiB")."""
    parts = [f"{count} {word}" for word, count in counts if count]
    if size:
        parts.append(describe_size(size))
    return " · ".join(parts)


@cache
def stylesheet() -> str:
    """The widgets' shared CSS as a ``<style>`` element, for one HTML widget on the page."""
    css = (Path(__file__).parent / "batchkit.css").read_text(encoding="utf-8")
    return f"<style>{css}</style>"
