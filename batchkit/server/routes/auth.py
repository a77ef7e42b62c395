"""``POST /api/auth/login``: a name and a password in, an access token out.

Failed logins are limited per user name and per client address (429 with ``Retry-After``,
before any password is hashed): see :mod:`batchkit.server.login_limits`.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from batchkit.contract import LoginRequest, LoginResponse, UserInfo
from batchkit.server.routes.dependencies import Context
from batchkit.server.views import json_body

__all__ = ["router"]

router = APIRouter(prefix="/api/auth")


@router.post("/login", status_code=201)
async def login(body: LoginRequest, request: Request, context: Context) -> JSONResponse:
    """Check the password and issue an access token (its real lifetime is the JWT ``exp``)."""
    address = request.client.host if request.client else ""
    attempt = context.logins.begin(body.username, address)
    user = await context.accounts.authenticate(body.username, body.password)
    if user is None:
        raise HTTPException(status_code=401, detail="invalid username or password")
    context.logins.succeeded(attempt)
    tokens = context.tokens.issue(user.id, user.username, user.token_generation)
    response = LoginResponse(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        token_type="Bearer",  # noqa: S106 - the scheme's name, not a secret
        expires_in=tokens.expires_in,
        expires_at=tokens.expires_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        user=UserInfo(
            id=user.id,
            username=user.username,
            email=user.email,
            full_name=user.full_name,
            role=user.role,
        ),
    )
    return JSONResponse(json_body(response), status_code=201)
