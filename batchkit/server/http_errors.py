"""Every HTTP error as ``{statusCode, message, error}``; validation failures are 400, not 422."""

from __future__ import annotations

import logging
import math
import sqlite3
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from batchkit.server.disk_space import is_disk_full

__all__ = [
    "DISK_FULL_MESSAGE",
    "LimitReached",
    "error_response",
    "install_error_handlers",
]

logger = logging.getLogger(__name__)

DISK_FULL_MESSAGE = (
    "the server's disk is full: nothing of this request was kept; "
    "try again once its administrator has made room"
)


class LimitReached(StarletteHTTPException):
    """A limit of the server refused the request; ``retry_after`` when waiting will help."""

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        headers = (
            None if retry_after is None else {"Retry-After": str(max(1, math.ceil(retry_after)))}
        )
        super().__init__(status, detail=message, headers=headers)


def error_response(
    status: int, message: str | list[str], headers: dict[str, str] | None = None
) -> JSONResponse:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body = {"statusCode": status, "message": message, "error": phrase}
    return JSONResponse(body, status_code=status, headers=headers)


def _where(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "request body"


def _describe(error: dict[str, Any]) -> str:
    where = _where(tuple(error.get("loc", ())))
    kind = error.get("type", "")
    if kind == "json_invalid":
        return "request body: not valid JSON"
    if kind == "extra_forbidden":
        return f"{where}: unknown field (property {where.rsplit('.', 1)[-1]} should not exist)"
    if kind == "missing" and where == "request body":
        return "request body: a JSON object is required"
    return f"{where}: {error.get('msg', 'invalid')}"


async def _validation_failed(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return error_response(400, [_describe(dict(error)) for error in errors] or ["invalid request"])


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover - registered for it
        return await _crashed(request, exc)
    detail: object = exc.detail
    message: str | list[str] = (
        [str(item) for item in detail] if isinstance(detail, list) else str(detail)
    )
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, message, headers=headers)


async def _client_went_away(request: Request, exc: Exception) -> JSONResponse:
    # Nobody reads this answer; what matters is that the partial upload was discarded (the
    # upload reader does that) and that a client closing its connection is not logged as a crash.
    logger.info("%s %s: the client disconnected mid-request", request.method, request.url.path)
    return error_response(400, "the client disconnected before the request was complete")


async def _storage_failed(request: Request, exc: Exception) -> JSONResponse:
    if not is_disk_full(exc):
        return await _crashed(request, exc)
    # One line, no traceback: a full disk is a state of the machine, not a bug.
    logger.warning("%s %s: the disk is full (%s)", request.method, request.url.path, exc)
    return error_response(HTTPStatus.INSUFFICIENT_STORAGE, DISK_FULL_MESSAGE)


async def _crashed(request: Request, exc: Exception) -> JSONResponse:
    logger.error("%s %s crashed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_went_away)
    app.add_exception_handler(OSError, _storage_failed)
    app.add_exception_handler(sqlite3.OperationalError, _storage_failed)
    app.add_exception_handler(Exception, _crashed)
