"""Where the client connects and who it is: from arguments, else from the environment.

Environment variables: ``BATCHKIT_URL``, ``BATCHKIT_TOKEN``, ``BATCHKIT_USERNAME``,
``BATCHKIT_PASSWORD``, ``BATCHKIT_PROFILE`` (``reference`` or ``production``) and
``BATCHKIT_UPLOAD_PATH``. Credentials come as a whole from one place: when any of ``token``,
``username`` or ``password`` is passed as an argument, none is read from the environment.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from batchkit.client.secret import Secret
from batchkit.config.profiles import REFERENCE, Profile
from batchkit.errors import ConfigError

__all__ = ["ClientSettings", "token_renewal_time"]


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """The resolved connection settings; secrets stay wrapped."""

    base_url: str
    profile: Profile
    token: Secret | None = None
    username: str | None = None
    password: Secret | None = field(default=None)

    @property
    def can_login(self) -> bool:
        return self.username is not None and self.password is not None

    @classmethod
    def resolve(
        cls,
        base_url: str | None,
        *,
        token: str | None,
        username: str | None,
        password: str | None,
        profile: str | Profile | None,
        upload_path: str | None,
        env: Mapping[str, str],
    ) -> ClientSettings:
        """Settings from the arguments, falling back to ``env`` for each one not given."""
        url = _root_url(base_url or env.get("BATCHKIT_URL"))
        chosen = Profile.named(profile or env.get("BATCHKIT_PROFILE") or REFERENCE)
        if path := upload_path or env.get("BATCHKIT_UPLOAD_PATH"):
            chosen = chosen.with_upload_path(path)
        if token is None and username is None and password is None:
            token = env.get("BATCHKIT_TOKEN") or None
            username = env.get("BATCHKIT_USERNAME") or None
            password = env.get("BATCHKIT_PASSWORD") or None
        if (username is None) != (password is None):
            missing = "password" if password is None else "username"
            raise ConfigError(
                "a username needs a password, and a password a username", field=missing
            )
        if token is None and username is None:
            raise ConfigError(
                "none given: pass {token}, or {username} and {password} (or set BATCHKIT_TOKEN, "
                "or BATCHKIT_USERNAME and BATCHKIT_PASSWORD)",
                field="credentials",
                mentions=("token", "username", "password"),
            )
        return cls(
            base_url=url,
            profile=chosen,
            token=Secret(_bare_token(token)) if token else None,
            username=username,
            password=Secret(password) if password else None,
        )


def _root_url(value: str | None) -> str:
    if not value:
        raise ConfigError(
            "none given: pass {base_url} or set BATCHKIT_URL",
            field="base_url",
            mentions=["base_url"],
        )
    try:
        url = httpx.URL(value.strip())
    except httpx.InvalidURL as error:
        raise ConfigError(f"{value!r} is not a URL: {error}", field="base_url") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(f"{value!r} is not an http:// or https:// URL", field="base_url")
    path = url.path.rstrip("/")
    # Routes are joined as "/api/...": a URL given with its "/api" would double it.
    path = path.removesuffix("/api")
    return str(url.copy_with(path=path or "", query=None, fragment=None)).rstrip("/")


def _bare_token(token: str) -> str:
    token = token.strip()
    return token[7:].strip() if token.lower().startswith("bearer ") else token


def token_renewal_time(token: Secret) -> float | None:
    """When to log in again (seconds since the epoch), from the JWT's unverified claims.

    A little before ``exp``: 30 seconds, or a tenth of the token's lifetime when ``iat`` says
    it lives shorter than five minutes. ``None`` for a token without ``exp`` (opaque tokens):
    then only a 401 makes the client log in again. The server still decides either way.
    """
    claims = _jwt_claims(token)
    expiry, issued = _number(claims.get("exp")), _number(claims.get("iat"))
    if expiry is None:
        return None
    margin = 30.0 if issued is None else min(30.0, max(0.0, expiry - issued) / 10)
    return expiry - margin


def _jwt_claims(token: Secret) -> dict[str, object]:
    parts = token.reveal().split(".")
    if len(parts) != 3:
        return {}
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
