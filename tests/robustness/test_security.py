"""Secrets stay secret and users stay apart, checked over whole runs against the real server.

Tokens and passwords must never show in a repr, a log record (every logger at DEBUG), a saved run
or an exception message; one user can never read, follow or attach to another user's batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from session.conftest import USERS, write_texts

from batchkit.client import StoryClient
from batchkit.config import BatchConfig
from batchkit.contract import LoginResponse, SocketError
from batchkit.contract.events import ServerEvent
from batchkit.errors import AuthError, BatchkitError, NotFoundError
from batchkit.events import EventStream
from batchkit.runs import CONFIG_FILE, EVENTS_FILE, FILES_CSV, FILES_PARQUET
from batchkit.server import EmbeddedServer, start_embedded_server
from batchkit.session import BatchSession, StoryService, attach, open_service
from batchkit.tracker import BatchRun

from .conftest import FAST, login, until, wait_for_runs

SMALL = BatchConfig(generate_audio=False, words_per_chunk_image=50)
# Every logger that could see a request, a socket packet or a login, at its most talkative.
NOISY_LOGGERS = (
    "batchkit",
    "httpx",
    "httpcore",
    "socketio",
    "socketio.client",
    "socketio.server",
    "engineio",
    "engineio.client",
    "engineio.server",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "asyncio",
)


def secrets_of(server: EmbeddedServer, *clients: StoryClient) -> dict[str, str]:
    """What must never leak: passwords, access tokens and the server's signing key."""
    found = {f"password of {user}": password for user, password in USERS.items()}
    found["jwt signing key"] = (server.data_dir / "jwt-secret").read_text().strip()
    for client in clients:
        assert client.token, "log in first"
        who = client.user.username if client.user else "?"
        found[f"token of {who}"] = client.token
        # A JWT's header is the same for every token: its signature is what must not show,
        # not even the end of it that a truncating logger keeps.
        signature = client.token.rsplit(".", 1)[-1]
        found[f"signature of {who}'s token"] = signature
        found[f"end of {who}'s token signature"] = signature[-16:]
    return found


def assert_nothing_leaks(text: str, secrets: dict[str, str], where: str) -> None:
    for name, value in secrets.items():
        assert value not in text, f"the {name} shows in {where}"


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record of :data:`NOISY_LOGGERS` at DEBUG, including loggers that do not propagate
    (uvicorn's). Must be taken after the server started: uvicorn resets its levels on start."""
    caplog.set_level(logging.DEBUG)
    for name in NOISY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    silent = [logging.getLogger(n) for n in NOISY_LOGGERS if not logging.getLogger(n).propagate]
    for logger in silent:
        logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        for logger in silent:
            logger.removeHandler(caplog.handler)


def everything_logged_by(record: logging.LogRecord) -> str:
    """A record's message, arguments and traceback, as a formatter would write them."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return formatter.format(record) + repr(record.args)


# ---------------------------------------------------------------- reprs
async def test_no_repr_shows_a_secret(
    server: EmbeddedServer, alice: StoryClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await http.post(
            "/api/auth/login", json={"username": "alice", "password": USERS["alice"]}
        )
    login_response = LoginResponse.model_validate(answer.json())
    stream = EventStream(server.url, lambda: alice.token or "", on_events=lambda burst: None)
    session = BatchSession(alice, follow=FAST)
    monkeypatch.delenv("BATCHKIT_URL", raising=False)
    service = await open_service()  # starts its own embedded server, with a random password
    try:
        assert service.embedded is not None
        secrets = {
            **secrets_of(server, alice),
            "refresh token": login_response.refresh_token,
            "token from the login answer": login_response.access_token,
            "embedded password": service.embedded.credentials.password,
            "embedded token": service.client.token or "",
        }
        for thing in (
            alice,
            stream,
            session,
            service,
            StoryService(alice, server),
            server,
            server.settings,
            server.credentials,
            service.embedded,
            login_response,
        ):
            for shown in (repr(thing), str(thing), f"{thing}", f"{thing!r:>10}"):
                assert_nothing_leaks(shown, secrets, f"the repr of {type(thing).__name__}")
    finally:
        await service.aclose()


# ---------------------------------------------------------------- logs and saved runs
async def test_a_whole_run_writes_no_secret_to_logs_or_disk(
    server: EmbeddedServer, every_log: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    async with login(server, "alice") as client:
        session = BatchSession(client, follow=FAST, runs_dir=tmp_path / "runs")
        run = await session.run_batch(write_texts(tmp_path / "docs", 2, 120), SMALL)
        # Followed a second time: attach, rooms joined again, every story read once more.
        again = await attach(client, run.batch_ids[0], run_dir=session.run_dir, follow=FAST)
        await again.wait()
        secrets = secrets_of(server, client)

    assert (run.files["status"] == "completed").all()
    for record in every_log.records:
        shown = everything_logged_by(record)
        assert_nothing_leaks(shown, secrets, f"a record of {record.name}: {shown[:300]!r}")
    logged = "\n".join(everything_logged_by(record) for record in every_log.records)
    # The capture must have seen the run from all sides, or it proves nothing.
    loggers = {record.name.split(".")[0] for record in every_log.records}
    assert {"batchkit", "httpx", "engineio", "socketio", "uvicorn"} <= loggers, loggers
    assert_nothing_leaks(logged, secrets, "the logs")
    assert session.run_dir is not None
    for name in (EVENTS_FILE, CONFIG_FILE, FILES_CSV, FILES_PARQUET):
        saved = (session.run_dir / name).read_bytes().decode("utf-8", "replace")
        assert_nothing_leaks(saved, secrets, f"the saved {name}")


# ---------------------------------------------------------------- exception messages
async def test_error_messages_carry_no_secret(server: EmbeddedServer, alice: StoryClient) -> None:
    secrets = secrets_of(server, alice)
    token = alice.token or ""
    errors: list[BatchkitError] = []

    async with StoryClient(server.url, username="alice", password="wrong-pw-123", env={}) as c:
        with pytest.raises(AuthError) as wrong_password:
            await c.login()
        errors.append(wrong_password.value)
    secrets["wrong password"] = "wrong-pw-123"
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    async with StoryClient(server.url, token=forged, env={}) as c:
        with pytest.raises(AuthError) as forged_token:
            await c.batch_status("0" * 24)
        errors.append(forged_token.value)
    secrets["forged token"] = forged
    with pytest.raises(NotFoundError) as token_in_query:
        await alice.fetch_media(f"/api/media/{'0' * 24}/image_000.png?token={token}")
    errors.append(token_in_query.value)
    stream = EventStream(server.url, lambda: forged, on_events=lambda burst: None)
    with pytest.raises(AuthError) as refused_socket:
        await stream.connect()
    await stream.close()
    errors.append(refused_socket.value)

    for error in errors:
        for shown in (str(error), repr(error), str(error.args)):
            assert_nothing_leaks(shown, secrets, f"a {type(error).__name__}")


# ---------------------------------------------------------------- one user, one's own
async def test_bob_can_neither_read_nor_follow_alices_batch(tmp_path: Path) -> None:
    with start_embedded_server(
        data_dir=tmp_path / "srv", users=USERS, workers=2, pace=0.05
    ) as server:
        async with login(server, "alice") as alice, login(server, "bob") as bob:
            await bob.login()
            await asyncio.to_thread(server.hold_batches)  # bob knocks before any event of hers
            session = BatchSession(alice, follow=FAST)
            run = await session.start(write_texts(tmp_path / "a", 2, 200), SMALL)
            await wait_for_runs([run], lambda: bool(run.batch_ids))

            seen: list[ServerEvent] = []
            spy = EventStream(
                server.url,
                lambda: bob.token or "",
                on_events=lambda burst: seen.extend(event for event, _at in burst),
            )
            async with spy:
                alive_while_refused = await knock_on_her_rooms(server, spy, run, seen)
                await follow_his_own_batch(bob, spy, seen, tmp_path)
                await asyncio.wait_for(session.wait(), 60)

            assert alive_while_refused, "her batch must be running while bob knocks"
            codes = sorted(e.code for e in seen if isinstance(e, SocketError))
            assert codes == ["BATCH_NOT_FOUND", "STORY_NOT_FOUND", "STORY_NOT_FOUND"]
            hers = [e for e in seen if event_of(e, run.batch_ids, list(run.story_ids))]
            assert hers == [], f"bob heard {len(hers)} of alice's events"
            await assert_bob_reads_nothing_of_hers(alice, bob, run)


async def knock_on_her_rooms(
    server: EmbeddedServer, spy: EventStream, run: BatchRun, seen: list[ServerEvent]
) -> bool:
    """Bob asks for alice's batch room, then for each of her story rooms as they appear;
    returns whether her batch was still running when the last refusal came."""
    await spy.join_batch(run.batch_ids[0])
    await until(lambda: refusals(seen) >= 1)
    await asyncio.to_thread(server.release_batches)
    await wait_for_runs([run], lambda: len(run.story_ids) == 2)
    for story_id in run.story_ids:
        await spy.join_story(story_id)
    await until(lambda: refusals(seen) >= 3)
    return not run.done


async def follow_his_own_batch(
    bob: StoryClient, spy: EventStream, seen: list[ServerEvent], tmp_path: Path
) -> None:
    """Bob's own batch, on the same socket, must be heard: the spy was listening all along."""
    session = BatchSession(bob, follow=FAST)
    own = await session.start(write_texts(tmp_path / "b", 1, 60), BatchConfig(generate_audio=False))
    await wait_for_runs([own], lambda: bool(own.batch_ids))
    await spy.join_batch(own.batch_ids[0])
    await asyncio.wait_for(session.wait(), 60)
    await until(lambda: any(event_of(e, own.batch_ids, []) for e in seen))


async def assert_bob_reads_nothing_of_hers(
    alice: StoryClient, bob: StoryClient, run: BatchRun
) -> None:
    batch_id, story_id = run.batch_ids[0], next(iter(run.story_ids))
    for read in (
        lambda: bob.batch_status(batch_id),
        lambda: bob.story(story_id),
        lambda: bob.generate(story_id, "Mine now."),
        lambda: attach(bob, batch_id, follow=FAST),
    ):
        with pytest.raises(NotFoundError):
            await read()
    story = await alice.story(story_id)
    assert story.media is not None
    for url in (story.media.images[0].url, str(run.files.at[0, "file_url"])):
        with pytest.raises(NotFoundError):
            await bob.fetch_media(url)
        assert await alice.fetch_media(url), "her own media must stay hers to read"


def refusals(events: list[ServerEvent]) -> int:
    return sum(isinstance(event, SocketError) for event in events)


def event_of(event: ServerEvent, batch_ids: Sequence[str], story_ids: Sequence[str]) -> bool:
    """True for an event about one of these batches or stories (a refusal is about none)."""
    if isinstance(event, SocketError):
        return False
    batch_id, story_id = getattr(event, "batch_id", None), getattr(event, "story_id", None)
    return batch_id in batch_ids or story_id in story_ids
