"""The media of a finished story: its text, its images as thumbnails, its audio as players.

Nothing is fetched until the user picks a story, and only that story's media is held: picking
another (or none) drops the previous one's bytes. The story's list of media comes first and
shows at once (each item "loading…"); the images and clips are then fetched a few at a time and
each appears as it arrives. A slow answer for a story no longer picked is dropped. The panel
takes the fetching as callables (the workbench passes the client's), and every pick reaches it
through the page's task keeper, on the page's loop.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import ipywidgets as widgets

from batchkit.contract.rest import StoryResponse
from batchkit.contract.signatures import media_format
from batchkit.widgets import TaskKeeper, close_tree, describe_error
from batchkit.widgets.media_view import MediaItem, MediaView

__all__ = ["MediaPanel"]

StoryFetcher = Callable[[str], Awaitable[StoryResponse]]
BytesFetcher = Callable[[str], Awaitable[bytes]]

_NONE: Final = ""
_EXCERPT: Final = 600
_ALT: Final = 240
_AT_ONCE: Final = 4
_EMPTY: Final = "Stories appear here once files complete."


def _alt(story: StoryResponse, number: int, count: int, prompt: str) -> str:
    about = " ".join(prompt.split())
    if len(about) > _ALT:
        about = about[:_ALT].rstrip() + "…"
    head = f"Image {number} of {count} for “{story.title}”"
    return f"{head}: {about}" if about else head


def _items(story: StoryResponse, max_images: int) -> list[tuple[MediaItem, str]]:
    """Every medium of ``story`` to show, with the URL of its bytes."""
    media = story.media
    if media is None:
        return []
    images = media.images[:max_images]
    found: list[tuple[MediaItem, str]] = [
        (
            MediaItem(
                f"image-{image.index}",
                "image",
                f"Image {number}",
                _alt(story, number, len(images), image.prompt),
            ),
            image.url,
        )
        for number, image in enumerate(images, start=1)
    ]
    if media.merged_audio is not None:
        label = f"The whole story read aloud ({media.merged_audio.duration_sec:.0f} s)"
        found.append((MediaItem("audio-merged", "audio", label, label), media.merged_audio.url))
        return found
    for clip in media.audio:
        label = f"Audio, part {clip.index + 1} ({clip.duration_sec:.0f} s)"
        found.append((MediaItem(f"audio-{clip.index}", "audio", label, label), clip.url))
    return found


class MediaPanel:
    """Pick a finished story; see its text, image thumbnails and audio players."""

    def __init__(
        self,
        fetch_story: StoryFetcher,
        fetch_bytes: BytesFetcher,
        keeper: TaskKeeper,
        *,
        max_images: int = 12,
        report: Callable[[str], object] | None = None,
    ) -> None:
        self._fetch_story = fetch_story
        self._fetch_bytes = fetch_bytes
        self._keeper = keeper
        self._report = report
        self._max_images = max_images
        self._shown: str = _NONE
        self._fetching: asyncio.Task[None] | None = None
        self._quiet = False
        self.choice = widgets.Dropdown(
            options=[("(pick a finished story)", _NONE)],
            value=_NONE,
            description="Story",
            tooltip="A finished story whose images and audio to show",
            layout=widgets.Layout(min_width="0", width="auto", max_width="100%"),
        )
        self.choice.add_class("bk-media-choice")
        self.choice.observe(
            keeper.callback(self._picked, failure="could not show the story", report=report),
            names="value",
        )
        self.empty = widgets.HTML(value=f'<p class="bk-empty-note">{_EMPTY}</p>')
        self.status = widgets.HTML(value="")
        self.status.add_class("bk-media-status")
        self.text = widgets.HTML(value="")
        self.text.add_class("bk-media-text")
        self.view = MediaView(keeper=keeper)
        self.body = widgets.VBox([self.text, self.view], layout=widgets.Layout(width="100%"))
        self.body.add_class("bk-media-body")
        self.widget = widgets.VBox(
            [self.empty, self.choice, self.status, self.body], layout=widgets.Layout(width="100%")
        )
        self.widget.add_class("bk-media")
        self._offer_shown(False)

    @property
    def shown(self) -> str:
        """The story id whose media is on show ("" for none)."""
        return self._shown

    def set_stories(self, stories: Sequence[tuple[str, str]]) -> None:
        """Offer ``(label, story_id)`` choices, keeping the current pick if it is still there."""
        options = [("(pick a finished story)", _NONE), *stories]
        current = self.choice.value
        keep = current if any(story_id == current for _, story_id in options) else _NONE
        self._offer_shown(bool(stories))
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

    def _offer_shown(self, any_story: bool) -> None:
        self.empty.layout.display = "none" if any_story else None
        self.choice.layout.display = None if any_story else "none"

    def clear(self) -> None:
        """Forget every story and drop the media shown."""
        self.set_stories([])
        self._show_nothing()

    def close(self) -> None:
        self.clear()
        close_tree(self.widget)

    def _picked(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        if self._fetching is not None and not self._fetching.done():
            self._fetching.cancel()  # the user moved on: that answer is not wanted any more
        story_id = str(change["new"] or _NONE)
        if story_id == _NONE:
            self._show_nothing()
            return
        task = self._keeper.spawn(
            self.show(story_id), failure="could not fetch the story's media", report=self._report
        )
        assert isinstance(task, asyncio.Task)  # a callback runs on the page's thread
        self._fetching = task

    async def show(self, story_id: str) -> None:
        """Fetch story ``story_id`` and show it, then each medium as it arrives."""
        self._shown = story_id
        self.status.value = "<em>fetching the story…</em>"
        try:
            story = await self._fetch_story(story_id)
        except BaseException:
            if self._shown == story_id:
                self.status.value = ""
            raise
        if self._shown != story_id:
            return  # picked another story meanwhile: drop this answer
        found = _items(story, self._max_images)
        self.text.value = self._text(story, bool(found))
        self.view.set_items([item for item, _ in found])
        await self._fetch_all(story_id, found)

    async def _fetch_all(self, story_id: str, found: list[tuple[MediaItem, str]]) -> None:
        gate = asyncio.Semaphore(_AT_ONCE)
        arrived = 0

        async def fetch(item: MediaItem, url: str) -> None:
            nonlocal arrived
            async with gate:
                try:
                    data = await self._fetch_bytes(url)
                except Exception as error:  # one medium lost is said where it would be
                    if self._shown == story_id:
                        self.view.failed(item.id, describe_error(error))
                    return
            if self._shown == story_id:
                self.view.put(item.id, data, media_format(data, url))
                arrived += 1
                self._say_progress(arrived, len(found))

        self._say_progress(0, len(found))
        await asyncio.gather(*(fetch(item, url) for item, url in found))

    def _say_progress(self, arrived: int, count: int) -> None:
        words = "" if arrived == count else f"<em>{arrived} of {count} media in…</em>"
        self.status.value = words

    @staticmethod
    def _text(story: StoryResponse, has_media: bool) -> str:
        text = story.generated_content or ""
        excerpt = text if len(text) <= _EXCERPT else text[:_EXCERPT].rstrip() + "…"
        title = html.escape(story.title)
        body = html.escape(excerpt) if excerpt else "<em>(no text yet)</em>"
        note = ""
        if story.media is None:
            note = "<p><em>This server did not list the story's media.</em></p>"
        elif not has_media:
            note = "<p><em>This story has no images or audio.</em></p>"
        return f"<h4>{title}</h4><p>{body}</p>{note}"

    def _show_nothing(self) -> None:
        self._shown = _NONE
        self.text.value = ""
        self.view.clear()
        self.status.value = ""
