"""Receiving uploads: multipart parsed while it streams in, limits enforced byte by byte.

Nothing is held in memory beyond one network chunk (python-multipart caps a part's headers):
each file goes to a ``.part`` file under its final, server-made name, and is renamed once
complete. Any refusal (too many files, a file too large, a bad extension, another field, the
user's storage quota, a full disk) stops reading at once and deletes every file this request
wrote, complete or not. The request as a whole is bounded by
:mod:`batchkit.server.request_limits`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import IO

from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from batchkit.contract import ALLOWED_EXTENSIONS
from batchkit.server.quotas import Allowance
from batchkit.server.storage import DataPaths, stored_upload_path

__all__ = ["ReceivedFile", "UploadLimits", "UploadRejected", "receive_uploads"]

FIELD_NAME = "files"
_MiB = 1024 * 1024
_MULTIPART_SLACK = 64 * 1024
"""Room for boundaries and part headers when judging a request by its size."""


class UploadRejected(Exception):
    """The upload was refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_files: int
    max_file_bytes: int
    extensions: tuple[str, ...] = ALLOWED_EXTENSIONS

    @property
    def max_request_bytes(self) -> int:
        return self.max_files * (self.max_file_bytes + _MULTIPART_SLACK) + _MULTIPART_SLACK

    def describe_size(self) -> str:
        if self.max_file_bytes % _MiB == 0:
            return f"{self.max_file_bytes // _MiB} MiB ({self.max_file_bytes} bytes)"
        return f"{self.max_file_bytes} bytes"


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    file_name: str
    """What the client called it; shown back, never used for a path."""
    file_path: str
    """Where it is stored, relative to the data directory."""
    file_size: int


@dataclass(slots=True)
class _OpenPart:
    client_name: str
    file_path: str
    target: Path
    partial: Path
    handle: IO[bytes]
    size: int = 0


@dataclass(slots=True)
class _MultipartReceiver:
    """Callbacks of python-multipart's streaming parser; runs on a worker thread."""

    paths: DataPaths
    limits: UploadLimits
    allowance: Allowance
    files: list[ReceivedFile] = field(default_factory=list)
    ended: bool = False
    _headers: dict[bytes, bytes] = field(default_factory=dict)
    _header_field: bytearray = field(default_factory=bytearray)
    _header_value: bytearray = field(default_factory=bytearray)
    _part: _OpenPart | None = None
    _parts_seen: int = 0
    _written: list[Path] = field(default_factory=list)

    def on_part_begin(self) -> None:
        self._headers.clear()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_field).strip().lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name != FIELD_NAME:
            raise UploadRejected(
                HTTPStatus.BAD_REQUEST,
                f"unexpected field {name!r}: send each file in the field {FIELD_NAME!r}",
            )
        raw_name = options.get(b"filename")
        if raw_name is None:
            raise UploadRejected(
                HTTPStatus.BAD_REQUEST, f"the field {FIELD_NAME!r} must carry a file, not a value"
            )
        # Browsers send the UTF-8 bytes of the name; the parser handed them over as latin-1.
        client_name = raw_name.decode("utf-8", "replace").strip()
        if not client_name:
            return  # an empty file input of an HTML form: no file chosen
        self._parts_seen += 1
        if self._parts_seen > self.limits.max_files:
            raise UploadRejected(
                HTTPStatus.BAD_REQUEST,
                f"too many files: at most {self.limits.max_files} per request",
            )
        self._part = self._open(client_name)

    def _open(self, client_name: str) -> _OpenPart:
        base = client_name.replace("\\", "/").rsplit("/", 1)[-1]
        extension = "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""
        if extension not in self.limits.extensions:
            allowed = ", ".join(self.limits.extensions)
            raise UploadRejected(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"{client_name}: only {allowed} files are accepted",
            )
        file_path = stored_upload_path(base, extension)
        target = self.paths.root / file_path
        partial = target.with_name(target.name + ".part")
        self._written.append(partial)
        return _OpenPart(client_name, file_path, target, partial, partial.open("xb"))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if part is None:
            return
        part.size += end - start
        if part.size > self.limits.max_file_bytes:
            raise UploadRejected(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"{part.client_name} is larger than the limit of {self.limits.describe_size()}",
            )
        refusal = self.allowance.charge(end - start)
        if refusal is not None:
            raise UploadRejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, refusal)
        part.handle.write(data[start:end])

    def on_part_end(self) -> None:
        part, self._part = self._part, None
        if part is None:
            return
        part.handle.close()
        part.partial.replace(part.target)
        self._written.append(part.target)
        self.files.append(ReceivedFile(part.client_name, part.file_path, part.size))

    def on_end(self) -> None:
        self.ended = True

    def discard(self) -> None:
        """Delete everything this request wrote."""
        if self._part is not None:
            # On a full disk, closing fails to flush what is buffered: the file goes anyway.
            with contextlib.suppress(OSError):
                self._part.handle.close()
            self._part = None
        for path in self._written:
            path.unlink(missing_ok=True)


def _boundary(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRejected(
            HTTPStatus.BAD_REQUEST,
            f"expected a multipart/form-data body with the field {FIELD_NAME!r}",
        )
    return boundary


def _parser(boundary: bytes, receiver: _MultipartReceiver) -> MultipartParser:
    try:
        return _callbacks_parser(boundary, receiver)
    except FormParserError as exc:  # e.g. a boundary longer than multipart allows
        raise UploadRejected(HTTPStatus.BAD_REQUEST, f"bad multipart boundary: {exc}") from None


def _callbacks_parser(boundary: bytes, receiver: _MultipartReceiver) -> MultipartParser:
    return MultipartParser(
        boundary,
        {
            "on_part_begin": receiver.on_part_begin,
            "on_header_field": receiver.on_header_field,
            "on_header_value": receiver.on_header_value,
            "on_header_end": receiver.on_header_end,
            "on_headers_finished": receiver.on_headers_finished,
            "on_part_data": receiver.on_part_data,
            "on_part_end": receiver.on_part_end,
            "on_end": receiver.on_end,
        },
    )


async def receive_uploads(
    body: AsyncIterator[bytes],
    *,
    content_type: str,
    paths: DataPaths,
    limits: UploadLimits,
    allowance: Allowance,
) -> list[ReceivedFile]:
    """Store every file of a multipart ``body``; :class:`UploadRejected` when refused.

    ``allowance`` is what the user may still store. Any other error (a full disk, say) is
    raised as it is, once everything written is deleted.
    """
    receiver = _MultipartReceiver(paths, limits, allowance)
    parser = _parser(_boundary(content_type), receiver)
    try:
        async for chunk in body:
            if chunk:
                # Parsing writes to disk: a worker thread keeps that off the event loop.
                await asyncio.to_thread(parser.write, chunk)
        if not receiver.files:
            raise UploadRejected(
                HTTPStatus.BAD_REQUEST, f"no file was uploaded in the field {FIELD_NAME!r}"
            )
        if not receiver.ended:
            raise UploadRejected(HTTPStatus.BAD_REQUEST, "the multipart body ended too early")
    except MultipartParseError as exc:
        receiver.discard()
        raise UploadRejected(HTTPStatus.BAD_REQUEST, f"malformed multipart body: {exc}") from None
    except BaseException:
        receiver.discard()  # a few unlinks; done here so that even a cancellation cleans up
        raise
    return receiver.files
