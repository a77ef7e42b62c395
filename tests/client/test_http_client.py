"""StoryClient against the real reference server over loopback, and against scripted failures.

Most tests talk to the real reference server (``server`` fixture) and, for production's quirks, to
the production double over loopback. A scripted ``httpx.MockTransport`` is used only where neither
server can produce the case on demand (a 503 storm, a lost answer, an expired token); each such
test says so.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import pickle
import time
import traceback
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from production import ProductionDouble, start_production_double

from batchkit.client import Resend, RetryPolicy, Secret, StoryClient, parse_retry_after
from batchkit.config import BatchConfig, ServerOptions
from batchkit.contract import AutoModeConfig, BatchState, StoryInput
from batchkit.errors import (
    APIError,
    AuthError,
    ConfigError,
    FileRejected,
    NotFoundError,
    RateLimited,
    RequestRejected,
    RequestTimeout,
    ServerError,
    TransportError,
)
from batchkit.files import Document
from batchkit.server.launcher import EmbeddedServer

from .conftest import MIB, STATIC_TOKEN, USERS, FakeTime, MockClientFactory, Samples

OFF = AutoModeConfig(enabled=False)
STATUS = {
    "batchId": "b1",
    "status": "processing",
    "totalStories": 1,
    "completedStories": 0,
    "failedStories": 0,
    "progress": 0.0,
}
CREATED = {
    "success": True,
    "message": "ok",
    "data": {"batchId": "b1", "totalStories": 1, "autoMode": False, "jobId": "7"},
}
STORY_IN = [StoryInput(file_url="http://story.test/uploads/original/a.txt")]


def error(status: int, message: str | list[str], **headers: str) -> httpx.Response:
    body = {"statusCode": status, "message": message, "error": "Error"}
    return httpx.Response(status, json=body, headers=headers)


class Script:
    """A MockTransport handler: plays answers in order (the last repeats), records requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def lost(kind: type[httpx.TransportError]) -> httpx.TransportError:
    return kind("scripted failure")


# ---------------------------------------------------------------- retries (scripted)
# Why scripted: the reference server has no switch for "answer 503 three times, then 200".
async def test_a_503_storm_is_waited_out_honouring_retry_after(
    mock_client: MockClientFactory, fake_time: FakeTime
) -> None:
    script = Script(
        *[error(503, "busy", **{"Retry-After": "3"})] * 3, httpx.Response(200, json=STATUS)
    )
    async with mock_client(script) as client:
        status = await client.batch_status("b1")
    assert status.status is BatchState.PROCESSING
    assert len(script.requests) == 4
    assert fake_time.sleeps == [3.0, 3.0, 3.0]


async def test_without_retry_after_backoff_doubles_then_gives_up_with_the_servers_words(
    mock_client: MockClientFactory, fake_time: FakeTime
) -> None:
    script = Script(error(502, ["upstream down", "try later"]))
    async with mock_client(script) as client:
        with pytest.raises(ServerError) as raised:
            await client.story("s1")
    assert fake_time.sleeps == [0.5, 1.0, 2.0, 4.0], "full jitter's cap doubles each time"
    assert len(script.requests) == 5
    failure = raised.value
    assert (failure.status, failure.method) == (502, "GET")
    assert failure.url == "http://story.test/api/stories/s1"
    assert failure.server_message == "upstream down; try later"


async def test_a_retry_after_beyond_the_deadline_is_not_waited_for(
    mock_client: MockClientFactory, fake_time: FakeTime
) -> None:
    script = Script(error(429, "slow down", **{"Retry-After": "600"}))
    async with mock_client(script) as client:
        with pytest.raises(RateLimited) as raised:
            await client.batch_status("b1")
    assert raised.value.retry_after == 600
    assert len(script.requests) == 1
    assert fake_time.sleeps == []


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    now = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now=now) == 7
    assert (
        parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90
    )
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now=now) == 0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-4", now=now) is None


def test_full_jitter_waits_somewhere_between_zero_and_the_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    waits = [
        policy.delay(ServerError("x", status=503), resend=Resend.ALWAYS, attempt=4, elapsed=0)
        for _ in range(200)
    ]
    assert all(w is not None and 0 <= w <= 8.0 for w in waits)
    assert len(set(waits)) > 100, "the waits are spread, not synchronised"


# Why scripted: a refused connection and a lost answer cannot be ordered from a live server.
async def test_reads_are_resent_after_connection_errors(
    mock_client: MockClientFactory, fake_time: FakeTime
) -> None:
    script = Script(
        lost(httpx.ConnectError), lost(httpx.ReadError), httpx.Response(200, json=STATUS)
    )
    async with mock_client(script) as client:
        assert (await client.batch_status("b1")).batch_id == "b1"
    assert len(script.requests) == 3


@pytest.mark.parametrize(
    ("failure", "expected", "tries"),
    [
        (lost(httpx.ReadTimeout), RequestTimeout, 1),
        (lost(httpx.RemoteProtocolError), TransportError, 1),
        (error(503, "busy"), ServerError, 1),
        (lost(httpx.ConnectError), None, 2),
        (error(429, "later", **{"Retry-After": "1"}), None, 2),
    ],
)
async def test_generate_is_resent_only_when_the_server_surely_did_nothing(
    mock_client: MockClientFactory,
    failure: Exception | httpx.Response,
    expected: type[Exception] | None,
    tries: int,
) -> None:
    started = {"message": "queued", "jobId": 3, "autoMode": False}
    script = Script(failure, httpx.Response(201, json=started))
    async with mock_client(script) as client:
        if expected is None:
            assert (await client.generate("s1", "Again, darker.")).job_id == 3
        else:
            with pytest.raises(expected):
                await client.generate("s1", "Again, darker.")
    assert len(script.requests) == tries


async def test_a_create_is_retried_with_one_idempotency_key_and_a_new_create_gets_another(
    mock_client: MockClientFactory,
) -> None:
    # Why scripted: "the answer was lost after the server acted" cannot be ordered from a server.
    script = Script(lost(httpx.ReadTimeout), error(503, "busy"), httpx.Response(201, json=CREATED))
    async with mock_client(script) as client:
        assert (await client.create_batch(STORY_IN, OFF)).batch_id == "b1"
        await client.create_batch(STORY_IN, OFF)
    keys = [request.headers["Idempotency-Key"] for request in script.requests]
    assert len(keys) == 4
    assert keys[0] == keys[1] == keys[2] != keys[3]


@pytest.mark.parametrize(
    "failure", [lost(httpx.ReadTimeout), lost(httpx.RemoteProtocolError), error(500, "boom")]
)
async def test_against_production_a_create_that_may_have_arrived_is_never_resent(
    mock_client: MockClientFactory, failure: Exception | httpx.Response
) -> None:
    # Why scripted: the production double cannot lose an answer on demand either.
    script = Script(failure, httpx.Response(201, json=CREATED))
    async with mock_client(script, profile="production") as client:
        with pytest.raises((TransportError, ServerError)):
            await client.create_batch(STORY_IN, OFF)
    assert len(script.requests) == 1


async def test_against_production_a_create_that_never_connected_is_resent(
    mock_client: MockClientFactory,
) -> None:
    script = Script(lost(httpx.ConnectError), httpx.Response(201, json=CREATED))
    async with mock_client(script, profile="production") as client:
        await client.create_batch(STORY_IN, OFF, idempotency_key="mine-1")
    assert [r.headers["Idempotency-Key"] for r in script.requests] == ["mine-1", "mine-1"]


UPLOADED = {
    "files": [{"fileUrl": "u", "fileName": "a.txt", "fileSize": 6, "filePath": "p"}],
    "totalFiles": 1,
    "totalSize": 6,
}


@pytest.mark.parametrize(
    ("failure", "tries"), [(lost(httpx.ConnectError), 2), (lost(httpx.ReadTimeout), 1)]
)
async def test_an_upload_is_resent_only_if_it_never_connected(
    mock_client: MockClientFactory, failure: Exception, tries: int
) -> None:
    # Why scripted: a refused connection and a lost answer cannot be ordered from a live server.
    script = Script(failure, httpx.Response(201, json=UPLOADED))
    progress: list[tuple[int, int, int]] = []
    document = Document.from_bytes("a.txt", b"words\n")
    async with mock_client(script) as client:
        if tries == 2:
            await client.upload([document], on_progress=lambda *p: progress.append(p))
            assert progress == [(0, 6, 6), (0, 6, 6)], "the resent file is read again from 0"
        else:
            with pytest.raises(RequestTimeout):
                await client.upload([document])
    assert len(script.requests) == tries


# ---------------------------------------------------------------- tokens (scripted)
def login_answer(token: str) -> httpx.Response:
    user = {"_id": "u1", "username": "alice", "email": "", "fullName": "Alice", "role": "user"}
    body = {"accessToken": token, "refreshToken": "r", "expiresIn": 3600, "user": user}
    return httpx.Response(201, json=body)


class TokenServer:
    """Issues t1, t2, ... at login and accepts only the newest token, until :meth:`expire`.

    ``hold`` makes the server keep stale-token requests until that many are in flight, so a
    test can show they really overlapped.
    """

    def __init__(self, hold: int = 0) -> None:
        self.logins = 0
        self.valid: str | None = None
        self.paths: list[str] = []
        self.hold = hold
        self.stale: list[httpx.Request] = []
        self.all_stale = asyncio.Event()

    def expire(self) -> None:
        self.valid = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if request.url.path == "/api/auth/login":
            self.logins += 1
            self.valid = f"t{self.logins}"
            return login_answer(self.valid)
        if request.headers.get("Authorization") == f"Bearer {self.valid}":
            return httpx.Response(200, json=STATUS)
        self.stale.append(request)
        if len(self.stale) >= self.hold:
            self.all_stale.set()
        await asyncio.wait_for(self.all_stale.wait(), 5)
        return error(401, "Unauthorized")


# Why scripted: the reference server cannot expire a token on demand.
async def test_an_expired_token_means_one_new_login_even_for_many_requests_at_once(
    mock_client: MockClientFactory,
) -> None:
    server = TokenServer(hold=5)
    async with mock_client(server, token=None, username="alice", password="pw") as client:
        await client.login()
        server.expire()
        results = await asyncio.gather(*(client.batch_status("b1") for _ in range(5)))
    assert len(results) == 5
    assert len(server.stale) == 5, "all five were refused while in flight together"
    assert server.logins == 2, "the five 401s led to a single new login"
    assert client.token == "t2"


async def test_a_given_token_that_is_refused_is_an_auth_error_without_a_login(
    mock_client: MockClientFactory,
) -> None:
    server = TokenServer()
    async with mock_client(server) as client:
        with pytest.raises(AuthError) as raised:
            await client.batch_status("b1")
    assert raised.value.status == 401
    assert "/api/auth/login" not in server.paths


def jwt_with(claims: str) -> str:
    encoded = base64.urlsafe_b64encode(claims.encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{encoded}.c2ln"


async def test_a_token_past_its_exp_is_renewed_before_the_request_not_after_a_401(
    mock_client: MockClientFactory,
) -> None:
    stale = jwt_with(
        f'{{"sub": "u1", "iat": {int(time.time()) - 7200}, "exp": {int(time.time()) - 60}}}'
    )
    server = TokenServer()
    async with mock_client(server, token=stale, username="alice", password="pw") as client:
        await client.batch_status("b1")
    assert server.paths == ["/api/auth/login", "/api/stories/batch/b1/status"]


async def test_the_token_never_shows_in_reprs_errors_or_logs(
    mock_client: MockClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Why scripted: a server that echoes the token in its error message is a hostile case.
    caplog.set_level(logging.DEBUG)
    script = Script(error(401, f"token {STATIC_TOKEN} is not valid here"))
    async with mock_client(script) as client:
        assert client.token == STATIC_TOKEN, "the socket layer reads it from here"
        with pytest.raises(AuthError) as raised:
            await client.batch_status("b1")
        shown = [repr(client), str(client), f"{client}", str(raised.value), repr(raised.value)]
    shown += ["".join(traceback.format_exception(raised.value)), caplog.text]
    assert script.requests[0].headers["Authorization"] == f"Bearer {STATIC_TOKEN}"
    for text in shown:
        assert STATIC_TOKEN not in text
    assert "token ***" in str(raised.value)
    assert "Secret('***')" in repr(client)
    assert any(r.name == "batchkit.client" for r in caplog.records), "the client did log"


def test_a_secret_hides_itself_everywhere_but_reveal() -> None:
    secret = Secret("hunter2")
    assert repr(secret) == str(secret) == f"{secret}" == f"{secret:>5}".strip() == "Secret('***')"
    assert secret.reveal() == "hunter2"
    assert secret == Secret("hunter2") != Secret("other")
    assert secret.scrub("password hunter2!") == "password ***!"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)


# ---------------------------------------------------------------- errors and routes (scripted)
@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, RequestRejected),
        (413, RequestRejected),
        (415, RequestRejected),
        (422, RequestRejected),
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (429, RateLimited),
        (500, ServerError),
    ],
)
async def test_each_error_status_becomes_its_batchkit_error(
    mock_client: MockClientFactory, status: int, kind: type[APIError]
) -> None:
    async with mock_client(Script(error(status, "nope")), retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(kind) as raised:
            await client.generate("s1", "prompt")
    assert (raised.value.status, raised.value.server_message) == (status, "nope")
    assert (
        str(raised.value) == f"{status} from POST http://story.test/api/stories/s1/generate: nope"
    )


async def test_options_fall_back_to_the_builtin_lists_without_retrying(
    mock_client: MockClientFactory,
) -> None:
    script = Script(error(500, "Internal server error"))
    async with mock_client(script) as client:
        assert await client.options() == ServerOptions.builtin()
    assert len(script.requests) == 1
    async with mock_client(script, profile="production") as client:
        assert await client.options() == ServerOptions.builtin()
    assert len(script.requests) == 1, "production is known to answer 500: not even asked"


async def test_ids_stay_in_their_path_segment_and_a_broken_answer_is_named(
    mock_client: MockClientFactory,
) -> None:
    script = Script(httpx.Response(200, json={"unexpected": True}))
    async with mock_client(script) as client:
        with pytest.raises(APIError, match="does not match the contract"):
            await client.story("../auth/login")
        with pytest.raises(ConfigError, match="an id is required"):
            await client.story(" ")
        with pytest.raises(ConfigError, match="a prompt is required"):
            await client.generate("s1", "   ")
    assert script.requests[0].url.raw_path == b"/api/stories/..%2Fauth%2Flogin"


async def test_media_on_another_host_is_fetched_without_the_token(
    mock_client: MockClientFactory,
) -> None:
    script = Script(httpx.Response(200, content=b"RIFF...."))
    async with mock_client(script) as client:
        assert await client.fetch_media("/media/a.wav") == b"RIFF...."
        await client.fetch_media("https://cdn.example/a.wav")
    own, foreign = script.requests
    assert own.url == "http://story.test/media/a.wav"
    assert own.headers["Authorization"] == f"Bearer {STATIC_TOKEN}"
    assert "Authorization" not in foreign.headers


def test_settings_come_from_arguments_or_the_environment() -> None:
    env = {
        "BATCHKIT_URL": "http://story.example:3000/api/",
        "BATCHKIT_TOKEN": "Bearer abc.def.ghi",
        "BATCHKIT_PROFILE": "production",
        "BATCHKIT_UPLOAD_PATH": "/gateway/upload",
    }
    client = StoryClient(env=env)
    assert client.base_url == "http://story.example:3000"
    assert client.token == "abc.def.ghi"
    assert client.profile.name == "production"
    assert client.profile.upload_path == "/gateway/upload"
    # Credentials passed as arguments replace the environment's as a whole.
    chosen = StoryClient("http://h", username="bob", password="pw", env=env)
    assert chosen.token is None
    for arguments, message in [
        ({}, "base_url: none given: pass base_url= or set BATCHKIT_URL"),
        ({"base_url": "ftp://h"}, "is not an http:// or https:// URL"),
        ({"base_url": "http://h"}, "credentials: none given: pass token=, or username= and"),
        ({"base_url": "http://h", "username": "bob"}, "a username needs a password"),
    ]:
        with pytest.raises(ConfigError, match=message):
            StoryClient(**arguments, env={})  # type: ignore[arg-type]


def test_a_config_error_names_settings_as_python_does_or_as_a_front_end_asks() -> None:
    error = ConfigError(
        "none given: pass {token} ({untouched})", field="credentials", mentions=["token"]
    )
    assert str(error) == "credentials: none given: pass token= ({untouched})"
    flags = {"token": "--token", "credentials": "login"}
    assert error.worded(flags) == "login: none given: pass --token ({untouched})"
    assert ConfigError("plain").worded(flags) == "plain"


# ---------------------------------------------------------------- the real reference server
async def test_login_names_the_user_and_a_wrong_password_is_an_auth_error(
    server: EmbeddedServer, client: StoryClient
) -> None:
    user = await client.login()
    assert user.username == "alice"
    assert client.token
    assert client.token not in repr(client)
    async with StoryClient(server.url, username="alice", password="wrong", env={}) as intruder:
        with pytest.raises(AuthError) as raised:
            await intruder.login()
    assert raised.value.status == 401
    assert raised.value.url.endswith("/api/auth/login")


async def test_verify_credentials_refuses_a_bad_token_and_accepts_a_good_one(
    server: EmbeddedServer, client: StoryClient
) -> None:
    await client.verify_credentials()  # logs in first, then the server accepts the token
    assert client.token
    async with StoryClient(server.url, token="forged.token.value", env={}) as forged:
        with pytest.raises(AuthError) as raised:
            await forged.verify_credentials()
    assert raised.value.status == 401


async def test_real_files_upload_with_progress_reaching_every_byte(
    client: StoryClient, samples: Samples
) -> None:
    paths = [
        samples.docx("Chapter 1.docx", "The tide came in.", "The keeper woke."),
        samples.text("notes.txt", 5_000),
        samples.doc("old.doc"),
        samples.text("big.txt", 10 * MIB),
    ]
    seen: dict[int, list[tuple[int, int]]] = {}
    uploaded = await client.upload(
        [Document.from_path(p) for p in paths],
        on_progress=lambda i, sent, total: seen.setdefault(i, []).append((sent, total)),
    )
    sizes = [p.stat().st_size for p in paths]
    assert [f.file_name for f in uploaded.files] == [p.name for p in paths]
    assert [f.file_size for f in uploaded.files] == sizes
    assert uploaded.total_size == sum(sizes)
    for index, size in enumerate(sizes):
        sent = [s for s, _ in seen[index]]
        assert sent == sorted(sent)
        assert seen[index][-1] == (size, size), "progress reaches 100 %"
    assert len(seen[3]) >= 10 * MIB // (64 * 1024), "the big file went in 64 KiB chunks"
    assert await client.fetch_media(uploaded.files[0].file_url) == paths[0].read_bytes()


async def test_a_crashing_progress_display_does_not_stop_the_upload(
    client: StoryClient, samples: Samples, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def broken(index: int, sent: int, total: int) -> None:
        calls.append(sent)
        raise ZeroDivisionError("widget bug")

    uploaded = await client.upload([Document.from_path(samples.text("a.txt", 300_000))], broken)
    assert uploaded.files[0].file_size == 300_000
    assert len(calls) == 1, "a callback that failed is not called again"
    assert "upload progress callback failed" in caplog.text


async def test_a_file_cut_short_during_its_upload_is_rejected_by_name(
    client: StoryClient, samples: Samples
) -> None:
    path = samples.text("shrinking.txt", 1 * MIB)

    def truncate(index: int, sent: int, total: int) -> None:
        if sent < total:
            path.write_bytes(b"gone")

    with pytest.raises(FileRejected, match=r"^shrinking\.txt: became shorter while it was being"):
        await client.upload([Document.from_path(path)], truncate)
    assert await client.options()  # the client is still usable afterwards


async def test_uploading_10_mib_does_not_hold_10_mib_in_memory(
    client: StoryClient, samples: Samples
) -> None:
    big = Document.from_path(samples.text("big.txt", 10 * MIB))
    await client.login()
    tracemalloc.start()
    try:
        await client.upload([big])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The server runs in this process too, so this peak is client and server together.
    assert peak < 3 * MIB, f"uploading 10 MiB allocated a peak of {peak / MIB:.1f} MiB"


@pytest.mark.parametrize(
    ("files", "status", "words"),
    [
        ([("huge.txt", 10 * MIB + 1)], 413, "10"),
        ([("paper.pdf", 100)], 415, "pdf"),
        ([(f"s{i}.txt", 10) for i in range(11)], 400, "10"),
    ],
    ids=["too-large", "bad-extension", "too-many"],
)
async def test_the_servers_refusals_arrive_as_request_rejected_with_its_message(
    client: StoryClient,
    samples: Samples,
    files: list[tuple[str, int]],
    status: int,
    words: str,
) -> None:
    documents = [Document.from_path(samples.text(name, size)) for name, size in files]
    with pytest.raises(FileRejected):
        await client.upload(documents)  # the client's own check refuses first
    with pytest.raises(RequestRejected) as raised:
        await client.upload(documents, check=False)  # so that the server's check is seen
    assert raised.value.status == status
    assert words in raised.value.server_message.lower()
    assert raised.value.method == "POST"
    assert raised.value.url.endswith("/api/stories/batch-upload")


@pytest.fixture
async def batch_of_two(client: StoryClient, samples: Samples) -> str:
    uploaded = await client.upload(
        [Document.from_path(samples.text("a.txt")), Document.from_path(samples.docx("b.docx"))]
    )
    config = BatchConfig(generate_images=False, generate_audio=False, titles={"b.docx": "Bee"})
    created = await client.create_batch(config.story_inputs(uploaded.files), config.to_auto_mode())
    assert created.total_stories == 2
    return created.batch_id


async def wait_for_end(client: StoryClient, batch_id: str, within: float = 10.0) -> Any:
    """Poll the status until the batch has ended (a condition with a deadline)."""
    deadline = time.monotonic() + within
    while True:
        status = await client.batch_status(batch_id)
        if status.status in (BatchState.COMPLETED, BatchState.FAILED):
            return status
        assert time.monotonic() < deadline, f"batch still {status.status} after {within} s"
        await asyncio.sleep(0.05)


async def test_status_story_generate_and_options_on_the_real_server(
    client: StoryClient, batch_of_two: str
) -> None:
    status = await wait_for_end(client, batch_of_two)
    assert status.status is BatchState.COMPLETED
    assert status.results is not None
    assert [r.file_name for r in status.results] == ["a.txt", "b.docx"]
    story = await client.story(status.story_ids[1])
    assert story.title == "Bee"
    assert story.status.story_generated
    again = await client.generate(story.id, "Tell it from the sea's side.")
    assert again.job_id
    options = await client.options()
    assert options.from_server
    assert "Achird" in options.audio_voices


async def test_another_users_ids_are_not_found(
    client: StoryClient, bob: StoryClient, batch_of_two: str
) -> None:
    status = await wait_for_end(client, batch_of_two)
    with pytest.raises(NotFoundError):
        await bob.batch_status(batch_of_two)
    with pytest.raises(NotFoundError):
        await bob.story(status.story_ids[0])
    with pytest.raises(NotFoundError):
        await bob.generate(status.story_ids[0], "Mine now.")


async def test_the_same_idempotency_key_gives_the_same_batch(
    client: StoryClient, samples: Samples
) -> None:
    uploaded = await client.upload([Document.from_path(samples.text("a.txt"))])
    stories = BatchConfig().story_inputs(uploaded.files)
    first = await client.create_batch(stories, OFF, idempotency_key="run-42")
    second = await client.create_batch(stories, OFF, idempotency_key="run-42")
    other = await client.create_batch(stories, OFF)
    assert first.batch_id == second.batch_id != other.batch_id


class LoseFirstAnswer(httpx.AsyncBaseTransport):
    """Forwards to the real server, then loses the first answer to a create on the way back."""

    def __init__(self) -> None:
        self.real = httpx.AsyncHTTPTransport()
        self.lost_batch: str | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.real.handle_async_request(request)
        if request.url.path.endswith("/batch-create") and self.lost_batch is None:
            await response.aread()
            self.lost_batch = response.json()["data"]["batchId"]
            raise httpx.ReadTimeout("answer lost on the way back", request=request)
        return response

    async def aclose(self) -> None:
        await self.real.aclose()


async def test_a_create_whose_answer_was_lost_is_retried_into_the_same_batch(
    server: EmbeddedServer, samples: Samples
) -> None:
    # The loss is simulated (no server can lose its own answer); the deduplication is real.
    transport = LoseFirstAnswer()
    settings: dict[str, Any] = {"username": "alice", "password": USERS["alice"], "env": {}}
    fast = RetryPolicy(base_delay=0.01)
    async with StoryClient(server.url, transport=transport, retry=fast, **settings) as client:
        uploaded = await client.upload([Document.from_path(samples.text("a.txt"))])
        created = await client.create_batch(BatchConfig().story_inputs(uploaded.files), OFF)
    assert transport.lost_batch is not None
    assert created.batch_id == transport.lost_batch


# ---------------------------------------------------------------- the production double
@pytest.fixture
def production() -> Iterator[ProductionDouble]:
    with start_production_double(users={"prod": "prod-pw"}) as double:
        yield double


@pytest.fixture
async def prod_client(production: ProductionDouble) -> AsyncIterator[StoryClient]:
    async with StoryClient(
        production.url,
        username="prod",
        password="prod-pw",
        profile="production",
        retry=RetryPolicy(base_delay=0.01),
        env={},
    ) as client:
        yield client


async def test_against_production_uploads_go_to_its_path_and_10_mib_stops_at_the_client(
    prod_client: StoryClient, production: ProductionDouble, samples: Samples
) -> None:
    exactly = Document.from_path(samples.text("exactly.txt", 10 * MIB))
    with pytest.raises(FileRejected, match="smaller than 10 MiB"):
        await prod_client.upload([exactly])
    uploaded = await prod_client.upload([Document.from_path(samples.text("a.txt"))])
    assert uploaded.files[0].file_name == "a.txt"
    created = await prod_client.create_batch(BatchConfig().story_inputs(uploaded.files), OFF)
    assert production.batches_created == 1
    assert (await prod_client.batch_status(created.batch_id)).batch_id == created.batch_id


async def test_against_production_an_unknown_id_is_not_found_not_a_server_error(
    prod_client: StoryClient,
) -> None:
    with pytest.raises(NotFoundError, match="not found or not yours") as raised:
        await prod_client.story("0123456789abcdef01234567")
    assert raised.value.status == 500
    assert await prod_client.options() == ServerOptions.builtin()
    await prod_client.verify_credentials()  # production's 500 there still means "token accepted"
