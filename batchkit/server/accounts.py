"""User accounts: salted scrypt password hashes and the queries on the ``users`` table.

Hashing runs on a small executor of its own, never on the default thread pool that the
uploads and the engines share: a flood of logins costs its own threads, not everyone's time.
A removed user keeps its row (its batches refer to it) but can neither log in nor use a token.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import logging
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final, TypeVar

from batchkit.server.auth import kept_secret
from batchkit.server.database import Database
from batchkit.server.records import UserRecord, new_id, utc_now

__all__ = ["DEMO_USER", "Accounts", "demo_password", "hash_password", "verify_password"]

DEMO_USER: Final = "demo"
"""The user a server started without users gets."""
DEMO_PASSWORD_FILE: Final = "demo-password"  # noqa: S105 - a file name, not a password

logger = logging.getLogger(__name__)

T = TypeVar("T")

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
    """Creates, updates and removes users, and checks their passwords."""

    def __init__(self, db: Database, *, hash_workers: int = 1) -> None:
        self._db = db
        self._hashing = ThreadPoolExecutor(max_workers=hash_workers, thread_name_prefix="bk-hash")

    def close(self) -> None:
        """Stop the hashing threads (hashes not started yet are dropped)."""
        self._hashing.shutdown(wait=False, cancel_futures=True)

    async def _hash_off_loop(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._hashing, work)

    async def ensure_users(self, users: Mapping[str, str]) -> None:
        """Create each user, or give it back its access with the password given.

        A password that differs from the stored one replaces it and revokes the user's tokens;
        the same password changes nothing, so a restart keeps everyone logged in.
        """
        for username, password in users.items():
            found = await self._db.run(functools.partial(_find_by_name, username=username))
            if found is not None and not found[0].removed:
                stored = found[1]
                if await self._hash_off_loop(functools.partial(verify_password, password, stored)):
                    continue
            password_hash = await self._hash_off_loop(functools.partial(hash_password, password))
            await self._db.run(
                functools.partial(_upsert_user, username=username, password_hash=password_hash)
            )

    async def remove_users(self, usernames: Iterable[str]) -> None:
        """Refuse these users from now on: their logins and every token they hold."""
        for username in usernames:
            removed = await self._db.run(functools.partial(_remove_user, username=username))
            if not removed:
                logger.warning("no user named %r to remove", username)

    async def authenticate(self, username: str, password: str) -> UserRecord | None:
        """The user whose name and password these are, or ``None``."""
        found = await self._db.run(lambda c: _find_by_name(c, username))
        stored = found[1] if found else await self._hash_off_loop(_decoy_hash)
        valid = await self._hash_off_loop(functools.partial(verify_password, password, stored))
        if found is None or not valid or found[0].removed:
            return None
        return found[0]

    async def get(self, user_id: str) -> UserRecord | None:
        row = await self._db.run(
            lambda c: c.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        )
        return UserRecord.from_row(row) if row else None


def _upsert_user(connection: sqlite3.Connection, *, username: str, password_hash: str) -> None:
    """Insert the user, or set its new password: its old tokens die with the old one."""
    connection.execute(
        "INSERT INTO users (id, username, password_hash, full_name, created_at)"
        " VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash,"
        " token_generation = token_generation + 1, removed = 0",
        (new_id(), username, password_hash, username, utc_now()),
    )


def _remove_user(connection: sqlite3.Connection, username: str) -> bool:
    cursor = connection.execute(
        "UPDATE users SET removed = 1, token_generation = token_generation + 1"
        " WHERE username = ? AND removed = 0",
        (username,),
    )
    if cursor.rowcount:
        return True
    return (
        connection.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
        is not None
    )


def _find_by_name(connection: sqlite3.Connection, username: str) -> tuple[UserRecord, str] | None:
    row = connection.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
    return (UserRecord.from_row(row), row["password_hash"]) if row else None
