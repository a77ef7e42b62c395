"""One story's images and audio on the page, with their bytes kept out of the widget state.

``ipywidgets.Image`` and ``Audio`` hold their bytes in a synced trait: in the kernel, in every
view, and in the notebook when its widget state is saved (a merged WAV is megabytes).
:class:`MediaView` syncs only the list of items (what each is, its alt text, whether its bytes
are in); the bytes stay in the kernel and go to a view in a message buffer when it asks for
them. Images show as thumbnails that enlarge in a dialog when pressed (the dialog closes with
Escape or its button, and the focus goes back to the thumbnail); audio as players.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Final, Literal

import anywidget
import traitlets

from batchkit.widgets.assets import asset
from batchkit.widgets.tasks import TaskKeeper

__all__ = ["MediaItem", "MediaView"]

_MIME: Final = {
    "png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
    "wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg", "flac": "audio/flac",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class MediaItem:
    """One image or audio clip: ``alt`` describes it (an image's prompt), ``state`` is
    ``loading``, ``ready`` or ``failed`` (with ``error``)."""

    id: str
    kind: Literal["image", "audio"]
    label: str
    alt: str
    state: str = "loading"
    format: str = ""
    error: str = ""


class MediaView(anywidget.AnyWidget):
    """The items of one story, in order; :meth:`put` hands over an item's bytes."""

    _esm = asset("dom.js", "media_view.js")
    items = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(self, *, keeper: TaskKeeper | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._data: dict[str, bytes] = {}
        self._items: list[MediaItem] = []
        self.add_class("bk-media-view-widget")
        keeper = keeper or TaskKeeper()
        self.on_msg(keeper.callback(self._asked, failure="could not send the media"))

    @property
    def shown(self) -> tuple[MediaItem, ...]:
        return tuple(self._items)

    @property
    def held_bytes(self) -> int:
        """Bytes of media this view holds in the kernel."""
        return sum(map(len, self._data.values()))

    def set_items(self, items: list[MediaItem]) -> None:
        """Show ``items`` (all loading), dropping every earlier item and its bytes."""
        self._data.clear()
        self._items = list(items)
        self._sync()

    def put(self, item_id: str, data: bytes, media_format: str) -> None:
        """The bytes of ``item_id`` arrived: show it (and send them to the views)."""
        index = self._index(item_id)
        if index is None:
            return  # the story shown changed meanwhile: not wanted any more
        self._data[item_id] = data
        self._items[index] = replace(self._items[index], state="ready", format=media_format)
        self._sync()
        self._send_bytes(item_id)

    def failed(self, item_id: str, error: str) -> None:
        index = self._index(item_id)
        if index is not None:
            self._items[index] = replace(self._items[index], state="failed", error=error)
            self._sync()

    def clear(self) -> None:
        self.set_items([])

    def _index(self, item_id: str) -> int | None:
        return next((i for i, item in enumerate(self._items) if item.id == item_id), None)

    def _sync(self) -> None:
        self.items = [asdict(item) for item in self._items]

    def _send_bytes(self, item_id: str) -> None:
        item = self._items[self._index(item_id) or 0]
        mime = _MIME.get(item.format, "application/octet-stream")
        self.send({"type": "media", "id": item_id, "mime": mime}, buffers=[self._data[item_id]])

    def _asked(self, _widget: object, content: Any, _buffers: object) -> None:
        if not isinstance(content, dict) or content.get("type") != "want":
            return
        for item_id in content.get("ids", []):
            if isinstance(item_id, str) and item_id in self._data:
                self._send_bytes(item_id)
