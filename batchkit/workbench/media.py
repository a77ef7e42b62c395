"""The media of a finished story: its images as thumbnails and its audio as a player.

Nothing is fetched until the user picks a story, and only that story's media is held: picking
another (or none) closes the previous widgets, so the notebook keeps at most one story's media.
The panel takes the fetching as callables (the workbench passes the client's), and a slow answer
for a story no longer picked is dropped.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import ipywidgets as widgets

from batchkit.contract.rest import StoryResponse
from batchkit.widgets import close_tree
from batchkit.workbench.tasks import TaskKeeper

__all__ = ["MediaPanel", "media_format"]

StoryFetcher = Callable[[str], Awaitable[StoryResponse]]
BytesFetcher = Callable[[str], Awaitable[bytes]]

_NONE: Final = ""
_EXCERPT: Final = 600
_SIGNATURES: Final = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"ID3", "mp3"),
    (b"\xff\xfb", "mp3"),
    (b"OggS", "ogg"),
    (b"fLaC", "flac"),
)


def media_format(data: bytes, url: str) -> str:
    """The format of media ``data`` (``png``, ``wav``...), by its first bytes, else the URL."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    suffix = url.rsplit("?", 1)[0].rsplit(".", 1)[-1].lower()
    return "jpeg" if suffix == "jpg" else suffix


class MediaPanel:
    """Pick a finished story; see its text, image thumbnails and an audio player."""

    def __init__(
        self,
        fetch_story: StoryFetcher,
        fetch_bytes: BytesFetcher,
        keeper: TaskKeeper,
        *,
        max_images: int = 12,
    ) -> None:
        self._fetch_story = fetch_story
        self._fetch_bytes = fetch_bytes
        self._keeper = keeper
        self._max_images = max_images
        self._shown: str = _NONE
        self._fetching: asyncio.Task[None] | None = None
        self._quiet = False
        self.choice = widgets.Dropdown(
            options=[("(pick a finished story)", _NONE)],
            value=_NONE,
            description="Story",
            tooltip="A finished story whose images and audio to show",
        )
        self.choice.add_class("bk-media-choice")
        self.choice.observe(self._picked, names="value")
        self.status = widgets.HTML(value="")
        self.status.add_class("bk-media-status")
        self.body = widgets.VBox([])
        self.body.add_class("bk-media-body")
        self.widget = widgets.VBox(
            [self.choice, self.status, self.body], layout=widgets.Layout(width="100%")
        )
        self.widget.add_class("bk-media")

    @property
    def shown(self) -> str:
        """The story id whose media is on show ("" for none)."""
        return self._shown

    def set_stories(self, stories: Sequence[tuple[str, str]]) -> None:
        """Offer ``(label, story_id)`` choices, keeping the current pick if it is still there."""
        options = [("(pick a finished story)", _NONE), *stories]
        current = self.choice.value
        keep = current if any(story_id == current for _, story_id in options) else _NONE
        if list(self.choice.options) == options:
            return
        # New options reset a dropdown's value: that must not count as the user's pick.
        self._quiet = True
        try:
            self.choice.options = options
            self.choice.value = keep
        finally:
            self._quiet = False
        if keep == _NONE and self._shown != _NONE:
            self._show_nothing()

    def clear(self) -> None:
        """Forget every story and close the media shown."""
        self.set_stories([])
        self._show_nothing()

    def _picked(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        if self._fetching is not None and not self._fetching.done():
            self._fetching.cancel()  # the user moved on: that answer is not wanted any more
        story_id = str(change["new"] or _NONE)
        if story_id == _NONE:
            self._show_nothing()
            return
        self._fetching = self._keeper.spawn(
            self.show(story_id), failure="could not fetch the story's media"
        )

    async def show(self, story_id: str) -> None:
        """Fetch story ``story_id`` and its media, and show them (unless another was picked)."""
        self._shown = story_id
        self.status.value = "<em>fetching the story's media…</em>"
        try:
            story = await self._fetch_story(story_id)
            parts = await self._media_widgets(story)
        except BaseException:
            if self._shown == story_id:
                self.status.value = ""
            raise
        if self._shown != story_id:  # picked another story meanwhile: drop this answer
            for part in parts:
                part.close()
            return
        self._replace_body([self._text(story), *parts])
        self.status.value = ""

    async def _media_widgets(self, story: StoryResponse) -> list[Any]:
        media = story.media
        if media is None:
            return [widgets.HTML(value="<em>This server did not list the story's media.</em>")]
        images = [await self._image(item.url) for item in media.images[: self._max_images]]
        parts: list[Any] = []
        if images:
            gallery = widgets.Box(images, layout=widgets.Layout(flex_flow="row wrap"))
            gallery.add_class("bk-media-images")
            parts.append(gallery)
        clips = [(media.merged_audio.url, "merged audio")] if media.merged_audio else []
        clips = clips or [(clip.url, f"audio chunk {clip.index + 1}") for clip in media.audio]
        for url, label in clips:
            parts.append(await self._audio(url, label))
        if not parts:
            parts.append(widgets.HTML(value="<em>This story has no images or audio.</em>"))
        return parts

    async def _image(self, url: str) -> Any:
        data = await self._fetch_bytes(url)
        image = widgets.Image(value=data, format=media_format(data, url), width=160)
        image.add_class("bk-media-image")
        return image

    async def _audio(self, url: str, label: str) -> Any:
        data = await self._fetch_bytes(url)
        player = widgets.Audio(
            value=data, format=media_format(data, url), autoplay=False, loop=False, controls=True
        )
        player.add_class("bk-media-audio")
        caption = widgets.HTML(value=f"<span>{html.escape(label)}</span>")
        return widgets.VBox([caption, player])

    @staticmethod
    def _text(story: StoryResponse) -> Any:
        text = story.generated_content or ""
        excerpt = text if len(text) <= _EXCERPT else text[:_EXCERPT].rstrip() + "…"
        title = html.escape(story.title)
        body = html.escape(excerpt) if excerpt else "<em>(no text yet)</em>"
        return widgets.HTML(value=f"<h4>{title}</h4><p>{body}</p>")

    def _show_nothing(self) -> None:
        self._shown = _NONE
        self._replace_body([])
        self.status.value = ""

    def _replace_body(self, parts: list[Any]) -> None:
        old = list(self.body.children)
        self.body.children = tuple(parts)
        for widget in old:
            close_tree(widget)
