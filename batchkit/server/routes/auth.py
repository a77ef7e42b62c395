"""``POST /api/auth/login``: a name and a password in, an access token out."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse

from batchkit.contract import LoginRequest, LoginResponse, UserInfo
from batchkit.server.routes.dependencies import Context
from batchkit.server.views import json_body

__all__ = ["router"]

router = APIRouter(prefix="/api/auth")


@router.post("/login", status_code=201)
async def login(body: LoginRequest, context: Context) -> JSONResponse:
    """Check the password and issue an access token (its real lifetime is the JWT ``exp``)."""
    user = await context.accounts.authenticate(body.username, body.password)
    if user is None:
        raise HTTPException(status_code=401, detail="invalid username or password")
    tokens = context.tokens.issue(user.id, user.username)
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
