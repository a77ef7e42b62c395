"""The browser half of the upload zone: an anywidget that sends files to the kernel in chunks.

ipywidgets' ``FileUpload`` sends every chosen file in one websocket message, which Jupyter drops
silently above 10 MiB, and it keeps the bytes in its synced value (so in the saved notebook).
:class:`ChunkedUpload` instead validates files in the browser (extension, size, count, empty,
duplicate name) and sends each accepted one as custom messages (protocol below), with the file
bytes only in binary buffers, never in a synced trait. Its traits hold settings and names only.

Protocol (``type`` tells the messages apart; ``id`` is the browser's name for one upload):

* browser → kernel: ``start`` (id, name, size); ``chunk`` (id, index, offset) with one binary
  buffer; ``end`` (id, chunks); ``refused`` (name, size, reason) for a file the browser turned
  down itself; ``cancel`` (id, reason).
* kernel → browser: ``ready`` (id) or ``failed`` (id, reason) after ``start``; ``ack`` (id,
  index, received) after each chunk, which paces the browser and drives its progress;
  ``done`` (id, ok, reason) once the file has been checked; ``reset`` when the list was cleared
  (the browser then cancels what it had started, and never starts what it had queued).

The browser gives up on a file when the kernel says nothing about it for a while, a different
while per phase (``timeouts``: waiting for ``ready``, for an ``ack``, for ``done``), and then
sends ``cancel``; the kernel drops the file whatever it had made of it, so the two never
disagree. What the kernel does with the messages is the ``listener``'s business (the upload
zone); they reach it through the page's :class:`~batchkit.widgets.tasks.TaskKeeper`, on the
page's loop, whatever thread ipykernel delivered them on.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final, Literal, Protocol

import anywidget
import traitlets
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from batchkit.contract.limits import ALLOWED_EXTENSIONS, MAX_FILE_BYTES, MAX_FILES
from batchkit.errors import FileRejected
from batchkit.widgets.assets import asset
from batchkit.widgets.tasks import TaskKeeper

__all__ = [
    "CHUNK_BYTES",
    "BrowserMessage",
    "ChunkedUpload",
    "UploadListener",
]

logger = logging.getLogger("batchkit.widgets")

CHUNK_BYTES: Final = 256 * 1024
"""Bytes per chunk: far below Jupyter's websocket limit, large enough to keep the link busy."""
TIMEOUTS_MS: Final = {"ready": 120_000, "ack": 60_000, "done": 120_000}
"""How long the browser waits for the kernel to answer about a file, per phase, in ms. A
kernel busy with a cell answers late, not never: the waits are long, and each answer (an ack)
starts the wait afresh. Checking a whole file (``done``) reads it: the longest."""

_Id = Annotated[str, Field(min_length=1, max_length=64)]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StartMessage(_Message):
    type: Literal["start"]
    id: _Id
    name: Annotated[str, Field(max_length=1024)]
    size: Annotated[int, Field(ge=0)]


class ChunkMessage(_Message):
    type: Literal["chunk"]
    id: _Id
    index: Annotated[int, Field(ge=0)]
    offset: Annotated[int, Field(ge=0)]


class EndMessage(_Message):
    type: Literal["end"]
    id: _Id
    chunks: Annotated[int, Field(ge=0)]


class RefusedMessage(_Message):
    type: Literal["refused"]
    name: Annotated[str, Field(max_length=1024)]
    size: Annotated[int, Field(ge=0)]
    reason: Annotated[str, Field(max_length=500)]


class CancelMessage(_Message):
    type: Literal["cancel"]
    id: _Id
    reason: Annotated[str, Field(max_length=500)] = ""


BrowserMessage = Annotated[
    StartMessage | ChunkMessage | EndMessage | RefusedMessage | CancelMessage,
    Field(discriminator="type"),
]
_BROWSER_MESSAGE: Final[TypeAdapter[BrowserMessage]] = TypeAdapter(BrowserMessage)


class UploadListener(Protocol):
    """What the kernel does with a browser's upload (the upload zone implements it).

    Each method may raise :class:`~batchkit.errors.FileRejected`: the upload is then stopped
    and the browser told why.
    """

    def upload_started(self, upload_id: str, name: str, size: int) -> None: ...

    def chunk_received(self, upload_id: str, index: int, offset: int, data: memoryview) -> int:
        """Store one chunk; returns the bytes of this file received so far."""
        ...

    def upload_ended(self, upload_id: str, chunks: int) -> str | None:
        """Check the whole file; returns why it was rejected, or None when accepted."""
        ...

    def refused_in_browser(self, name: str, size: int, reason: str) -> None: ...

    def upload_cancelled(self, upload_id: str, reason: str) -> None: ...


class ChunkedUpload(anywidget.AnyWidget):
    """A drop zone and a file input whose files reach the kernel in chunks.

    Synced traits are settings and names only; file bytes travel in message buffers and are
    handed to ``listener`` chunk by chunk.
    """

    _esm = asset("upload.js")
    _css = asset("upload.css")

    accept = traitlets.Unicode(",".join(ALLOWED_EXTENSIONS)).tag(sync=True)
    max_files = traitlets.Int(MAX_FILES).tag(sync=True)
    max_bytes = traitlets.Int(MAX_FILE_BYTES).tag(sync=True)
    chunk_bytes = traitlets.Int(CHUNK_BYTES).tag(sync=True)
    taken = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """Names already in the list (received or being received): the browser's count and
    duplicate checks start from these."""
    disabled = traitlets.Bool(False).tag(sync=True)
    disabled_reason = traitlets.Unicode("").tag(sync=True)
    """Why no file can be added now (shown as the button's tooltip while disabled)."""
    timeouts = traitlets.Dict(dict(TIMEOUTS_MS)).tag(sync=True)

    def __init__(
        self, listener: UploadListener, *, keeper: TaskKeeper | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._listener = listener
        self.add_class("bk-chunked-upload")
        keeper = keeper or TaskKeeper()
        self.on_msg(keeper.callback(self._on_browser_message, failure="an upload message failed"))

    def _on_browser_message(self, _widget: object, content: Any, buffers: list[Any]) -> None:
        try:
            message = _BROWSER_MESSAGE.validate_python(content)
        except ValidationError as error:
            logger.warning("ignored a malformed upload message: %s", error)
            upload_id = content.get("id") if isinstance(content, dict) else None
            if isinstance(upload_id, str):
                self._reply(type="failed", id=upload_id, reason="the browser sent a bad message")
            return
        try:
            self._dispatch(message, buffers)
        except FileRejected as rejection:
            if not isinstance(message, RefusedMessage):
                self._reply(type="failed", id=message.id, reason=rejection.reason)
        except Exception:
            logger.exception("an upload message could not be handled")
            if not isinstance(message, RefusedMessage):
                self._reply(type="failed", id=message.id, reason="the kernel failed to store it")

    def _dispatch(self, message: BrowserMessage, buffers: list[Any]) -> None:
        listener = self._listener
        match message:
            case StartMessage(id=upload_id, name=name, size=size):
                listener.upload_started(upload_id, name, size)
                self._reply(type="ready", id=upload_id)
            case ChunkMessage(id=upload_id, index=index, offset=offset):
                if len(buffers) != 1:
                    problem = f"a chunk came with {len(buffers)} buffers instead of one"
                    listener.upload_cancelled(upload_id, problem)
                    raise FileRejected(upload_id, problem)
                received = listener.chunk_received(upload_id, index, offset, memoryview(buffers[0]))
                self._reply(type="ack", id=upload_id, index=index, received=received)
            case EndMessage(id=upload_id, chunks=chunks):
                verdict = listener.upload_ended(upload_id, chunks)
                self._reply(type="done", id=upload_id, ok=verdict is None, reason=verdict or "")
            case RefusedMessage(name=name, size=size, reason=reason):
                listener.refused_in_browser(name, size, reason)
            case CancelMessage(id=upload_id, reason=reason):
                listener.upload_cancelled(upload_id, reason)

    def reset(self) -> None:
        """Tell the browser the list was cleared."""
        self._reply(type="reset")

    def _reply(self, **content: object) -> None:
        self.send(content)
