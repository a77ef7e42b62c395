"""What route handlers are given: the server's context, the caller, the server's base URL."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request

from batchkit.errors import AuthError
from batchkit.server.context import ServerContext
from batchkit.server.records import UserRecord

__all__ = ["Context", "CurrentUser", "base_url", "current_user", "get_context"]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_context(request: Request) -> ServerContext:
    return cast(ServerContext, request.app.state.context)


Context = Annotated[ServerContext, Depends(get_context)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers=_CHALLENGE)


async def current_user(request: Request, context: Context) -> UserRecord:
    """The user of the request's bearer token; 401 before anything else is read."""
    header = request.headers.get("authorization", "")
    if not header:
        raise _unauthorized("missing token: send the header 'Authorization: Bearer <accessToken>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <accessToken>'")
    try:
        return await context.user_of_token(token.strip())
    except AuthError as exc:
        raise _unauthorized(exc.server_message) from None


CurrentUser = Annotated[UserRecord, Depends(current_user)]


def base_url(request: Request) -> str:
    """``http://host:port`` as the client addressed this server, without a trailing slash."""
    return str(request.base_url).rstrip("/")
