"""Every HTTP request body is bounded in size and in time, on every route, before anything else.

An ASGI middleware around the whole application (FastAPI and socket.io alike), so the limits
hold before authentication and whatever a route does with its body:

* a body whose ``Content-Length`` is over its route's limit is answered 413 at once, unread;
* a body without one (chunked) or one that lies is counted while it is read, and the read
  fails with 413 as soon as it passes the limit: nothing past it is ever buffered;
* a body that stalls (nothing for ``idle_timeout`` seconds) or drags on past ``deadline``
  seconds is answered 408.

An answer sent before the body was read to its end says "connection: close"; the connection
drains what is left for a few seconds (:mod:`batchkit.server.http_protocol`), then closes.
Starlette's ``RequestBodyLimitMiddleware`` counts bytes too, but it has no deadlines and does
not say which limit was passed; this server needs both.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException

__all__ = ["BodyLimit", "RequestLimits", "describe_bytes", "error_bytes"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def describe_bytes(size: int) -> str:
    """``1 MiB (1048576 bytes)``: what a limit is, in words and exactly."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit} ({size} bytes)"
    return f"{size} bytes"


def error_bytes(status: HTTPStatus, message: str) -> bytes:
    """The contract's error body, ``{statusCode, message, error}``, as JSON bytes."""
    body = {"statusCode": status.value, "message": message, "error": status.phrase}
    return json.dumps(body).encode()


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """The largest body a route accepts, and the name of the setting that says so."""

    max_bytes: int
    setting: str
    what: str = "the request body"

    def refusal(self, size: int | None = None) -> str:
        told = f" ({size} bytes)" if size is not None else ""
        return (
            f"{self.what}{told} is larger than the limit of {describe_bytes(self.max_bytes)}"
            f" ({self.setting})"
        )


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body passes its limit; answered 413."""

    def __init__(self, message: str) -> None:
        super().__init__(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, detail=message)


class BodyTooSlow(HTTPException):
    """Raised from ``receive`` when a body stalls or passes its deadline; answered 408."""

    def __init__(self, message: str) -> None:
        super().__init__(HTTPStatus.REQUEST_TIMEOUT, detail=message)


class RequestLimits:
    """The middleware: ``limits`` by exact path, ``default`` for every other path."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: BodyLimit,
        limits: Mapping[str, BodyLimit],
        idle_timeout: float,
        deadline: float,
    ) -> None:
        self._app = app
        self._default = default
        self._limits = dict(limits)
        self._idle_timeout = idle_timeout
        self._deadline = deadline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._limits.get(scope.get("path", ""), self._default)
        guard = _GuardedRequest(scope, receive, send, limit, self._idle_timeout, self._deadline)
        await guard.run(self._app)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            found: bytes = value
            return found
    return None


class _GuardedRequest:
    """One request: its body read through the limits, its answer closing when it must."""

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limit: BodyLimit,
        idle_timeout: float,
        deadline: float,
    ) -> None:
        self._scope, self._receive, self._send = scope, receive, send
        self._limit = limit
        self._idle_timeout = idle_timeout
        self._ends_at = asyncio.get_running_loop().time() + deadline
        self._deadline = deadline
        declared = _header(scope, b"content-length")
        self._declared = int(declared) if declared is not None and declared.isdigit() else None
        chunked = (_header(scope, b"transfer-encoding") or b"").lower() == b"chunked"
        self._body_done = not chunked and not self._declared
        self._received = 0
        self._response_started = False

    async def run(self, app: ASGIApp) -> None:
        if self._declared is not None and self._declared > self._limit.max_bytes:
            await self._answer(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self._limit.refusal(self._declared)
            )
            return
        try:
            await app(self._scope, self.receive, self.send)
        except (BodyTooLarge, BodyTooSlow) as refused:
            # Only an application that lets these through (socket.io's) gets here; FastAPI
            # answers them itself, in the contract's format.
            if self._response_started:
                raise
            await self._answer(HTTPStatus(refused.status_code), str(refused.detail))

    async def receive(self) -> Message:
        if self._body_done:
            return await self._receive()  # after the body: waiting for a disconnect is fine
        loop = asyncio.get_running_loop()
        remaining = self._ends_at - loop.time()
        try:
            async with asyncio.timeout(min(self._idle_timeout, max(remaining, 0.0))):
                message = await self._receive()
        except TimeoutError:
            raise BodyTooSlow(self._describe_slowness(remaining)) from None
        if message["type"] != "http.request":
            self._body_done = True
            return message
        self._received += len(message.get("body", b""))
        if self._received > self._limit.max_bytes:
            raise BodyTooLarge(self._limit.refusal())
        if not message.get("more_body", False):
            self._body_done = True
        return message

    def _describe_slowness(self, remaining: float) -> str:
        if remaining <= self._idle_timeout:
            return (
                f"the request body did not arrive within {self._deadline:g} s"
                " (body_deadline_seconds)"
            )
        return (
            f"the request body stalled: nothing arrived for {self._idle_timeout:g} s"
            " (body_idle_timeout_seconds)"
        )

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._response_started = True
            if not self._body_done:
                # The rest of the body will never be read: the connection cannot be reused.
                headers = [(k, v) for k, v in message.get("headers", ()) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await self._send(message)

    async def _answer(self, status: HTTPStatus, message: str) -> None:
        body = error_bytes(status, message)
        await self.send(
            {
                "type": "http.response.start",
                "status": status.value,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await self.send({"type": "http.response.body", "body": body})
