"""The limits as ``batchkit serve`` flags: each one reaches the server; a bad one is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from batchkit.server.settings import LIMITS

from .conftest import TIMEOUT
from .test_command import _read_until_listening, _serve


async def test_every_limit_has_a_flag_with_its_default(tmp_path: Path) -> None:
    process = await _serve("--help")
    async with asyncio.timeout(TIMEOUT):
        out, _ = await process.communicate()
    text = out.decode()
    for name in LIMITS:
        assert "--" + name.replace("_", "-") in text, name
    assert "--remove-user" in text


async def test_a_limit_given_as_a_flag_is_the_servers(tmp_path: Path) -> None:
    process = await _serve(
        "--data-dir", str(tmp_path / "data"), "--user", "erin:erin-pw",
        "--max-json-body-bytes", "64",
    )  # fmt: skip
    try:
        url, _ = await _read_until_listening(process)
        async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as http:
            short = await http.post("/api/auth/login", json={"username": "erin", "password": "x"})
            assert short.status_code == 401
            long = await http.post(
                "/api/auth/login", json={"username": "erin" * 20, "password": "x"}
            )
            assert long.status_code == 413
            assert "64 bytes" in long.json()["message"]
    finally:
        process.terminate()
        await process.wait()


async def test_a_limit_of_zero_is_refused_with_a_message(tmp_path: Path) -> None:
    process = await _serve("--data-dir", str(tmp_path), "--max-user-stored-bytes", "0")
    async with asyncio.timeout(TIMEOUT):
        _, stderr = await process.communicate()
    assert process.returncode == 2  # a usage error
    assert b"--max-user-stored-bytes" in stderr  # named as the user typed it
    assert b"more than 0" in stderr
