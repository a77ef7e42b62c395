"""``batchkit serve`` as a user runs it: a real process, its output, a login, a clean stop."""

from __future__ import annotations

import asyncio
import re
import signal
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from help_text import options_without_a_default

from .conftest import TIMEOUT, login

LISTENING = re.compile(r"^batchkit server listening on (http://127\.0\.0\.1:\d+)$")
DEMO = re.compile(r"^batchkit serve: user 'demo', password (\S+) \(kept in (.+)\)$")


async def _serve(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "batchkit.cli",
        "serve",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _lines(process: asyncio.subprocess.Process) -> AsyncIterator[str]:
    assert process.stdout is not None
    while line := await process.stdout.readline():
        yield line.decode().rstrip("\n")


async def _read_until_listening(process: asyncio.subprocess.Process) -> tuple[str, list[str]]:
    seen: list[str] = []
    async with asyncio.timeout(TIMEOUT):
        async for line in _lines(process):
            seen.append(line)
            if match := LISTENING.match(line):
                return match.group(1), seen
    raise AssertionError(f"the server never said it was listening: {seen}")


async def _login(url: str, username: str, password: str) -> int:
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        return response.status_code


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_serve_prints_its_url_accepts_logins_and_stops_cleanly(
    tmp_path: Path, stop: signal.Signals
) -> None:
    process = await _serve("--data-dir", str(tmp_path / "data"), "--user", "erin:erin-pw")
    try:
        url, _ = await _read_until_listening(process)
        assert await _login(url, "erin", "erin-pw") == 201
        assert await _login(url, "erin", "wrong") == 401
        process.send_signal(stop)
        async with asyncio.timeout(TIMEOUT):
            code = await process.wait()
        assert code == 0
        assert process.stderr is not None
        assert b"Traceback" not in await process.stderr.read()
        assert (tmp_path / "data" / "batchkit.sqlite3").is_file()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _demo_login(data_dir: Path) -> tuple[str, Path]:
    """Start ``serve`` without users on ``data_dir``: the demo password it printed and its file,
    once a login with it has worked; the server is stopped again."""
    process = await _serve("--data-dir", str(data_dir), "--pace", "0.1")
    try:
        url, seen = await _read_until_listening(process)
        found = [m for line in seen if (m := DEMO.match(line))]
        assert len(found) == 1, seen
        password, kept_in = found[0].group(1), Path(found[0].group(2))
        assert await _login(url, "demo", password) == 201
        process.terminate()
        async with asyncio.timeout(TIMEOUT):
            assert await process.wait() == 0
        return password, kept_in
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_serve_without_users_creates_demo_and_prints_its_password(tmp_path: Path) -> None:
    password, kept_in = await _demo_login(tmp_path / "data")
    assert kept_in == (tmp_path / "data" / "demo-password").resolve()
    assert kept_in.read_text() == password
    assert stat.S_IMODE(kept_in.stat().st_mode) == 0o600  # the owner's alone


async def test_a_restart_on_the_same_data_dir_keeps_the_demo_password(tmp_path: Path) -> None:
    first, _ = await _demo_login(tmp_path / "data")
    again, _ = await _demo_login(tmp_path / "data")  # logs in with what it printed
    assert again == first
    elsewhere, _ = await _demo_login(tmp_path / "other")
    assert elsewhere != first  # each data directory has its own


async def test_serve_refuses_bad_options_with_a_message_naming_the_flag(tmp_path: Path) -> None:
    process = await _serve("--data-dir", str(tmp_path), "--fail-rate", "images=2")
    async with asyncio.timeout(TIMEOUT):
        _, stderr = await process.communicate()
    assert process.returncode == 2  # a usage error, as argparse's own
    assert b"batchkit serve: --fail-rate: images=2.0 is not a probability" in stderr
    assert not (tmp_path / "demo-password").exists()  # refused before anything was made


def test_serve_help_shows_every_default() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "batchkit.cli", "serve", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert options_without_a_default(result.stdout) == []
    for default in ("127.0.0.1", "8000", "./batchkit-data", "demo-password"):
        assert default in result.stdout


async def test_serve_refuses_a_work_limit_of_zero_naming_it(tmp_path: Path) -> None:
    process = await _serve("--data-dir", str(tmp_path), "--max-chunks-per-step", "0")
    async with asyncio.timeout(TIMEOUT):
        _, stderr = await process.communicate()
    assert process.returncode == 2  # a usage error, named by its flag
    assert b"--max-chunks-per-step: 0 must be more than 0" in stderr


async def test_serve_applies_its_work_limits_to_the_stories_it_runs(tmp_path: Path) -> None:
    """``--max-story-words 50``: a story of 120 words fails, naming the limit."""
    process = await _serve("--data-dir", str(tmp_path), "--user", "erin:erin-pw",
                           "--max-story-words", "50")  # fmt: skip
    try:
        url, _ = await _read_until_listening(process)
        api = await login(url, "erin", "erin-pw")
        try:
            urls = await api.upload_texts(1, words=120)
            batch_id = (await api.create_batch(urls))["data"]["batchId"]
            [result] = (await api.wait_for_status(batch_id))["results"]
        finally:
            await api.http.aclose()
        assert result["status"] == "failed"
        assert "the limit is 50 words a story (max_story_words)" in result["error"]
    finally:
        process.terminate()
        await process.wait()
