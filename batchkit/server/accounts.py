"""User accounts: salted scrypt password hashes and the queries on the ``users`` table."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from batchkit.server.auth import kept_secret
from batchkit.server.database import Database
from batchkit.server.records import UserRecord, new_id, utc_now

__all__ = ["DEMO_USER", "Accounts", "demo_password", "hash_password", "verify_password"]

DEMO_USER: Final = "demo"
"""The user a server started without users gets."""
DEMO_PASSWORD_FILE: Final = "demo-password"  # noqa: S105 - a file name, not a password

# scrypt's cost: about 16 MiB and tens of milliseconds per hash, run off the event loop.
_N, _R, _P, _KEY_BYTES = 2**14, 8, 1, 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$key``: a fresh random salt every time."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_KEY_BYTES)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``, compared in constant time."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def demo_password(data_dir: Path) -> tuple[str, Path]:
    """The demo user's password and the file keeping it (``data_dir/demo-password``, mode 0600).

    Made once per data directory, so a restart without users keeps the password that worked.
    """
    path = data_dir / DEMO_PASSWORD_FILE
    return kept_secret(path, lambda: secrets.token_urlsafe(12)), path


@functools.cache
def _decoy_hash() -> str:
    """Checked against when the user name is unknown, so a miss costs as long as a hit."""
    return hash_password(secrets.token_urlsafe(16))


class Accounts:
    """Creates users and checks their passwords."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure_users(self, users: Mapping[str, str]) -> None:
        """Create each user, or reset its password to the one given."""
        for username, password in users.items():
            password_hash = await asyncio.to_thread(hash_password, password)
            await self._db.run(
                functools.partial(_upsert_user, username=username, password_hash=password_hash)
            )

    async def authenticate(self, username: str, password: str) -> UserRecord | None:
        """The user whose name and password these are, or ``None``."""
        found = await self._db.run(lambda c: _find_by_name(c, username))
        stored = found[1] if found else await asyncio.to_thread(_decoy_hash)
        valid = await asyncio.to_thread(verify_password, password, stored)
        return found[0] if found and valid else None

    async def get(self, user_id: str) -> UserRecord | None:
        row = await self._db.run(
            lambda c: c.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        )
        return UserRecord.from_row(row) if row else None


def _upsert_user(connection: sqlite3.Connection, *, username: str, password_hash: str) -> None:
    connection.execute(
        "INSERT INTO users (id, username, password_hash, full_name, created_at)"
        " VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash",
        (new_id(), username, password_hash, username, utc_now()),
    )


def _find_by_name(connection: sqlite3.Connection, username: str) -> tuple[UserRecord, str] | None:
    row = connection.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
    return (UserRecord.from_row(row), row["password_hash"]) if row else None
