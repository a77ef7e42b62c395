"""The matrix widget's kernel half, driven by the messages its browser half sends.

The browser half (matrix.js) is exercised in JupyterLab by tests/browser/test_matrix_browser.py;
here the kernel's answers are checked message by message (what a browser would receive), on the
real runs of the tuning grid with their media kept on disk.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from PIL import Image

from analysis.tuned_runs import TunedRuns, counted_client
from batchkit.analysis import ComparisonMatrix, open_matrix, read_marks
from batchkit.widgets import MatrixView, matrix_view

Sent = list[tuple[dict[str, Any], list[bytes]]]


def _view(matrix: ComparisonMatrix, **kwargs: Any) -> tuple[MatrixView, Sent]:
    view = matrix_view(matrix, **kwargs)
    sent: Sent = []
    view.send = lambda content, buffers=None: sent.append(  # type: ignore[method-assign]
        (content, [bytes(b) for b in buffers or []])
    )
    return view, sent


@pytest.fixture
async def matrix(tuned: TunedRuns) -> ComparisonMatrix:
    counted = counted_client(tuned.url)
    async with counted.client as client:
        return await open_matrix(tuned.folders, client, tuned.grid)


def _ids(view: MatrixView, attribute: str) -> list[str]:
    return re.findall(rf'{attribute}="([^"]+)"', view.html)


def test_the_table_holds_no_media_bytes_and_every_text_is_escaped(
    matrix: ComparisonMatrix,
) -> None:
    view, _ = _view(matrix)
    assert "data:" not in view.html
    assert "base64" not in view.html
    assert view.summary == "Showing 4 of 4 documents under 2 runs"
    assert len(_ids(view, "data-cell")) == 8
    assert len(re.findall(r"<img ", view.html)) == sum(
        len(c.media.images) for c in matrix.cells.values() if c.media
    )
    assert all(re.search(r'alt="picture \d+ of \d+ of [^"]+ under [^"]+"', img)
               for img in re.findall(r"<img [^>]+>", view.html))  # fmt: skip
    state = view.get_state()
    assert not any(isinstance(value, bytes | memoryview) for value in state.values())


def test_pictures_and_sound_are_sent_on_request_only_for_ids_it_listed(
    matrix: ComparisonMatrix,
) -> None:
    view, sent = _view(matrix)
    picture = re.search(r'<img data-media="([^"]+)"', view.html)
    sound = re.search(r'class="bk-mx-play" data-media="([^"]+)"', view.html)
    assert picture
    assert sound
    view._on_browser_message(view, {"type": "media", "id": picture.group(1)}, [])
    view._on_browser_message(view, {"type": "media", "id": sound.group(1)}, [])
    view._on_browser_message(view, {"type": "media", "id": "../../../etc/passwd"}, [])
    view._on_browser_message(view, {"type": "media", "id": 7, "extra": True}, [])  # malformed
    (image, [image_bytes]), (audio, [audio_bytes]), (refused, none) = sent
    assert image == {"type": "media", "id": picture.group(1), "mime": "image/jpeg"}
    assert max(Image.open(io.BytesIO(image_bytes)).size) <= 480
    assert audio["mime"] == "audio/wav"
    assert audio_bytes[:4] == b"RIFF"
    assert refused == {"type": "media-failed", "id": "../../../etc/passwd",
                       "reason": "unknown media"}  # fmt: skip
    assert none == []


def test_filters_redraw_the_table_and_say_how_many_are_shown(matrix: ComparisonMatrix) -> None:
    view, _ = _view(matrix)
    failing = matrix.filtered(only_failures=True).documents
    view.only_failures = True
    assert view.summary == "Showing 1 of 4 documents under 2 runs"
    assert len(_ids(view, "data-cell")) == 2
    assert failing[0] in view.html
    view.only_failures = False
    view.only_differences = True
    assert view.shown.documents == failing
    view.only_failures = True
    assert view.summary == "Showing 1 of 4 documents under 2 runs"


def test_a_mark_from_the_browser_is_saved_with_the_run_and_confirmed(
    matrix: ComparisonMatrix, tuned: TunedRuns
) -> None:
    view, sent = _view(matrix)
    cell = _ids(view, "data-cell")[1]
    view._on_browser_message(view, {"type": "mark", "cell": cell, "rating": "better",
                                    "note": "<b>crisp</b> pictures"}, [])  # fmt: skip
    assert sent[-1][0] == {"type": "marked", "cell": cell, "ok": True, "rating": "better",
                           "note": "<b>crisp</b> pictures", "reason": ""}  # fmt: skip
    marks = read_marks(tuned.folders)
    assert marks[["rating", "note"]].values.tolist() == [["better", "<b>crisp</b> pictures"]]
    assert 'aria-pressed="true"' in view.html
    assert "&lt;b&gt;crisp&lt;/b&gt; pictures" in view.html
    assert "<b>crisp" not in view.html
    view._on_browser_message(view, {"type": "mark", "cell": "bk-mx-nope", "rating": None}, [])
    assert sent[-1][0]["ok"] is False


def test_a_mark_that_cannot_be_saved_says_why(matrix: ComparisonMatrix, tuned: TunedRuns) -> None:
    def refuse(*_: object) -> ComparisonMatrix:
        raise OSError(28, "No space left on device")

    view, sent = _view(matrix, save_mark=refuse)
    cell = _ids(view, "data-cell")[0]
    view._on_browser_message(view, {"type": "mark", "cell": cell, "rating": "worse"}, [])
    assert sent[-1][0]["ok"] is False
    assert "No space left on device" in sent[-1][0]["reason"]
    assert read_marks(tuned.folders).empty
