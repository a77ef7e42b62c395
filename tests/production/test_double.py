"""The production double really reproduces production's quirks (section 7 of the contract).

Everything here is real: the double's uvicorn server over loopback, plain httpx, a real
python-socketio ``AsyncClient`` and, for the one wire-level check, a raw websocket. Waits are on
events and conditions with deadlines; the double runs with pace 0 unless a test is about pace.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import jwt
import pytest
import socketio
import websockets

from batchkit.contract import (
    MAX_FILE_BYTES,
    BatchCreateResponse,
    BatchStatusResponse,
    ErrorBody,
    EventName,
    LoginResponse,
    StoryFlags,
    StoryResponse,
    UploadResponse,
)

from . import ProductionDouble, start_production_double

USERS = {"prod": "prod-pw", "other": "other-pw"}
INTERNAL_ERROR = {"statusCode": 500, "message": "Internal server error"}
WAIT = 5.0
ALL_ON = {"enabled": True, "generateImages": True, "generateAudio": True, "mergeAudio": True}


# ---------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def prod() -> Iterator[ProductionDouble]:
    with start_production_double(users=USERS) as double:
        yield double


async def login(base_url: str, username: str = "prod") -> str:
    async with httpx.AsyncClient(base_url=base_url) as anonymous:
        answer = await anonymous.post(
            "/api/auth/login", json={"username": username, "password": USERS[username]}
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["accessToken"])


@pytest.fixture
async def http(prod: ProductionDouble) -> AsyncIterator[httpx.AsyncClient]:
    token = await login(prod.url)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=prod.url, headers=headers, timeout=WAIT) as client:
        yield client


async def upload(http: httpx.AsyncClient, *files: tuple[str, bytes]) -> list[str]:
    answer = await http.post("/api/file-upload/batch-upload", files=[("files", f) for f in files])
    assert answer.status_code == 201, answer.text
    return [f.file_url for f in UploadResponse.model_validate(answer.json()).files]


async def create_batch(http: httpx.AsyncClient, urls: list[str], auto: dict[str, Any]) -> str:
    body = {"stories": [{"fileUrl": u} for u in urls], "autoMode": auto}
    answer = await http.post("/api/stories/batch-create", json=body)
    assert answer.status_code == 201, answer.text
    return BatchCreateResponse.model_validate(answer.json()).data.batch_id


async def status_of(http: httpx.AsyncClient, batch_id: str) -> dict[str, Any]:
    answer = await http.get(f"/api/stories/batch/{batch_id}/status")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def poll_status(
    http: httpx.AsyncClient, batch_id: str, until: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll the status (what a client must do against production) until ``until`` holds."""
    deadline = time.monotonic() + WAIT
    while not until(body := await status_of(http, batch_id)):
        assert time.monotonic() < deadline, f"status never matched; last: {body}"
        await asyncio.sleep(0.01)  # poll interval of a condition, not synchronisation
    return body


async def finished_batch(prod: ProductionDouble, http: httpx.AsyncClient, *texts: bytes) -> str:
    urls = await upload(http, *[(f"doc{i}.txt", t) for i, t in enumerate(texts)])
    batch_id = await create_batch(http, urls, ALL_ON)
    await prod.wait_idle()
    return batch_id


class Listener:
    """A real socket.io client that records every event and lets a test wait for one."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.connect_errors: list[Any] = []
        self.disconnects: list[str] = []
        self._changed = asyncio.Condition()
        self.sio.on("*", self._on_event)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("disconnect", self._on_disconnect)

    async def _note(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _on_event(self, name: str, data: Any) -> None:
        self.events.append((name, data))
        await self._note()

    async def _on_connect_error(self, data: Any) -> None:
        self.connect_errors.append(data)
        await self._note()

    async def _on_disconnect(self, reason: str) -> None:
        self.disconnects.append(reason)
        await self._note()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), WAIT)

    async def next_event(self, name: str, **fields: Any) -> dict[str, Any]:
        def match() -> dict[str, Any] | None:
            hits = [d for n, d in self.events if n == name and fields.items() <= d.items()]
            return hits[0] if hits else None

        await self.wait_until(lambda: match() is not None)
        found = match()
        assert found is not None
        return found

    def names(self) -> list[str]:
        return [n for n, _ in self.events]


@pytest.fixture
async def listener(prod: ProductionDouble) -> AsyncIterator[Listener]:
    token = await login(prod.url)
    client = Listener()
    await client.sio.connect(prod.url, auth={"token": token}, transports=["websocket"])
    yield client
    await client.sio.disconnect()


# ---------------------------------------------------------------- 1. auth
async def test_login_returns_a_real_jwt_and_a_meaningless_expires_in(
    prod: ProductionDouble,
) -> None:
    async with httpx.AsyncClient(base_url=prod.url) as client:
        answer = await client.post(
            "/api/auth/login", json={"username": "prod", "password": "prod-pw"}
        )
    assert answer.status_code == 201
    body = LoginResponse.model_validate(answer.json())
    assert body.token_type == "Bearer"
    assert body.expires_in == "7d"
    claims = jwt.decode(body.access_token, options={"verify_signature": False})
    assert 3500 < claims["exp"] - time.time() <= 3600  # the real lifetime: one hour, not 7 days
    assert len(body.user.id) == 24
    assert int(body.user.id, 16) >= 0
    assert body.user.username == "prod"


async def test_wrong_password_is_401_with_a_nest_error_body(prod: ProductionDouble) -> None:
    async with httpx.AsyncClient(base_url=prod.url) as client:
        answer = await client.post("/api/auth/login", json={"username": "prod", "password": "no"})
    assert answer.status_code == 401
    error = ErrorBody.model_validate(answer.json())
    assert (error.status_code, error.error) == (401, "Unauthorized")


async def test_refreshed_tokens_fail_while_the_login_token_works(prod: ProductionDouble) -> None:
    async with httpx.AsyncClient(base_url=prod.url) as client:
        tokens = (
            await client.post("/api/auth/login", json={"username": "prod", "password": "prod-pw"})
        ).json()
        refreshed = await client.post(
            "/api/auth/refresh", json={"refreshToken": tokens["refreshToken"]}
        )
        assert refreshed.status_code == 201
        files = [("files", ("a.txt", b"words"))]
        good = {"Authorization": f"Bearer {tokens['accessToken']}"}
        bad = {"Authorization": f"Bearer {refreshed.json()['accessToken']}"}
        ok = await client.post("/api/file-upload/batch-upload", headers=good, files=files)
        refused = await client.post("/api/file-upload/batch-upload", headers=bad, files=files)
    assert ok.status_code == 201
    assert refused.status_code == 401


# ---------------------------------------------------------------- upload
async def test_upload_answers_201_in_order_and_serves_the_originals(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.post(
        "/api/file-upload/batch-upload",
        files=[("files", ("Zeta.TXT", b"one two")), ("files", ("alpha.docx", b"PK\x03\x04"))],
    )
    assert answer.status_code == 201
    body = UploadResponse.model_validate(answer.json())
    assert [f.file_name for f in body.files] == ["Zeta.TXT", "alpha.docx"]
    assert (body.total_files, body.total_size) == (2, 11)
    first = body.files[0]
    assert first.file_path.startswith("uploads/original/Zeta_")
    assert first.file_url == f"{http.base_url}".rstrip("/") + "/" + first.file_path
    assert (await http.get(f"/{first.file_path}")).content == b"one two"


async def test_the_contract_upload_path_is_404_in_production(http: httpx.AsyncClient) -> None:
    answer = await http.post("/api/stories/batch-upload", files=[("files", ("a.txt", b"x"))])
    assert answer.status_code == 404
    assert answer.json()["error"] == "Not Found"


async def test_a_file_of_exactly_10_mib_is_400_and_one_byte_less_passes(
    http: httpx.AsyncClient,
) -> None:
    at_limit = await http.post(
        "/api/file-upload/batch-upload", files=[("files", ("big.txt", b"a" * MAX_FILE_BYTES))]
    )
    below = await http.post(
        "/api/file-upload/batch-upload",
        files=[("files", ("big.txt", b"a" * (MAX_FILE_BYTES - 1)))],
    )
    assert at_limit.status_code == 400
    assert below.status_code == 201


async def test_a_bad_extension_is_a_bare_500(http: httpx.AsyncClient) -> None:
    answer = await http.post("/api/file-upload/batch-upload", files=[("files", ("a.pdf", b"%PDF"))])
    assert answer.status_code == 500
    assert answer.json() == INTERNAL_ERROR


@pytest.mark.parametrize(
    "request_parts",
    [
        pytest.param(
            {
                "content": b"--b--\r\n",
                "headers": {"Content-Type": "multipart/form-data; boundary=b"},
            },
            id="no-file",
        ),
        pytest.param({"files": [("files", (f"{i}.txt", b"x")) for i in range(11)]}, id="11-files"),
        pytest.param({"files": [("file", ("a.txt", b"x"))]}, id="other-field"),
    ],
)
async def test_upload_shape_errors_are_400(
    http: httpx.AsyncClient, request_parts: dict[str, Any]
) -> None:
    answer = await http.post("/api/file-upload/batch-upload", **request_parts)
    assert answer.status_code == 400
    assert ErrorBody.model_validate(answer.json()).error == "Bad Request"


# ---------------------------------------------------------------- batch create
@pytest.mark.parametrize(
    "auto",
    [
        pytest.param(None, id="autoMode-missing"),
        pytest.param({"enabled": True, "imageStyle": "oil-painting"}, id="oil-painting"),
        pytest.param({"enabled": True, "imageStyle": "digital-art"}, id="digital-art"),
        pytest.param({"enabled": True, "wordPerChunkAudio": 49}, id="audio-words-49"),
        pytest.param({"enabled": True, "wordPerChunkAudio": 2001}, id="audio-words-2001"),
    ],
)
async def test_batch_create_crashes_with_500(
    prod: ProductionDouble, http: httpx.AsyncClient, auto: dict[str, Any] | None
) -> None:
    [url] = await upload(http, ("a.txt", b"words"))
    body: dict[str, Any] = {"stories": [{"fileUrl": url}]}
    if auto is not None:
        body["autoMode"] = auto
    before = prod.batches_created
    answer = await http.post("/api/stories/batch-create", json=body)
    assert (answer.status_code, answer.json()) == (500, INTERNAL_ERROR)
    assert prod.batches_created == before


async def test_unknown_fields_are_400_and_checked_before_the_500s(http: httpx.AsyncClient) -> None:
    [url] = await upload(http, ("a.txt", b"words"))
    nested = {"stories": [{"fileUrl": url, "colour": "red"}], "autoMode": {"enabled": False}}
    # autoMode is missing too: the DTO's 400 wins over the service's 500.
    top = {"stories": [{"fileUrl": url}], "priority": 1}
    for body, expected in [(nested, "stories.0.property colour"), (top, "property priority")]:
        answer = await http.post("/api/stories/batch-create", json=body)
        assert answer.status_code == 400
        assert any(expected in m for m in answer.json()["message"]), answer.json()


async def test_batch_create_ignores_the_idempotency_key(
    prod: ProductionDouble, http: httpx.AsyncClient
) -> None:
    [url] = await upload(http, ("a.txt", b"words"))
    body = {"stories": [{"fileUrl": url}], "autoMode": {"enabled": False}}
    headers = {"Idempotency-Key": "same-key-twice"}
    before = prod.batches_created
    first = await http.post("/api/stories/batch-create", json=body, headers=headers)
    second = await http.post("/api/stories/batch-create", json=body, headers=headers)
    ids = [BatchCreateResponse.model_validate(a.json()).data for a in (first, second)]
    assert ids[0].batch_id != ids[1].batch_id
    assert prod.batches_created == before + 2
    assert all(str(d.job_id).isdecimal() and len(d.batch_id) == 24 for d in ids)


# ---------------------------------------------------------------- batch status
async def test_status_counts_records_only_after_the_loop_and_progress_runs_ahead(
    prod: ProductionDouble, http: httpx.AsyncClient
) -> None:
    urls = await upload(http, ("a.txt", b"one"), ("b.txt", b"two"))
    prod.limit_records(1)  # hold the loop just before it creates the second (last) record
    try:
        batch_id = await create_batch(http, urls, {"enabled": False})
        mid = await poll_status(http, batch_id, lambda s: len(s["storyIds"]) == 1)
    finally:
        prod.limit_records(None)
    assert mid["progress"] == 100  # the last record has only *started*
    assert (mid["completedStories"], mid["failedStories"], mid["status"]) == (0, 0, "processing")
    assert "results" not in mid
    await prod.wait_idle()
    done = await status_of(http, batch_id)
    assert (done["completedStories"], done["status"]) == (2, "completed")
    assert done["storyIds"] == prod.story_ids(batch_id)
    assert BatchStatusResponse.model_validate(done).results is None


async def test_status_errors_stay_empty_and_a_failed_story_counts_as_completed(
    prod: ProductionDouble, http: httpx.AsyncClient
) -> None:
    batch_id = await finished_batch(prod, http, b"a fine story", b"FAIL")
    status = await status_of(http, batch_id)
    assert (status["completedStories"], status["failedStories"], status["errors"]) == (2, 0, [])
    failed = prod.story_events(status["storyIds"][1])
    assert EventName.STORY_ERROR in [e.name for e in failed]


async def test_status_is_500_for_unknown_foreign_and_malformed_ids(
    prod: ProductionDouble, http: httpx.AsyncClient
) -> None:
    batch_id = await finished_batch(prod, http, b"mine")
    other = {"Authorization": f"Bearer {await login(prod.url, 'other')}"}
    for path, headers in [
        (f"/api/stories/batch/{batch_id}/status", other),
        ("/api/stories/batch/0123456789abcdef01234567/status", None),
        ("/api/stories/batch/not-an-id/status", None),
    ]:
        answer = await http.get(path, headers=headers)
        assert (answer.status_code, answer.json()) == (500, INTERNAL_ERROR), path


# ---------------------------------------------------------------- stories
async def test_options_is_caught_by_the_story_route_and_500s(http: httpx.AsyncClient) -> None:
    answer = await http.get("/api/stories/options")
    assert (answer.status_code, answer.json()) == (500, INTERNAL_ERROR)


async def test_a_story_has_no_ext_fields_and_bad_ids_are_500(
    prod: ProductionDouble, http: httpx.AsyncClient
) -> None:
    batch_id = await finished_batch(prod, http, b"once upon a time")
    [story_id] = prod.story_ids(batch_id)
    body = (await http.get(f"/api/stories/{story_id}")).json()
    story = StoryResponse.model_validate(body)
    assert "media" not in body
    assert "audioMerged" not in body["status"]
    assert story.generated_content == "once upon a time"
    assert story.status == StoryFlags(
        story_generated=True, images_generated=True, audio_generated=True
    )
    other = {"Authorization": f"Bearer {await login(prod.url, 'other')}"}
    for path, headers in [
        (f"/api/stories/{story_id}", other),
        ("/api/stories/0123456789abcdef01234567", None),
        ("/api/stories/nope", None),
    ]:
        answer = await http.get(path, headers=headers)
        assert (answer.status_code, answer.json()) == (500, INTERNAL_ERROR), path


async def test_generate_needs_a_custom_prompt_and_a_known_story(
    prod: ProductionDouble, http: httpx.AsyncClient
) -> None:
    batch_id = await finished_batch(prod, http, b"a story")
    [story_id] = prod.story_ids(batch_id)
    empty = await http.post(f"/api/stories/{story_id}/generate", json={"customPrompt": ""})
    unknown = await http.post(
        "/api/stories/0123456789abcdef01234567/generate", json={"customPrompt": "again"}
    )
    assert empty.status_code == 400
    assert (unknown.status_code, unknown.json()) == (500, INTERNAL_ERROR)
    before = len(prod.story_events(story_id))
    again = await http.post(f"/api/stories/{story_id}/generate", json={"customPrompt": "again"})
    assert again.status_code == 201
    assert again.json()["autoMode"] is False
    await prod.wait_idle()
    assert len(prod.story_events(story_id)) > before  # the story step ran again


# ---------------------------------------------------------------- socket.io
async def test_join_batch_room_gets_no_reply_and_batch_events_never_arrive(
    prod: ProductionDouble, http: httpx.AsyncClient, listener: Listener
) -> None:
    [url] = await upload(http, ("a.txt", b"words"))
    prod.limit_records(0)  # hold the batch so that all its events come after the join
    try:
        batch_id = await create_batch(http, [url], ALL_ON)
        await listener.sio.emit("join-batch-room", {"batchId": batch_id})
        # A round trip: once its answer is back, the server has read the join before it.
        await listener.sio.emit("join-story-room", {"storyId": "barrier"})
        await listener.next_event(EventName.EXCEPTION)
    finally:
        prod.limit_records(None)
    await prod.wait_idle()
    sent = [e.name for e in prod.batch_events(batch_id)]
    assert sent[0] == EventName.BATCH_START
    assert sent[-1] == EventName.BATCH_COMPLETE
    [story_id] = prod.story_ids(batch_id)
    await listener.sio.emit("join-story-room", {"storyId": story_id})
    await listener.next_event(EventName.JOINED_STORY, storyId=story_id)
    received = listener.names()
    assert EventName.JOINED_BATCH not in received
    assert not [n for n in received if n.startswith("batch-stories-")]


@pytest.mark.parametrize("token", [None, "garbage", "refreshed"])
async def test_a_socket_without_a_valid_token_is_accepted_then_disconnected(
    prod: ProductionDouble, token: str | None
) -> None:
    if token == "refreshed":
        async with httpx.AsyncClient(base_url=prod.url) as anonymous:
            first = await anonymous.post(
                "/api/auth/login", json={"username": "prod", "password": "prod-pw"}
            )
            again = await anonymous.post(
                "/api/auth/refresh", json={"refreshToken": first.json()["refreshToken"]}
            )
        token = again.json()["accessToken"]
    client = Listener()
    # connect() returns normally: the namespace *was* connected, no connect_error is raised.
    await client.sio.connect(prod.url, auth={"token": token} if token else None, wait_timeout=WAIT)
    await client.wait_until(lambda: bool(client.disconnects))
    assert client.disconnects == [client.sio.reason.SERVER_DISCONNECT]
    assert client.connect_errors == []


async def test_on_the_wire_a_refused_socket_gets_connect_then_disconnect(
    prod: ProductionDouble,
) -> None:
    # A raw websocket, to see the packets themselves: CONNECT (40), then DISCONNECT (41),
    # never CONNECT_ERROR (44).
    url = prod.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(url) as raw:
        assert str(await asyncio.wait_for(raw.recv(), WAIT)).startswith("0{")
        await raw.send("40")
        first = str(await asyncio.wait_for(raw.recv(), WAIT))
        second = str(await asyncio.wait_for(raw.recv(), WAIT))
    assert first.startswith("40{")
    assert second.startswith("41")


@pytest.mark.parametrize("where", ["query", "auth"])
async def test_the_token_is_read_from_the_query_or_from_auth(
    prod: ProductionDouble, http: httpx.AsyncClient, where: str
) -> None:
    batch_id = await finished_batch(prod, http, b"a story")
    [story_id] = prod.story_ids(batch_id)
    token = await login(prod.url)
    client = Listener()
    if where == "query":
        await client.sio.connect(f"{prod.url}?token={token}", transports=["websocket"])
    else:
        await client.sio.connect(prod.url, auth={"token": token}, transports=["websocket"])
    try:
        await client.sio.emit("join-story-room", {"storyId": story_id})
        joined = await client.next_event(EventName.JOINED_STORY)
    finally:
        await client.sio.disconnect()
    assert joined["story"]["status"]["audioGenerated"] is True
    assert client.disconnects == [client.sio.reason.CLIENT_DISCONNECT]


async def test_joining_a_foreign_story_gets_an_exception_event(
    prod: ProductionDouble, http: httpx.AsyncClient
) -> None:
    batch_id = await finished_batch(prod, http, b"a story")
    [story_id] = prod.story_ids(batch_id)
    stranger = Listener()
    other_token = await login(prod.url, "other")
    await stranger.sio.connect(prod.url, auth={"token": other_token}, transports=["websocket"])
    try:
        await stranger.sio.emit("join-story-room", {"storyId": story_id})
        refusal = await stranger.next_event(EventName.EXCEPTION)
    finally:
        await stranger.sio.disconnect()
    assert refusal["status"] == "error"
    assert refusal["message"]
    assert refusal["cause"] == {"pattern": "join-story-room", "data": {"storyId": story_id}}


async def test_the_first_story_events_fire_before_anyone_can_join(
    prod: ProductionDouble, http: httpx.AsyncClient, listener: Listener
) -> None:
    batch_id = await finished_batch(prod, http, b"a short story")
    [story_id] = prod.story_ids(batch_id)
    sent = prod.story_events(story_id)
    assert sent[0].name == EventName.STORY_START
    # auto-mode-complete means "queued": the step had not run when it was sent.
    completes = {e.payload["step"]: e.flags for e in sent if e.name == EventName.AUTO_COMPLETE}
    assert completes["images"] is not None
    assert not completes["images"].images_generated
    assert completes["audio"] is not None
    assert not completes["audio"].audio_generated
    await listener.sio.emit("join-story-room", {"storyId": story_id})
    joined = await listener.next_event(EventName.JOINED_STORY)
    assert joined["story"]["status"]["storyGenerated"] is True
    assert listener.names() == [EventName.JOINED_STORY]  # the story's events are long gone


async def test_regenerate_streams_progress_zero_no_merge_and_flags_flip(
    prod: ProductionDouble, http: httpx.AsyncClient, listener: Listener
) -> None:
    batch_id = await finished_batch(prod, http, b"the lighthouse keeper slept")
    [story_id] = prod.story_ids(batch_id)
    await listener.sio.emit("join-story-room", {"storyId": story_id})
    await listener.next_event(EventName.JOINED_STORY)
    history_before = len(prod.flag_history(story_id))
    body = {"customPrompt": "again", "autoMode": ALL_ON}
    assert (await http.post(f"/api/stories/{story_id}/generate", json=body)).status_code == 201
    await listener.next_event(EventName.AUTO_COMPLETE, step="audio")
    await prod.wait_idle()
    names = listener.names()[1:]
    assert names[0] == EventName.STORY_START
    complete = await listener.next_event(EventName.STORY_COMPLETE)
    assert complete["generatedContent"] == "the lighthouse keeper slept"
    assert "seq" not in complete
    progress = [d for n, d in listener.events if n == EventName.AUTO_PROGRESS]
    assert [(d["step"], d["progress"]) for d in progress] == [("images", 0), ("audio", 0)]
    assert all(d.get("step") != "merge" for _, d in listener.events)
    audio_flags = [f.audio_generated for f in prod.flag_history(story_id)[history_before:]]
    assert audio_flags == [True, False, True]  # story done, images replace flags, audio done


async def test_pace_spreads_a_story_step_over_time() -> None:
    with start_production_double(pace=0.05) as slow:
        token = await login(slow.url)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=slow.url, headers=headers) as http:
            batch_id = await finished_batch(slow, http, b"slowly now")
            [story_id] = slow.story_ids(batch_id)
    stamps = {
        e.name: datetime.fromisoformat(e.payload["timestamp"]) for e in slow.story_events(story_id)
    }
    taken = stamps[EventName.STORY_COMPLETE] - stamps[EventName.STORY_START]
    assert taken.total_seconds() >= 0.05


async def test_a_crashed_batch_is_retried_and_duplicates_its_stories() -> None:
    with start_production_double(crash_batches=1) as crashy:
        token = await login(crashy.url)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=crashy.url, headers=headers) as http:
            urls = await upload(http, ("a.txt", b"first"), ("b.txt", b"second"))
            crashed = await create_batch(http, urls, {"enabled": False})
            await crashy.wait_idle()
            clean = await create_batch(http, urls, {"enabled": False})
            await crashy.wait_idle()
            status = await status_of(http, crashed)
            titles = [
                (await http.get(f"/api/stories/{i}")).json()["title"] for i in status["storyIds"]
            ]
    assert status["totalStories"] == 2
    assert titles == ["Story 1", "Story 1", "Story 2"]  # one record made twice
    starts = [e for e in crashy.batch_events(crashed) if e.name == EventName.BATCH_START]
    assert len(starts) == 2
    assert len(crashy.story_ids(clean)) == 2  # only the first batch crashes


async def test_drop_connections_disconnects_every_socket(
    prod: ProductionDouble, listener: Listener
) -> None:
    assert prod.connected_sockets >= 1
    assert prod.drop_connections() >= 1
    await listener.wait_until(lambda: bool(listener.disconnects))
    assert listener.disconnects == [listener.sio.reason.SERVER_DISCONNECT]
    assert prod.connected_sockets == 0


# ---------------------------------------------------------------- behaviours the truth tests use
async def test_a_crashed_batch_reads_failed_until_it_is_run_again() -> None:
    with start_production_double(crash_batches=1, retry_backoff=0.5) as crashy:
        token = await login(crashy.url)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=crashy.url, headers=headers) as http:
            urls = await upload(http, ("a.txt", b"first"), ("b.txt", b"second"))
            batch_id = await create_batch(http, urls, {"enabled": False})
            seen = [
                (await poll_status(http, batch_id, lambda s: s["status"] == "failed"))["status"]
            ]
            await crashy.wait_idle()
            seen.append((await status_of(http, batch_id))["status"])
    assert seen == ["failed", "completed"]


async def test_a_restart_that_forgets_answers_batch_job_not_found_and_refuses_old_tokens() -> None:
    with start_production_double() as double:
        token = await login(double.url)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=double.url, headers=headers) as http:
            urls = await upload(http, ("a.txt", b"a story"))
            batch_id = await create_batch(http, urls, {"enabled": False})
            await double.wait_idle()
            [story_id] = double.story_ids(batch_id)
            double.forget()
            assert (await http.get(f"/api/stories/batch/{batch_id}/status")).status_code == 401
            fresh = {"Authorization": f"Bearer {await login(double.url)}"}
            lost = await http.get(f"/api/stories/batch/{batch_id}/status", headers=fresh)
            gone = await http.get(f"/api/stories/{story_id}", headers=fresh)
        listener = Listener()
        await listener.sio.connect(
            double.url, auth={"token": fresh["Authorization"][7:]}, transports=["websocket"]
        )
        try:
            await listener.sio.emit("join-story-room", {"storyId": story_id})
            refusal = await listener.next_event("error")
        finally:
            await listener.sio.disconnect()
    assert (lost.status_code, lost.json()["message"]) == (500, "Batch job not found")
    assert (gone.status_code, gone.json()["message"]) == (500, "Internal server error")
    assert refusal["code"] == "STORY_NOT_FOUND"
    assert double.batches_created == 0


async def test_a_server_that_keeps_dropping_sockets_drops_each_one_after_connecting(
    prod: ProductionDouble,
) -> None:
    prod.drop_sockets_after(0.05)
    try:
        token = await login(prod.url)
        for _ in range(2):  # a valid token, accepted, then dropped by the server each time
            listener = Listener()
            await listener.sio.connect(prod.url, auth={"token": token}, transports=["websocket"])
            await listener.wait_until(lambda heard=listener: bool(heard.disconnects))
            assert listener.disconnects == [listener.sio.reason.SERVER_DISCONNECT]
    finally:
        prod.drop_sockets_after(None)


async def test_heartbeats_naive_times_and_slow_files() -> None:
    with start_production_double(
        pace=0.0, step_seconds=0.6, heartbeat=0.1, naive_times=True, slow_for=0.3
    ) as double:
        token = await login(double.url)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=double.url, headers=headers) as client:
            urls = await upload(client, ("slow.txt", b"SLOW and steady"))
            # Before the request: the double may start its work before the reply arrives, so a
            # clock started after it could see less than the work's 0.9 s (it saw 0.8996).
            started = time.monotonic()
            batch_id = await create_batch(
                client, urls, {"enabled": True, "generateImages": False, "mergeAudio": False}
            )
            await double.wait_idle()
            took = time.monotonic() - started
            [story_id] = double.story_ids(batch_id)
    events = double.story_events(story_id)
    beats = [e for e in events if e.name == EventName.AUTO_PROGRESS]
    assert len(beats) >= 2  # the queue's 0 %, then heartbeats every 0.1 s of the 0.6 s of work
    assert all(e.payload["progress"] == 0 for e in beats)
    stamp = events[0].payload["timestamp"]
    assert datetime.fromisoformat(stamp).tzinfo is None  # no offset: ISO-8601 allows it
    assert took >= 0.9  # slow_for (0.3 s) before the story, then the audio step's 0.6 s
