"""Accounts under abuse: login limits, hashing apart from the other work, users removed and
passwords changed (their tokens revoked), and a data directory only its owner can read."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import socketio

from batchkit.server import EmbeddedServer
from batchkit.server.accounts import hash_password

from .conftest import TIMEOUT, USERS, login
from .test_command import _read_until_listening, _serve

LOGIN = "/api/auth/login"


async def _try_login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post(LOGIN, json={"username": username, "password": password})


# ---------------------------------------------------------------- login limits
async def test_failed_logins_of_one_user_are_limited_with_429_and_retry_after(
    server_factory: Callable[..., EmbeddedServer],
) -> None:
    server = server_factory(login_failures_per_user=3, login_failures_per_address=100)
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        codes = [(await _try_login(http, "alice", "wrong")).status_code for _ in range(3)]
        assert codes == [401, 401, 401]
        refused = await _try_login(http, "alice", USERS["alice"])  # even the right password
        assert refused.status_code == 429, refused.text
        assert "login_failures_per_user" in refused.json()["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # Another user's logins are not held back.
        assert (await _try_login(http, "bob", USERS["bob"])).status_code == 201


async def test_successful_logins_are_not_counted(
    server_factory: Callable[..., EmbeddedServer],
) -> None:
    server = server_factory(login_failures_per_user=2, login_failures_per_address=2)
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        for _ in range(6):
            assert (await _try_login(http, "alice", USERS["alice"])).status_code == 201


async def test_failed_logins_from_one_address_are_limited_whatever_the_names(
    server_factory: Callable[..., EmbeddedServer],
) -> None:
    server = server_factory(login_failures_per_user=100, login_failures_per_address=4)
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        codes = [(await _try_login(http, f"user{i}", "pw")).status_code for i in range(5)]
        assert codes == [401, 401, 401, 401, 429]
        last = await _try_login(http, "someone-else", "pw")
        assert "login_failures_per_address" in last.json()["message"]


async def test_a_flood_sent_all_at_once_is_refused_before_it_is_hashed(
    server_factory: Callable[..., EmbeddedServer],
) -> None:
    """Fifty wrong passwords at once: attempts count from their start, so no more than the limit
    are ever checked (hashed); the rest are 429 at once."""
    server = server_factory(login_failures_per_user=5, login_failures_per_address=100)
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        answers = await asyncio.gather(*(_try_login(http, "alice", "wrong") for _ in range(50)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [401] * 5 + [429] * 45


async def test_a_login_flood_does_not_queue_ahead_of_uploads(
    server_factory: Callable[..., EmbeddedServer],
) -> None:
    """Password hashing has its own thread: with 60 logins being hashed, an upload (whose parsing
    runs on the shared thread pool) is answered while most of them still wait. With hashing on
    the shared pool the upload queues behind them and comes back after nearly all."""
    server = server_factory(login_failures_per_user=1000, login_failures_per_address=1000)
    alice = await login(server.url, "alice", USERS["alice"])
    answered = 0
    first_answered = asyncio.Event()

    async def one_login(http: httpx.AsyncClient) -> None:
        nonlocal answered
        await _try_login(http, "bob", "wrong")
        answered += 1
        first_answered.set()

    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as http:
        flood = [asyncio.create_task(one_login(http)) for _ in range(60)]
        async with asyncio.timeout(TIMEOUT):
            await first_answered.wait()  # the flood has reached the hashing
        await alice.upload(("small.txt", b"eleven byte"))
        answered_when_uploaded = answered
        await asyncio.gather(*flood)
    await alice.http.aclose()
    assert answered_when_uploaded < 30, f"{answered_when_uploaded} of 60 logins went first"


# ---------------------------------------------------------------- revocation
async def test_a_password_change_revokes_the_old_tokens(
    server_factory: Callable[..., EmbeddedServer], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = server_factory(data_dir=data, users={"bob": "old-password"})
    bob = await login(first.url, "bob", "old-password")
    old_token = bob.token
    await bob.http.aclose()
    first.stop()
    same = server_factory(data_dir=data, users={"bob": "old-password"})
    async with httpx.AsyncClient(base_url=same.url, timeout=TIMEOUT) as http:
        kept = await http.get(
            "/api/stories/options", headers={"Authorization": f"Bearer {old_token}"}
        )
        assert kept.status_code == 200, "a restart with the same password must keep tokens"
    same.stop()
    changed = server_factory(data_dir=data, users={"bob": "new-password"})
    async with httpx.AsyncClient(base_url=changed.url, timeout=TIMEOUT) as http:
        revoked = await http.get(
            "/api/stories/options", headers={"Authorization": f"Bearer {old_token}"}
        )
        assert revoked.status_code == 401
        assert "revoked" in revoked.json()["message"]
        assert (await _try_login(http, "bob", "old-password")).status_code == 401
        assert (await _try_login(http, "bob", "new-password")).status_code == 201


async def test_a_removed_user_can_neither_log_in_nor_use_a_token(
    server_factory: Callable[..., EmbeddedServer], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = server_factory(data_dir=data)
    bob = await login(first.url, "bob", USERS["bob"])
    token = bob.token
    await bob.http.aclose()
    first.stop()
    server = server_factory(data_dir=data, users={"alice": USERS["alice"]}, removed_users={"bob"})
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        response = await http.get(
            "/api/stories/options", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401
        assert "removed" in response.json()["message"]
        assert (await _try_login(http, "bob", USERS["bob"])).status_code == 401
        assert (await _try_login(http, "alice", USERS["alice"])).status_code == 201
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.url, auth={"token": token}, transports=["websocket"])
    server.stop()
    # Given a password again, the user is back, with none of its old tokens.
    back = server_factory(data_dir=data, users={"bob": "a-fresh-start"})
    async with httpx.AsyncClient(base_url=back.url, timeout=TIMEOUT) as http:
        response = await http.get(
            "/api/stories/options", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401
        assert (await _try_login(http, "bob", "a-fresh-start")).status_code == 201


async def test_serve_remove_user_revokes_tokens(tmp_path: Path) -> None:
    """``batchkit serve --remove-user NAME``, as a user runs it."""
    data = str(tmp_path / "data")
    users = ("--user", "erin:erin-pw", "--user", "finn:finn-pw")
    process = await _serve("--data-dir", data, *users)
    try:
        url, _ = await _read_until_listening(process)
        finn = await login(url, "finn", "finn-pw")
        await finn.http.aclose()
    finally:
        process.terminate()
        await process.wait()
    process = await _serve("--data-dir", data, "--user", "erin:erin-pw", "--remove-user", "finn")
    try:
        url, _ = await _read_until_listening(process)
        async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as http:
            auth = {"Authorization": f"Bearer {finn.token}"}
            assert (await http.get("/api/stories/options", headers=auth)).status_code == 401
            assert (await _try_login(http, "finn", "finn-pw")).status_code == 401
            assert (await _try_login(http, "erin", "erin-pw")).status_code == 201
    finally:
        process.terminate()
        await process.wait()


# ---------------------------------------------------------------- files
def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_data_directory_and_its_secrets_are_the_owners_only(
    server_factory: Callable[..., EmbeddedServer], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "jwt-secret").write_text("an-old-secret-written-world-readable")
    (data / "jwt-secret").chmod(0o644)
    server = server_factory(data_dir=data)
    alice = await login(server.url, "alice", USERS["alice"])
    await alice.upload(("a.txt", b"some words"))  # the database has written its -wal by now
    await alice.http.aclose()
    assert _mode(data) == 0o700
    assert _mode(data / "jwt-secret") == 0o600
    database = data / "batchkit.sqlite3"
    for path in (database, database.with_name(database.name + "-wal")):
        assert _mode(path) == 0o600, path.name


async def test_a_database_from_before_the_new_columns_still_serves(
    server_factory: Callable[..., EmbeddedServer], tmp_path: Path
) -> None:
    """A data directory made by an earlier version (no token generations, no removal)."""
    data = tmp_path / "data"
    data.mkdir()
    with closing(sqlite3.connect(data / "batchkit.sqlite3")) as connection:
        connection.execute(
            "CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE,"
            " password_hash TEXT NOT NULL, email TEXT NOT NULL DEFAULT '',"
            " full_name TEXT NOT NULL DEFAULT '', role TEXT NOT NULL DEFAULT 'user',"
            " created_at TEXT NOT NULL)"
        )
        connection.execute(
            "INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)",
            ("ab" * 12, "alice", hash_password(USERS["alice"]), "2026-01-01T00:00:00+00:00"),
        )
        connection.commit()
    server = server_factory(data_dir=data, users={"bob": USERS["bob"]})
    alice = await login(server.url, "alice", USERS["alice"])
    assert (await alice.http.get("/api/stories/options", headers=alice.auth)).status_code == 200
    await alice.http.aclose()
