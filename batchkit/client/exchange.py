"""The boundary with httpx: one request out, one response or one batchkit error back.

Every httpx exception is translated here and nowhere else; every error status becomes the
:mod:`batchkit.errors` class that names it, carrying the method, the URL (without secrets) and
the server's own message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from batchkit.client.retry import parse_retry_after
from batchkit.contract.redaction import redact_url
from batchkit.contract.rest import ErrorBody
from batchkit.errors import (
    APIError,
    AuthError,
    ConnectError,
    NotFoundError,
    RateLimited,
    RequestRejected,
    RequestTimeout,
    ServerError,
    TransportError,
)

__all__ = ["api_error", "exchange", "read_model"]

logger = logging.getLogger("batchkit.client")

Model = TypeVar("Model", bound=BaseModel)
Scrub = Callable[[str], str]

_MESSAGE_MAX: Final = 300


async def exchange(
    http: httpx.AsyncClient, request: httpx.Request, *, scrub: Scrub
) -> httpx.Response:
    """Send ``request`` and read the whole answer; any failure to get one is a TransportError.

    The answer is returned whatever its status: the caller decides about retries first.
    """
    method, url = request.method, redact_url(str(request.url))
    try:
        return await http.send(request)
    except (httpx.ConnectError, httpx.ConnectTimeout) as error:
        raise ConnectError(_describe(error, scrub), method=method, url=url) from error
    except httpx.TimeoutException as error:
        raise RequestTimeout(_describe(error, scrub), method=method, url=url) from error
    except httpx.HTTPError as error:
        raise TransportError(_describe(error, scrub), method=method, url=url) from error


def api_error(response: httpx.Response, *, scrub: Scrub) -> APIError:
    """The batchkit error for an error status, with the server's message (secrets masked)."""
    status, method = response.status_code, response.request.method
    url = redact_url(str(response.request.url))
    message = scrub(_server_message(response))
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return RateLimited(message, method=method, url=url, retry_after=retry_after)
    if not 400 <= status < 600:
        message = f"unexpected answer: {message}"
    return _error_class(status)(message, status=status, method=method, url=url)


def _error_class(status: int) -> type[APIError]:
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFoundError
    if 400 <= status < 500:
        return RequestRejected
    if status >= 500:
        return ServerError
    return APIError


def read_model(response: httpx.Response, model: type[Model]) -> Model:
    """The response body as ``model``; a body that breaks the contract is an APIError."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise APIError(
            f"the answer does not match the contract ({where}: {first['msg']})",
            status=response.status_code,
            method=response.request.method,
            url=redact_url(str(response.request.url)),
        ) from None


def _server_message(response: httpx.Response) -> str:
    try:
        return ErrorBody.model_validate_json(response.content).text()
    except ValidationError:
        pass
    text = response.text.strip() if "html" not in response.headers.get("content-type", "") else ""
    if not text:
        return response.reason_phrase or "no message"
    return text if len(text) <= _MESSAGE_MAX else text[:_MESSAGE_MAX] + "…"


def _describe(error: httpx.HTTPError, scrub: Scrub) -> str:
    detail = str(error) or type(error).__name__
    return scrub(f"{_KIND.get(type(error), 'the connection failed')}: {detail}")


_KIND: Final[dict[type[httpx.HTTPError], str]] = {
    httpx.ConnectError: "cannot connect to the server",
    httpx.ConnectTimeout: "timed out connecting to the server",
    httpx.ReadTimeout: "the server did not answer in time",
    httpx.WriteTimeout: "timed out sending the request",
    httpx.PoolTimeout: "no free connection in time",
    httpx.RemoteProtocolError: "the server closed the connection",
    httpx.ReadError: "the connection broke while reading the answer",
    httpx.WriteError: "the connection broke while sending the request",
}
