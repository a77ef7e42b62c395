"""Access tokens: HS256 JWTs whose secret lives in the data directory, so restarts keep them.

Each token carries its user's token generation (claim ``gen``); changing the password or
removing the user bumps the generation, which revokes every token issued before.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from batchkit.errors import AuthError

__all__ = ["IssuedTokens", "TokenClaims", "TokenService", "kept_secret", "load_or_create_secret"]

_ALGORITHM = "HS256"
_ACCESS = "access"
_REFRESH = "refresh"


def load_or_create_secret(data_dir: Path) -> str:
    """The signing secret kept in ``data_dir/jwt-secret`` (owner-readable only), made once."""
    return kept_secret(data_dir / "jwt-secret", lambda: secrets.token_urlsafe(48))


def kept_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret kept in ``path``; the first time, ``make()``'s, written owner-readable only.

    A restart on the same data directory reads it back, so what it protects keeps working.
    """
    try:
        secret = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        secret = ""
    if secret:
        os.chmod(path, 0o600)  # one written by an older version may be readable by others
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = make()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secret)
    return secret


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid access token says: whose it is, and the generation it was issued in."""

    user_id: str
    generation: int


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    expires_at: datetime


class TokenService:
    """Issues and checks tokens; a checked token yields the user id it was issued to."""

    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._ttl = ttl_seconds

    def __repr__(self) -> str:
        return f"TokenService(ttl_seconds={self._ttl})"

    def issue(self, user_id: str, username: str, generation: int = 0) -> IssuedTokens:
        now = datetime.now(UTC)
        expires_at = now + timedelta(seconds=self._ttl)
        claims = {
            "sub": user_id,
            "username": username,
            "gen": generation,
            "iat": now,
            "exp": expires_at,
        }
        access = jwt.encode({**claims, "typ": _ACCESS}, self._secret, algorithm=_ALGORITHM)
        refresh = jwt.encode({**claims, "typ": _REFRESH}, self._secret, algorithm=_ALGORITHM)
        return IssuedTokens(access, refresh, self._ttl, expires_at)

    def claims(self, token: str) -> TokenClaims:
        """Whose access token this is; :class:`AuthError` when it is not valid."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired; log in again", status=401) from None
        except jwt.InvalidTokenError:
            raise AuthError("the token is not valid", status=401) from None
        if claims.get("typ") != _ACCESS or not isinstance(claims.get("sub"), str):
            raise AuthError("the token is not an access token", status=401)
        generation = claims.get("gen", 0)  # tokens from before generations existed: the first
        if not isinstance(generation, int) or isinstance(generation, bool):
            raise AuthError("the token is not valid", status=401)
        return TokenClaims(claims["sub"], generation)
